"""On Kubernetes: the master pod carries Prometheus' scrape annotations, and `render` emits a
PodMonitor for it when asked (one the runner itself never creates)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parents[2] / "examples" / "sklearn-irisv2-k8s.yaml"


def render(*overrides: str) -> list[dict[str, Any]]:
    args = [a for o in overrides for a in ("--set", o)]
    done = subprocess.run([sys.executable, "-m", "isvcperf", "render", str(SPEC), "-n", "models", "--name", "obs",
                           *args], capture_output=True, text=True, timeout=60, check=True)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def master_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "obs-master"]
    return dict(job["spec"]["template"])


def test_master_pod_carries_scrape_annotations_beside_the_users_own() -> None:
    pod = master_pod(render("kubernetes.podAnnotations.team=ml"))
    web = next(p for p in pod["spec"]["containers"][0]["ports"] if p["name"] == "web")
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(web["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["team"] == "ml"


def test_pod_monitor_only_when_asked_and_it_selects_the_master() -> None:
    assert not [o for o in render() if o["kind"] == "PodMonitor"]
    objects = render("outputs.prometheus.podMonitor=true")
    (monitor,) = [o for o in objects if o["kind"] == "PodMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    pod = master_pod(objects)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    workers = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "obs-workers"]
    assert not workers[0]["spec"]["template"]["metadata"]["labels"].items() >= monitor["spec"]["selector"][
        "matchLabels"].items()
