"""Request bodies, loaded once from the spec's payload files and encoded for REST or gRPC."""
