"""Is the target ready for load: HTTP health and model URLs, gRPC ServerReady/ModelReady, an InferenceService's Ready condition."""
