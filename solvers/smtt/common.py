"""Helpers shared by the SMTT solvers: array views, result building, hint decoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.smtt import PROBLEM, Instance, Solution, evaluate
from solvers.result import Limit, Result, Status
from solvers.smtt.kernels import seq_cost


def hint_sequence(inst: Instance, hint: Any) -> np.ndarray | None:
    """The hint's sequence as int64 if it is a feasible Solution of this instance, else None."""
    if not isinstance(hint, Solution) or not evaluate(inst, hint).feasible:
        return None
    return np.asarray(hint.sequence, dtype=np.int64)


def cost(inst: Instance, seq: np.ndarray) -> int:
    return int(seq_cost(seq, inst.p, inst.d, inst.w))


def result(
    name: str,
    seq: np.ndarray | None,
    *,
    limit: Limit = Limit.NONE,
    bound: float | None = None,
    bound_source: str = "",
    stats: dict[str, Any] | None = None,
) -> Result:
    return Result(
        PROBLEM,
        Status.FEASIBLE if seq is not None else Status.NO_SOLUTION,
        name,
        solution=None if seq is None else Solution.of(seq),
        bound=bound,
        bound_source=bound_source,
        limit=limit,
        stats=stats or {},
    )
