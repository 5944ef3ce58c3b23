"""Loading a spec: YAML text, `--set` overrides, validation, then resolution into a RunSpec.

Everything that reads spec YAML goes through here, so a file, `--set` and Iter8's
`launch` vocabulary end in the same validated, resolved and frozen RunSpec.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from isvcperf.spec import schema
from isvcperf.spec.model import RunSpec
from isvcperf.spec.overrides import apply_overrides
from isvcperf.spec.resolve import resolve
from isvcperf.spec.validate import check
from isvcperf.util.errors import SpecError


def load_file(path: str | os.PathLike, overrides: list[str] | None = None) -> RunSpec:
    """Read a spec file, apply `--set` overrides, validate and return the RunSpec."""
    spec_path = Path(path)
    if not spec_path.is_file():
        raise SpecError("", f"spec file {str(path)!r} not found (check the path)")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("", f"cannot read spec file {str(path)!r}: {exc}") from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise SpecError("", f"{path}: the spec must be a YAML mapping of fields (name, target, load, ...)")
    data = apply_overrides(data, overrides or [])
    if "name" not in data:
        data["name"] = spec_path.stem
    return from_data(data, base_dir=str(spec_path.parent.resolve()))


def parse_yaml(text: str, source: str) -> Any:
    """Safe-load YAML, turning syntax errors into one line with the line number."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError("", f"{source}:{where}: invalid YAML: {problem}") from None


def from_data(data: dict[str, Any], base_dir: str = ".") -> RunSpec:
    """Validate plain data (already overridden) into a resolved RunSpec; `data` is left as it was."""
    notify = data.get("notify")
    if isinstance(notify, dict) and True in notify:  # YAML 1.1 reads a bare `on:` key as the boolean true
        data = {**data, "notify": {("on" if key is True else key): value for key, value in notify.items()}}
    spec = schema.load(RunSpec, data)
    check(spec)
    return resolve(spec, base_dir)


