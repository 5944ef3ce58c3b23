"""Load stages: piecewise-linear targets over the measured window (k6's ramping executors).

Each stage ramps linearly from where the previous one ended (or the start value) to its
own target over its duration: `[{duration: 30s, rate: 100}, {duration: 2m, rate: 100}]`
ramps to 100 req/s, then holds. A schedule is either of rates (open loop; the arrival
greenlets follow it) or of users (closed loop; Locust's LoadTestShape follows it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """Stage ends (seconds from the window's start) and targets, starting from `start`."""

    durations: tuple[float, ...]
    targets: tuple[float, ...]
    start: float = 0.0

    @property
    def ends(self) -> list[float]:
        out, t = [], 0.0
        for duration in self.durations:
            t += duration
            out.append(t)
        return out

    @property
    def total(self) -> float:
        return sum(self.durations)

    def value_at(self, t: float) -> float:
        """The target at `t` seconds into the window (the first target before, the last after)."""
        if t < 0:
            return self.targets[0]
        begin, previous = 0.0, self.start
        for duration, target in zip(self.durations, self.targets, strict=True):
            if t < begin + duration:
                return previous + (target - previous) * (t - begin) / duration
            begin, previous = begin + duration, target
        return self.targets[-1]
