"""Instance and solution models of the four families, with independent checkers (no solver imports).

``FAMILIES`` maps each family's wire name to its module; every module has the same surface, described
in :mod:`models.common`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from models.common import Evaluation, FieldViolation, InstanceError

FAMILIES: dict[str, str] = {
    "smtt": "models.smtt",
    "task_allocation": "models.task_allocation",
    "pod_packing": "models.pod_packing",
    "seq_parallel": "models.seq_parallel",
}

__all__ = ["FAMILIES", "Evaluation", "FieldViolation", "InstanceError", "family", "instance_from_dict"]


def family(problem: str) -> ModuleType:
    """The model module of a family; ``KeyError`` naming the known families otherwise."""
    if problem not in FAMILIES:
        raise KeyError(f"unknown problem {problem!r}; known: {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[problem])


def instance_from_dict(doc: Any) -> Any:
    """Build a validated instance of whichever family the native document names in ``problem``."""
    if not isinstance(doc, Mapping):
        raise InstanceError([FieldViolation("", "an instance must be a JSON object")])
    problem = doc.get("problem")
    if not isinstance(problem, str) or problem not in FAMILIES:
        raise InstanceError(
            [FieldViolation("problem", f"must be one of {', '.join(map(repr, FAMILIES))}, got {problem!r}")]
        )
    return family(problem).Instance.from_dict(doc)
