"""Error examples keep their head and tail: a server's traceback names the exception last."""

from __future__ import annotations

import time

from isvcperf.loadgen.recorder import EXAMPLE_CHARS, Recorder
from isvcperf.util.clip import clip, clip_bytes

TRACEBACK = ("Traceback (most recent call last):\n" + '  File "/srv/mlserver/handlers.py", line 42, in infer\n' * 60
             + "ValueError: X has 3 features, but LogisticRegression is expecting 4 features as input.")


def test_short_text_is_kept_whole() -> None:
    assert clip("HTTP 500", 100) == "HTTP 500"
    assert clip_bytes(b"short", 100) == "short"


def test_long_text_keeps_head_and_tail_within_the_limit() -> None:
    cut = clip(TRACEBACK, 300)
    assert len(cut) <= 300
    assert cut.startswith("Traceback (most recent call last):")
    assert cut.endswith("expecting 4 features as input.")
    assert f"[{len(TRACEBACK)} chars, middle cut]" in cut


def test_a_body_is_cut_in_bytes_and_decoded_at_both_ends() -> None:
    body = TRACEBACK.encode() + "é".encode()
    cut = clip_bytes(body, EXAMPLE_CHARS)
    assert len(cut) <= EXAMPLE_CHARS and cut.endswith("as input.é") and f"[{len(body)} bytes" in cut


def test_the_error_group_keeps_the_exception_at_the_end() -> None:
    recorder = Recorder()
    now = time.perf_counter()
    recorder.record(now, now, now + 0.01, "HTTP 500", clip_bytes(TRACEBACK.encode(), EXAMPLE_CHARS))
    recorder.record(now, now, now + 0.01, "Timeout", "x" * (3 * EXAMPLE_CHARS))
    groups = recorder.snapshot()["errorGroups"]
    assert groups["HTTP 500"][1].endswith("LogisticRegression is expecting 4 features as input.")
    assert len(groups["Timeout"][1]) <= EXAMPLE_CHARS
