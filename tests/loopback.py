"""A real HTTP server on loopback for tests whose target is a small stdlib handler."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a background thread; yields the base URL, stops it after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # keep-alive connections must not block shutdown
    # A short poll interval so shutdown() returns in milliseconds, not the default 0.5 s.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=handler.__name__, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
