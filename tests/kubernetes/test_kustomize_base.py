"""k8s/base, the kustomize base of the in-cluster runner, is what `isvcperf k launch --dry` renders.

The base is for admins and GitOps; the CLI renders the same objects from templates. This test
keeps the two from drifting: every object of the base equals the rendered one, without the
namespace (kustomize sets it), and the rendered objects validate against Kubernetes' schemas.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "k8s" / "base"


def _launch_command() -> list[str]:
    """The `isvcperf k launch --dry ...` command the base's kustomization.yaml names."""
    text = (BASE / "kustomization.yaml").read_text()
    command = re.search(r"^#   isvcperf (k launch .*?)\n(?!#     )", text, re.M | re.S)
    assert command is not None, "kustomization.yaml names the command it was generated from"
    return shlex.split(re.sub(r"\\\n#\s+", " ", command.group(1)))


def _without_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    obj["metadata"].pop("namespace", None)
    for subject in obj.get("subjects", []):
        subject.pop("namespace", None)
    return obj


def test_kustomize_base_is_what_k_launch_dry_renders() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    base = [yaml.safe_load((BASE / name).read_text()) for name in kustomization["resources"]]
    proc = subprocess.run([sys.executable, "-m", "isvcperf", *_launch_command()], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rendered = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    for obj in rendered:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    by_kind = {obj["kind"]: _without_namespace(obj) for obj in rendered}
    assert sorted(by_kind) == sorted(obj["kind"] for obj in base) == [
        "ConfigMap", "CronJob", "Role", "RoleBinding", "ServiceAccount"]
    for obj in base:
        assert obj == by_kind[obj["kind"]], f"k8s/base/{obj['kind'].lower()}.yaml differs from k launch --dry"


def write_base() -> None:
    """Regenerate the base's files from `k launch --dry` (keeping each file's leading comment):
    `python tests/kubernetes/test_kustomize_base.py` after a change to what the CLI renders."""
    proc = subprocess.run([sys.executable, "-m", "isvcperf", *_launch_command()], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    for obj in (doc for doc in yaml.safe_load_all(proc.stdout) if doc):
        path = BASE / f"{obj['kind'].lower()}.yaml"
        comment = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
        path.write_text(comment + yaml.safe_dump(_without_namespace(obj), sort_keys=False))


if __name__ == "__main__":
    write_base()
