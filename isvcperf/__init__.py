"""isvcperf: does this InferenceService meet its service-level objectives under this load?"""

__version__ = "0.1.0"
