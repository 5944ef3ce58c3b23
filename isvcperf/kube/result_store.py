"""Results of in-cluster launches, kept in the cluster after the runner's pods are gone.

Each result is gzip-compressed JSON in the `binaryData` of one ConfigMap per launch
(`isvcperf-GROUP-result`), keyed by its UTC time, so a CronJob's runs keep a history. The
API refuses objects over 1 MiB: the oldest results are dropped to stay under
`LIMIT`, and a single result that alone would not fit is a clear error, not a failed
update. `isvcperf k report` and `k assert` read the newest.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json

from isvcperf.kube import manifests
from isvcperf.kube.cluster import Cluster
from isvcperf.results.result import Result
from isvcperf.spec import schema
from isvcperf.util.errors import CouldNotRun

LIMIT = 900 * 1024
"""Bytes of base64 text kept in the ConfigMap, well under the API's 1 MiB object limit."""
HISTORY = 20
"""Results kept per launch (CronJob runs); older ones are dropped."""
PREFIX = "result-"


def encode(result: Result) -> str:
    raw = json.dumps(result.to_data(), separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def decode(text: str) -> Result:
    data = json.loads(gzip.decompress(base64.b64decode(text)))
    return schema.load(Result, data, path="result")


def save(cluster: Cluster, group: str, result: Result, now: dt.datetime | None = None) -> str:
    """Add `result` to the launch's ConfigMap (creating it); returns its key."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{PREFIX}{stamp}.json.gz"
    encoded = encode(result)
    if len(encoded) > LIMIT:
        raise CouldNotRun(f"the result is {len(encoded) // 1024} KiB compressed, over the {LIMIT // 1024} KiB a "
                          "ConfigMap can safely hold (Kubernetes refuses 1 MiB); lower metrics.percentiles or the "
                          "timeline detail, or run it with `isvcperf run` and keep result.json")
    name = manifests.result_config_map(group)
    existing = cluster.get("ConfigMap", name)
    entries = dict((existing or {}).get("binaryData") or {})
    entries[key] = encoded
    for old in sorted(entries)[:-HISTORY]:
        del entries[old]
    while sum(len(v) for v in entries.values()) > LIMIT:
        del entries[min(entries)]
    obj = manifests.result_object(group, cluster.namespace, entries)
    if existing is None:
        cluster.create(obj)
    else:
        obj["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        cluster.replace(obj)
    return key


def keys(cluster: Cluster, group: str) -> list[str]:
    """The stored results' keys, oldest first (empty when there is none yet)."""
    existing = cluster.get("ConfigMap", manifests.result_config_map(group))
    return sorted(k for k in ((existing or {}).get("binaryData") or {}) if k.startswith(PREFIX))


def latest(cluster: Cluster, group: str) -> Result | None:
    existing = cluster.get("ConfigMap", manifests.result_config_map(group))
    entries = (existing or {}).get("binaryData") or {}
    stored = sorted(k for k in entries if k.startswith(PREFIX))
    return decode(entries[stored[-1]]) if stored else None
