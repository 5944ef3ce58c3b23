"""`python -m isvcperf` runs the CLI."""

import sys

from isvcperf.cli import main

sys.exit(main())
