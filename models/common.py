"""What every family's model shares: field-level validation errors and the evaluation record.

Design
------
Every family module in :mod:`models` exposes the same small surface:

``PROBLEM``
    the family's identifier on the wire and in native JSON (``"smtt"``, ...);
``Instance``
    an immutable, validated instance. ``Instance.from_dict(d)`` builds it from native JSON and raises
    :class:`InstanceError` listing *every* problem with its field path (never only the first);
    ``to_dict()`` writes native JSON back, so ``from_dict(to_dict(x)) == x``;
``Solution``
    the decision (``from_dict`` / ``to_dict`` in the CLI's solution shape);
``evaluate(instance, solution) -> Evaluation``
    recomputes the objective from the instance data alone, without importing any solver, and lists
    every violated constraint. Solvers never report an objective of their own: the service and
    :func:`solvers.solve` take it from ``evaluate``.

Objectives are always *minimised*, so a bound is always a lower bound. Field paths use the native JSON
shape: ``jobs[3].due_date``, ``costs[2][5]``; the gRPC messages mirror that shape one to one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one field of an instance: ``path`` in native-JSON notation, and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InstanceError(ValueError):
    """An instance (or a solution document) is invalid; ``violations`` lists every problem found."""

    def __init__(self, violations: Iterable[FieldViolation]):
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        if not self.violations:
            raise ValueError("InstanceError needs at least one violation")
        shown = "; ".join(str(v) for v in self.violations[:20])
        more = len(self.violations) - 20
        super().__init__(shown + (f"; ... and {more} more" if more > 0 else ""))


class Checker:
    """Collects field violations while a ``from_dict`` walks a document, then raises them all at once.

    The ``get_*`` helpers return ``None`` (after recording a violation) when a value is missing or of the
    wrong type, so a constructor can go on checking the rest of the document and report everything.
    """

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, path: str, message: str) -> None:
        self.violations.append(FieldViolation(path, message))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InstanceError(self.violations)

    # -- typed accessors ------------------------------------------------------------------------------
    def document(self, doc: Any) -> Mapping[str, Any]:
        """The top-level object of a document; raises InstanceError at once when it is not an object
        (nothing else can be checked then)."""
        m = self.mapping(doc, "")
        if m is None:
            self.raise_if_any()
            raise AssertionError("unreachable")
        return m

    def mapping(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, f"must be an object, got {type_name(value)}")
            return None
        return value

    def field(self, doc: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> Any:
        if key not in doc or doc[key] is None:
            if required:
                self.add(join(path, key), "is required")
            return None
        return doc[key]

    def integer(
        self, value: Any, path: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        # bool is an int subclass in Python; a JSON true is never a valid count.
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                value = int(value)
            else:
                self.add(path, f"must be an integer, got {type_repr(value)}")
                return None
        if minimum is not None and value < minimum:
            self.add(path, f"must be >= {minimum}, got {value}")
            return None
        if maximum is not None and value > maximum:
            self.add(path, f"must be <= {maximum}, got {value}")
            return None
        return value

    def number(
        self,
        value: Any,
        path: str,
        *,
        minimum: float | None = None,
        exclusive_minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, f"must be a number, got {type_repr(value)}")
            return None
        v = float(value)
        if not math.isfinite(v):
            self.add(path, f"must be finite, got {value}")
            return None
        if minimum is not None and v < minimum:
            self.add(path, f"must be >= {minimum}, got {value}")
            return None
        if exclusive_minimum is not None and v <= exclusive_minimum:
            self.add(path, f"must be > {exclusive_minimum}, got {value}")
            return None
        if maximum is not None and v > maximum:
            self.add(path, f"must be <= {maximum}, got {value}")
            return None
        return v

    def string(self, value: Any, path: str, *, choices: Iterable[str] | None = None) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {type_repr(value)}")
            return None
        if choices is not None:
            allowed = tuple(choices)
            if value not in allowed:
                self.add(path, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
                return None
        return value

    def sequence(self, value: Any, path: str, *, min_len: int = 0) -> list[Any] | None:
        if not isinstance(value, list | tuple):
            self.add(path, f"must be a list, got {type_name(value)}")
            return None
        if len(value) < min_len:
            self.add(path, f"must have at least {min_len} element(s), got {len(value)}")
            return None
        return list(value)

    def unknown_keys(self, doc: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        """Nothing a client sent is silently dropped: unknown keys are errors, not ignored."""
        known = set(allowed)
        for key in doc:
            if key not in known:
                self.add(join(path, str(key)), "unknown field")


def join(path: str, key: str | int) -> str:
    """Extend a field path: ``join("jobs", 3) == "jobs[3]"``, ``join("jobs[3]", "due") == "jobs[3].due"``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def type_repr(value: Any) -> str:
    text = repr(value)
    return f"{type_name(value)} {text[:40]}"


@dataclass(frozen=True)
class Evaluation:
    """The independent checker's verdict on a solution.

    ``objective`` is recomputed from the instance (minimised); ``violations`` lists every violated
    constraint in words (empty when feasible); ``terms`` breaks a composite objective into its parts
    (e.g. pod packing's lexicographic components) for display.
    """

    objective: float
    violations: tuple[str, ...] = ()
    terms: Mapping[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return not self.violations


def check_problem_tag(chk: Checker, doc: Mapping[str, Any], problem: str) -> None:
    """A native document names its family in ``problem``; a mismatch is a field error."""
    tag = doc.get("problem", problem)
    if tag != problem:
        chk.add("problem", f"must be {problem!r} for this family, got {tag!r}")
