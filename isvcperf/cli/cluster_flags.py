"""The cluster flags a command takes: `--context` and `-n` (every Kubernetes command), and
`isvcperf run`'s `--keep`, which become spec overrides so the spec stays the one source.

Apart from cli/kube.py so `isvcperf run` offers them without loading the Kubernetes client.
"""

from __future__ import annotations

import argparse


def k8s_overrides(args: argparse.Namespace) -> list[str]:
    """`--context`, `-n` and `--keep` of `isvcperf run` as spec overrides (the spec stays the one source)."""
    out = []
    if getattr(args, "context", None):
        out.append(f"kubernetes.context={args.context}")
    if getattr(args, "namespace", None):
        out.append(f"kubernetes.namespace={args.namespace}")
    if getattr(args, "keep", False):
        out.append("kubernetes.keep=true")
    return out


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """The cluster flags of `isvcperf run` / `launch`, in their own help section: they do nothing for a local
    run against a URL."""
    group = p.add_argument_group("with runner: kubernetes (or target.isvc)")
    cluster_options(group)
    group.add_argument("--keep", action="store_true",
                       help="leave the run's pods and objects in the cluster (until their TTL) for inspection")


def cluster_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("-n", "--namespace", help="namespace (default: the context's, in a pod its own)")
