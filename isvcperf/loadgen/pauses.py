"""Fewer pauses of the worker process itself, asked for when its test starts.

An open-loop send is only as punctual as the worker process is running: the pacer
(loadgen.pacing) wakes within tens of microseconds of its deadline, but a wake-up that
finds the CPU taken waits for it, and the arrivals due meanwhile go out together when the
worker runs again. On the 2-vCPU benchmark machine such waits (gaps during which the
worker used under 30% of a CPU) made 86–96% of the variance of the gaps between sends;
the worker's own greenlets (its snapshot each second, ~0.6 ms at 4,000 req/s, and Locust's
stats report every 3 s, ~0.5 ms) about 5% (benchmarks/README.md §5). Two requests cut the
pauses at their source:

- **a short scheduler slice** for the pacing thread. From Linux 6.12 a thread may ask the
  EEVDF scheduler for its own slice (`sched_setattr` with `sched_runtime`, no privilege
  needed, kept within 0.1–100 ms), and a thread with a shorter slice than the one running
  preempts it when it wakes instead of waiting for that one's slice (1.4 ms by default
  here) to run out. The worker sleeps between sends and runs for microseconds, the pattern
  short slices are for. Older kernels ignore the request; where the call is missing or
  refused (another OS or machine, a seccomp profile) nothing changes;
- **the start-up heap frozen** out of the garbage collector (`gc.freeze()`). A worker holds
  ~55,000 objects from importing Locust, Flask and their kin; a full collection walks them
  all and paused the worker 13–17 ms (~30 arrivals at 2,000 req/s, then sent together).
  Frozen, a full collection sees only what the run itself made (0.01 ms).

ISVCPERF_SLICE_US sets the slice in microseconds; 0 leaves the kernel's default (what
benchmarks/pacing.py compares against).
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import struct

from isvcperf.util.errors import SpecError

SLICE_ENV = "ISVCPERF_SLICE_US"
SHORT_SLICE_US = 100
"""The shortest slice the kernel grants (0.1 ms): the pacing thread runs for microseconds at a time."""
MAX_SLICE_US = 100_000
_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}
"""sched_setattr, sched_getattr by machine (the C library has no wrapper for them)."""
_ATTR = struct.Struct("IIQiIQQQII")
"""struct sched_attr, version 1: size, policy, flags, nice, priority, runtime, deadline, period, util min/max."""
_RUNTIME = 5
"""sched_runtime's place in it: the slice, for the normal scheduler."""


def configured_slice() -> int:
    """The slice ISVCPERF_SLICE_US asks for, in microseconds (0: the kernel's default).

    The CLI calls this before it starts anything, so a wrong value is one line and exit 2.
    """
    text = os.environ.get(SLICE_ENV, "").strip()
    if not text:
        return SHORT_SLICE_US
    if not text.isdigit() or not (int(text) == 0 or SHORT_SLICE_US <= int(text) <= MAX_SLICE_US):
        raise SpecError(SLICE_ENV, f"{text!r} is not a slice; give microseconds from {SHORT_SLICE_US} to "
                                   f"{MAX_SLICE_US}, 0 for the kernel's default, or leave it unset "
                                   f"for {SHORT_SLICE_US}")
    return int(text)


def _syscall(index: int, *args: object) -> bool:
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(numbers[index], *args) == 0


def _attributes() -> list[int] | None:
    """The calling thread's struct sched_attr as the kernel reports it, or None where it cannot."""
    attr = ctypes.create_string_buffer(_ATTR.size)
    return list(_ATTR.unpack(attr.raw)) if _syscall(1, 0, attr, _ATTR.size, 0) else None


def request_slice(microseconds: int) -> bool:
    """Ask for a scheduler slice of `microseconds` for the calling thread (0: the kernel's default);
    whether the kernel took the request.

    Only the slice changes: the thread keeps its policy, nice value and priority, so a worker
    someone started at real-time priority (`chrt`) is not moved back to the normal scheduler
    (which has no slice to ask for: the kernel ignores it there).
    """
    attributes = _attributes()
    if attributes is None:
        return False
    attributes[0], attributes[_RUNTIME] = _ATTR.size, microseconds * 1000
    return _syscall(0, 0, ctypes.create_string_buffer(_ATTR.pack(*attributes), _ATTR.size), 0)


def current_slice_ns() -> int | None:
    """The calling thread's scheduler slice in nanoseconds as the kernel reports it, or None where it cannot."""
    attributes = _attributes()
    return None if attributes is None else attributes[_RUNTIME]


def freeze_heap() -> None:
    """Collect what start-up left, then keep every object alive now out of later collections."""
    gc.collect()
    gc.freeze()


def before_load(open_loop: bool) -> None:
    """On a worker, when its test starts and before its users spawn: freeze the heap and, in open
    loop, ask for the short slice for this thread (the one the arrival greenlet paces on)."""
    freeze_heap()
    if open_loop and os.name == "posix":
        request_slice(configured_slice())
