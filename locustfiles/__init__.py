"""Locustfiles shipped with isvcperf (installed with the package so every runner finds them)."""
