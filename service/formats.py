"""Reading instance files for ``allot solve`` / ``allot validate``: format detection and naming.

Formats (``--format``):

``json``      native JSON: one instance object, or a list of them;
``orlib-wt``  OR-Library weighted tardiness (many instances per file; jobs per instance from ``--jobs``
              or the number in the file name, ``wt40.txt`` -> 40);
``orlib-gap`` OR-Library / Chu-Beasley / Yagiura GAP files (one instance, or a count then several);
``kubectl``   the output of ``kubectl get nodes,pods -A -o json`` (pending pods are the ones to place).

``auto`` detects: a ``.json`` file is ``kubectl`` when it is a ``List`` of Kubernetes objects and native
otherwise; ``wt<N>.txt`` is ``orlib-wt``; any other text file of integers whose count fits the GAP layout
is ``orlib-gap``. A file with one instance yields the name ``FILE``; several yield ``FILE#1``, ``FILE#2``...

Each entry is ``(name, instance)`` or ``(name, InstanceError)``: one bad instance in a file does not
hide the others, and nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import models
from models.common import InstanceError

FORMATS = ("auto", "json", "orlib-wt", "orlib-gap", "kubectl")

Entry = tuple[str, Any]  # (name, Instance | InstanceError)


class FormatError(ValueError):
    """The file cannot be read in the requested (or any detected) format."""


def detect_format(path: Path, text: str) -> str:
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return "json"  # reported by the json reader with the position
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            return "kubectl"
        return "json"
    if re.match(r"^wt\d+", path.name, re.IGNORECASE):
        return "orlib-wt"
    tokens = text.split()
    if len(tokens) >= 2 and all(t.lstrip("-").isdigit() for t in tokens[:2]):
        m, n = int(tokens[0]), int(tokens[1])
        if len(tokens) == 2 + 2 * m * n + m or (len(tokens) >= 3 and m > 0):
            return "orlib-gap"
    raise FormatError(f"{path}: cannot detect the format; pass --format ({', '.join(FORMATS[1:])})")


def _load_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _named(path: Path, instances: list[Any]) -> list[Entry]:
    if len(instances) == 1:
        return [(str(path), instances[0])]
    return [(f"{path}#{k}", inst) for k, inst in enumerate(instances, start=1)]


def _with_name(inst: Any, name: str) -> Any:
    if isinstance(inst, InstanceError):
        return inst
    if inst.name:
        return inst
    try:
        return replace(inst, name=name)
    except TypeError:
        return inst


def read_text(path: Path) -> str:
    """The file's text; FormatError saying why when it cannot be read or is not text."""
    try:
        return path.read_text()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a text file") from None


def fmt_num(x: float | str | None, digits: int = 6) -> str:
    """A number for a table or a title: ``-`` when absent, ``inf``, integers without a fraction. A
    string (a JSONL result's ``"inf"``) is shown as it is."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    v = float(x)
    if math.isinf(v):
        return "inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.{digits}g}"


def fmt_gap(g: float | str | None) -> str:
    """A relative gap as a percentage (``-`` when absent, ``inf`` without a bound)."""
    if g is None:
        return "-"
    if isinstance(g, str):
        return g
    v = float(g)
    return "inf" if math.isinf(v) else f"{100 * v:.2f}%"


def read_file(path: Path, fmt: str = "auto", *, jobs: int | None = None) -> list[Entry]:
    """All instances in ``path``; raises FormatError (file-level problems) with a precise message."""
    text = read_text(path)
    if fmt == "auto":
        fmt = detect_format(path, text)
    if fmt == "json":
        doc = _load_json(path, text)
        docs = doc if isinstance(doc, list) else [doc]
        out: list[Any] = []
        for d in docs:
            try:
                out.append(models.instance_from_dict(d))
            except InstanceError as exc:
                out.append(exc)
        entries = _named(path, out)
        return [(name, _with_name(inst, name)) for name, inst in entries]
    if fmt == "orlib-wt":
        from models import smtt

        n = jobs or smtt.jobs_from_filename(str(path))
        if not n:
            raise FormatError(f"{path}: the number of jobs per instance is not in the file; pass --jobs N")
        try:
            return _named(path, smtt.read_orlib_wt(text, n, name=str(path)))
        except (ValueError, InstanceError) as exc:
            raise FormatError(f"{path}: {exc}") from None
    if fmt == "orlib-gap":
        from models import task_allocation

        try:
            return _named(path, task_allocation.read_orlib_gap(text, name=str(path)))
        except (ValueError, InstanceError) as exc:
            raise FormatError(f"{path}: {exc}") from None
    if fmt == "kubectl":
        from models import pod_packing

        doc = _load_json(path, text)
        try:
            inst = pod_packing.read_kubectl(doc)
        except InstanceError as exc:
            return [(str(path), exc)]
        except ValueError as exc:
            raise FormatError(f"{path}: {exc}") from None
        return [(str(path), _with_name(inst, str(path)))]
    raise FormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
