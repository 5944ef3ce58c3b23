"""The process topology of a run: the Locust master's and workers' command lines and configs."""
