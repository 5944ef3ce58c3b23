"""One run (or a sweep of runs) from readiness to result, and following it while it goes."""
