"""Solver-side view of an instance: contiguous arrays with the trivial reductions applied.

* only capacitated resources are kept in ``dem`` / ``cap`` (an uncapacitated one never binds);
* a pair is *allowed* when it is not forbidden and the task's demand fits the agent's capacity on its
  own on every resource -- a pair that fails this can be in no feasible solution;
* ``obj`` is the per-pair objective coefficient: the cost for ``"cost"``, the makespan load for
  ``"makespan"``.

A task with no allowed agent proves the instance infeasible (``orphans``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from models.task_allocation import Instance


@dataclass(frozen=True)
class Arrays:
    m: int
    n: int
    makespan: bool
    obj: np.ndarray  # m x n float64
    dem: np.ndarray  # R x m x n int64 (capacitated resources only)
    cap: np.ndarray  # R x m int64
    allowed: np.ndarray  # m x n bool
    orphans: tuple[int, ...]  # tasks with no allowed agent


@lru_cache(maxsize=16)
def arrays(inst: Instance) -> Arrays:
    caps = inst.capacitated
    dem = (
        np.ascontiguousarray(inst.demand_array()[list(caps)])
        if caps
        else np.zeros((0, inst.num_agents, inst.num_tasks), np.int64)
    )
    cap = (
        np.ascontiguousarray(inst.capacity_array()[list(caps)])
        if caps
        else np.zeros((0, inst.num_agents), np.int64)
    )
    allowed = inst.allowed_array().copy()
    for r in range(dem.shape[0]):
        allowed &= dem[r] <= cap[r][:, None]
    makespan = inst.objective == "makespan"
    obj = (inst.load_array() if makespan else inst.cost_array()).astype(np.float64)
    orphans = tuple(int(j) for j in np.flatnonzero(~allowed.any(axis=0)))
    # not made read-only: Numba compiles a separate specialisation for read-only arrays
    return Arrays(inst.num_agents, inst.num_tasks, makespan, obj, dem, cap, allowed, orphans)


def assignment_objective(a: Arrays, assign: np.ndarray) -> float:
    vals = a.obj[assign, np.arange(a.n)]
    if a.makespan:
        return float(np.bincount(assign, weights=vals, minlength=a.m).max())
    return float(vals.sum())


def is_feasible(a: Arrays, assign: np.ndarray) -> bool:
    if assign.shape != (a.n,) or assign.min() < 0 or assign.max() >= a.m:
        return False
    if not a.allowed[assign, np.arange(a.n)].all():
        return False
    for r in range(a.dem.shape[0]):
        loads = np.bincount(assign, weights=a.dem[r][assign, np.arange(a.n)], minlength=a.m)
        if (loads > a.cap[r]).any():
            return False
    return True


def tiny_arrays() -> Arrays:
    """A 2-agent, 3-task single-resource instance for compiling kernels at warm-up."""
    cost = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 1.0]])
    dem = np.array([[[1, 1, 1], [1, 1, 1]]], dtype=np.int64)
    return Arrays(2, 3, False, cost, dem, np.array([[2, 2]], np.int64), np.ones((2, 3), np.bool_), ())
