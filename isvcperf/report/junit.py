"""The JUnit XML report: one test case per SLO, so CI systems list each SLO as a test, and one
for the measurement's validity.

A failed SLO is a `<failure>` whose message carries the value and the limit; a run that
could not run is an `<error>` on the `run` case, an interrupted one a `<failure>` there.
Built with ElementTree so every attribute and text is escaped, and server text is
flattened first (XML 1.0 cannot hold most control characters at all).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from isvcperf.report.safe_text import oneline
from isvcperf.results.validity import line

SUITE = "isvcperf"


def render_junit(view: dict[str, Any]) -> str:
    """The JUnit document for a report view (see isvcperf.report.render.view)."""
    result = view["result"]
    cases: list[ET.Element] = [_run_case(result, view)]
    for slo in view["slos"]:
        case = ET.Element("testcase", name=f"{slo.metric} {slo.limit}", classname=f"{SUITE}.{oneline(result.name)}.slo")
        if not slo.satisfied:
            margin = f", margin {slo.margin}" if slo.margin else ""
            message = f"{slo.metric} = {slo.value}, limit {slo.limit}{margin}"
            ET.SubElement(case, "failure", message=message, type="SLONotSatisfied").text = message
        cases.append(case)
    cases.append(_validity_case(result, view["validity"]))

    def tally(tag: str) -> str:
        return str(sum(case.find(tag) is not None for case in cases))

    counts = {"tests": str(len(cases)), "failures": tally("failure"), "errors": tally("error"),
              "skipped": tally("skipped")}
    suites = ET.Element("testsuites", name=SUITE, **counts, time=f"{result.measured_seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=oneline(result.name), **counts,
                          time=f"{result.measured_seconds:.3f}", timestamp=result.started_at or "")
    properties = ET.SubElement(suite, "properties")
    for label, value in [("verdict", view["verdict"]), *view["summary"]]:
        ET.SubElement(properties, "property", name=label.lower(), value=oneline(value))
    suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _validity_case(result: Any, word: str) -> ET.Element:
    """Whether the measurement can be stood behind, as its own case: an invalid one fails CI even when
    every SLO case passes; a result written before validity checks is skipped, never passed."""
    case = ET.Element("testcase", name="measurement valid", classname=f"{SUITE}.{oneline(result.name)}")
    if result.validity is None:
        ET.SubElement(case, "skipped", message=word)
        return case
    failed = result.validity.failed
    if failed:
        message = "; ".join(oneline(line(check)) for check in failed)
        ET.SubElement(case, "failure", message=message, type="InvalidMeasurement").text = message
    return case


def _run_case(result: Any, view: dict[str, Any]) -> ET.Element:
    """Whether the run itself completed: the case every report has, SLOs or not."""
    case = ET.Element("testcase", name="run completed", classname=f"{SUITE}.{oneline(result.name)}")
    reason = oneline(result.reason or view["verdict_detail"])
    if result.status == "could-not-run":
        ET.SubElement(case, "error", message=reason, type="CouldNotRun").text = reason
    elif result.status != "completed":
        ET.SubElement(case, "failure", message=reason, type=result.status).text = reason
    if view["warnings"]:
        ET.SubElement(case, "system-out").text = "\n".join(f"warning: {oneline(w)}" for w in view["warnings"])
    return case
