"""The SSE reader, the HTTP client's body sink and the judging of an answer, on bytes as servers send them."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from isvcperf.loadgen.http1 import Connection, Endpoint, encode_request
from isvcperf.loadgen.sse import StreamReader, judge


def frame(content: str | None = None, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    choices = [] if content is None and finish is None else [{"index": 0, "delta": {"content": content},
                                                              "finish_reason": finish}]
    chunk: dict[str, object] = {"choices": choices}
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


STREAM = (b": ping\n\n" + b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}\n\n'
          + frame("a") + frame("b") + frame("c", finish="length") + frame(usage={"completion_tokens": 3,
                                                                                 "prompt_tokens": 5})
          + b"data: [DONE]\n\n")


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(STREAM)])
def test_frames_split_anywhere_across_chunks_read_the_same(size: int) -> None:
    reader = StreamReader()
    for at in range(0, len(STREAM), size):
        reader.feed(STREAM[at:at + size])
    reader.close()
    assert len(reader.times) == 3  # the role-only frame, the ping and the usage frame are not tokens
    assert reader.done and reader.finish_reason == "length"
    assert reader.usage == {"completion_tokens": 3, "prompt_tokens": 5}
    assert judge(reader, True, 3) == (3, True, None)


def test_crlf_events_and_a_last_event_without_its_blank_line() -> None:
    reader = StreamReader()
    reader.feed(STREAM.replace(b"\n", b"\r\n")[:-4])  # ends "data: [DONE]" with no blank line
    reader.close()
    assert len(reader.times) == 3 and reader.done


def test_truncations_are_named() -> None:
    no_done = StreamReader()
    no_done.feed(frame("a") + frame("b", finish="length"))
    assert judge(no_done, True, None) == (2, False, "truncated stream: no [DONE]")
    interrupted = StreamReader()  # llama-cpp-python's interrupted stream: one frame, then [DONE]
    interrupted.feed(frame("a") + b"data: [DONE]\n\n")
    assert judge(interrupted, True, None)[2] == "truncated stream: no finish_reason"
    short = StreamReader()
    short.feed(frame("a") + frame("b", finish="stop") + b"data: [DONE]\n\n")
    assert judge(short, True, 4) == (2, False, "truncated stream: fewer tokens than max_tokens")
    assert judge(short, True, None) == (2, False, None)
    failed = StreamReader()
    failed.feed(b'data: {"error": {"message": "out of memory"}}\n\n')
    assert judge(failed, True, None)[2] == "stream error" and failed.error == "out of memory"


def test_a_whole_answer_counts_usage() -> None:
    reader = StreamReader()
    reader.whole(json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                             "usage": {"completion_tokens": 7}}).encode())
    assert judge(reader, False, None) == (7, True, None)


def test_the_sink_gets_each_chunk_as_it_arrives_and_the_connection_is_reused() -> None:
    """A chunked stream over a real socket: the sink sees every chunk, exchange returns b"", and the
    next request on the same connection works (nothing of the first answer is left behind)."""
    chunks = [b"data: 1\n\n", b"data: 2\n", b"\ndata: [DONE]\n\n"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n" + body
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            for _ in range(2):
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    endpoint = Endpoint.from_url(f"http://127.0.0.1:{port}/v1/completions")
    connection = Connection(endpoint, timeout=5)
    request = encode_request(endpoint, "GET", {}, b"")
    for _ in range(2):
        pieces: list[bytes] = []
        assert connection.exchange(request, sink=pieces.append) == (200, b"")
        assert pieces == chunks
    connection.close()
    thread.join(5)
    server.close()
