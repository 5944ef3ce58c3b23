"""`python -m isvcperf` runs the CLI."""

import sys

from isvcperf.cli.main import main

sys.exit(main())
