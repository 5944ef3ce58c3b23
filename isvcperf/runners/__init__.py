"""Runners: where the Plan's Locust processes run (this machine, or Kubernetes pods)."""
