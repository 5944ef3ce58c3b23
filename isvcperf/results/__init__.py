"""What a run measured and what it means: the Result, metrics, analysis, SLO verdicts and comparisons."""
