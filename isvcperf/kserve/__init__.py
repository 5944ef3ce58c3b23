"""What isvcperf knows of KServe's own conventions: the URL layout of its inference protocols."""
