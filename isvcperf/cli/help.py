"""What every command's help shares: the exit-code contract and the formatter that keeps
the epilogs' and examples' line breaks."""

from __future__ import annotations

import argparse

FORMATTER = argparse.RawDescriptionHelpFormatter

EPILOG = """\
exit codes (every command):
  0    ran, and every SLO holds
  1    ran, and an SLO (or an assert condition) failed
  2    bad input: spec, flags, payload
  3    could not run: target not ready in time, workers did not connect, port taken
  130  interrupted (what was measured is still written)
"""
