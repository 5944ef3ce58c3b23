"""SLO evaluation: pure, reading metrics only (like k6's thresholds).

`upper` holds when value ≤ limit, `lower` when value ≥ limit; a metric that was not
measured (no successful response, say) does not satisfy anything, so an empty run can
never pass.
"""

from __future__ import annotations

from isvcperf.results.result import SLOVerdict
from isvcperf.spec.model import SLO


def evaluate(slos: dict[str, SLO], metrics: dict[str, float]) -> list[SLOVerdict]:
    """One verdict per SLO, in the spec's order."""
    verdicts = []
    for name, slo in slos.items():
        value = metrics.get(name)
        satisfied = (
            value is not None
            and (slo.upper is None or value <= slo.upper)
            and (slo.lower is None or value >= slo.lower)
        )
        verdicts.append(SLOVerdict(metric=name, value=value, satisfied=satisfied, upper=slo.upper, lower=slo.lower))
    return verdicts
