"""The answer every solver gives: termination status, the limit that was hit, bounds and gap.

Semantics (after OR-Tools MathOpt's separation of termination reason, limit and bounds)
---------------------------------------------------------------------------------------
Every objective is **minimised**. ``objective`` is the primal bound: the value of the incumbent,
recomputed by the family's independent ``evaluate``. ``bound`` is the dual bound: a value no feasible
solution can beat, proved by the method named in ``bound_source``.

``status``
    ``OPTIMAL``      a solution whose objective the bound meets (see :func:`bounds_meet`);
    ``FEASIBLE``     a verified solution, optimality not proved;
    ``INFEASIBLE``   proved that no feasible solution exists;
    ``NO_SOLUTION``  no solution found within the limit, infeasibility not proved;
    ``INVALID``      the instance was rejected (field violations in ``message``);
    ``ERROR``        an internal failure; ``message`` says what.
``limit``
    why the search stopped before proving: ``TIME``, ``CANCELLED``, ``GAP_TARGET`` (the requested gap
    was reached), ``NONE`` (ran to completion).

The gap (one formula, used everywhere)::

    gap = 0                                  if objective == bound (within tolerance, including 0 == 0)
    gap = (objective - bound) / max(|objective|, 1)   otherwise
    gap = None                               if there is no objective (no solution)

The denominator ``max(|objective|, 1)`` keeps the gap finite when the optimum is 0 (common in tardiness
instances): an objective of 3 with bound 0 is a gap of 3.0 (300 %), not a division by zero. For the
integer objectives of SMTT, task allocation and pod packing the bound is rounded up to an integer
before the comparison (a bound of 12.2 proves 13).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: Relative tolerance under which objective and bound are taken to meet.
REL_TOL = 1e-9
ABS_TOL = 1e-6


class Status(enum.StrEnum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    NO_SOLUTION = "NO_SOLUTION"
    INVALID = "INVALID"
    ERROR = "ERROR"


class Limit(enum.StrEnum):
    NONE = "NONE"
    TIME = "TIME"
    CANCELLED = "CANCELLED"
    GAP_TARGET = "GAP_TARGET"


def bounds_meet(objective: float, bound: float) -> bool:
    """True when ``bound`` proves ``objective`` optimal (within the documented tolerance)."""
    return bound >= objective - max(ABS_TOL, REL_TOL * abs(objective))


def gap(objective: float | None, bound: float | None) -> float | None:
    """Relative optimality gap; see the module docstring for the formula. ``inf`` without a bound."""
    if objective is None:
        return None
    if bound is None or math.isinf(bound):
        return math.inf
    if bounds_meet(objective, bound):
        return 0.0
    return (objective - bound) / max(abs(objective), 1.0)


def round_bound(bound: float | None, integral: bool) -> float | None:
    """An integer objective's lower bound can be rounded up (with a tolerance against float noise)."""
    if bound is None or not integral or math.isinf(bound):
        return bound
    return float(math.ceil(bound - ABS_TOL))


@dataclass(frozen=True)
class Result:
    """One solve's answer. Build it in a solver with what it knows; :func:`solvers.solve` finalises it.

    ``solution`` is the family's ``Solution`` object (or ``None``). ``stats`` holds numbers and short
    strings worth showing (nodes, iterations, per-phase times); ``terms`` the objective's components.
    """

    problem: str
    status: Status
    solver: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    solution: Any = None
    limit: Limit = Limit.NONE
    bound_source: str = ""
    wall_time_s: float = 0.0
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)
    terms: Mapping[str, float] = field(default_factory=dict)
    instance: str = ""

    def with_(self, **changes: Any) -> Result:
        return replace(self, **changes)

    def to_dict(self, *, solution: bool = True) -> dict[str, Any]:
        """The CLI's ``--output jsonl`` record (the solution in the family's native shape)."""
        out: dict[str, Any] = {
            "instance": self.instance,
            "problem": self.problem,
            "status": str(self.status),
            "limit": str(self.limit),
            "objective": _num(self.objective),
            "bound": _num(self.bound),
            "gap": _num(self.gap),
            "solver": self.solver,
            "bound_source": self.bound_source,
            "wall_time_s": round(self.wall_time_s, 6),
        }
        if self.message:
            out["message"] = self.message
        if self.terms:
            out["terms"] = dict(self.terms)
        if self.stats:
            out["stats"] = dict(self.stats)
        if solution:
            out["solution"] = None if self.solution is None else self.solution.to_dict()
        return out


def _num(x: float | None) -> float | int | str | None:
    """JSON has no infinity: an unknown gap is written as the string ``"inf"``; integers stay integers."""
    if x is None:
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return x
