"""Small pieces every stage shares: errors and exit codes, durations, TLS, ${VAR} expansion, JSON paths."""
