"""``greedy``: regret construction with several desirability measures, repair, then local search.

Cost objective (GAP)
    For each desirability measure f (cost; normalised demand d_ij = Σ_r demand/capacity; cost x d;
    cost rank + demand rank) an MTHG-style regret construction (Martello & Toth) assigns, one at a
    time, the task whose two best feasible agents differ most under f to its best agent. Every
    feasible construction is improved by shift / swap descent on the true cost; the best is kept.
    When no construction is feasible (tight instances), a repair descent on the total capacity excess
    starts from every task on its least normalised-demand agent.
Makespan objective
    LPT onto the agent with the smallest finishing load, and regret on the loads, each improved by a
    descent that moves work off a most-loaded agent (shifts, then swaps).

All kernels are Numba (:mod:`._kernels`) and run in bounded chunks between budget polls. The method is
deterministic (it has no random choice), so the seed does not change the answer. A hint is improved
too. Later heuristics (tabu search / path relinking, ejection chains) slot in as further solvers
taking this one's incumbent as their hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import _kernels as K
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible

#: passes / moves per kernel call between budget polls
_CHUNK = 4


def _norm_demand(a: Arrays) -> np.ndarray:
    m, n = a.m, a.n
    if a.dem.shape[0] == 0:
        return np.ones((m, n))
    cap = np.maximum(a.cap, 1).astype(np.float64)
    return (a.dem / cap[:, :, None]).sum(axis=0)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Rank of each agent for each task (0 = smallest), as float."""
    return np.argsort(np.argsort(x, axis=0, kind="mergesort"), axis=0, kind="mergesort").astype(np.float64)


def cost_measures(a: Arrays) -> list[tuple[str, np.ndarray]]:
    d = _norm_demand(a)
    c = a.obj
    shifted = c - c.min() + 1.0
    # "rank" first: on tight instances it is the measure that most often builds a feasible solution
    return [
        ("rank", _ranks(c) + _ranks(d)),
        ("cost", c),
        ("cost*demand", shifted * d),
        ("demand", d),
        ("cost/slack", shifted / np.maximum(1e-9, 1.0 - np.minimum(d, 0.999))),
    ]


def _descend(a: Arrays, x: np.ndarray, budget: Budget) -> None:
    # a cost pass is O(n^2) (~0.1 s on 1,600 tasks under load): one pass per budget poll on big instances
    passes = _CHUNK if a.n <= 400 else 1
    while not budget.should_stop():
        if a.makespan:
            made = K.improve_makespan(x, a.obj, a.dem, a.cap, a.allowed, 50 * _CHUNK)
        else:
            made = K.improve_cost(x, a.obj, a.dem, a.cap, a.allowed, passes)
        if made == 0:
            break


def _repair_start(a: Arrays) -> np.ndarray:
    d = np.where(a.allowed, _norm_demand(a), np.inf)
    return np.argmin(d, axis=0).astype(np.int64)


def _regret_builder(a: Arrays, f: np.ndarray) -> Callable[[], np.ndarray]:
    f = np.ascontiguousarray(f, dtype=np.float64)
    return lambda: K.construct_regret(f, a.dem, a.cap, a.allowed)


def heuristic(inst: Instance, budget: Budget, hint: Solution | None = None) -> tuple[np.ndarray | None, dict]:
    """Best assignment found (or None) and stats; reports every improvement to the budget."""
    a = arrays(inst)
    best: np.ndarray | None = None
    best_obj = math.inf
    stats: dict = {"constructions": 0, "feasible_constructions": 0}

    def offer(x: np.ndarray, how: str) -> None:
        nonlocal best, best_obj
        if not is_feasible(a, x):
            return
        v = assignment_objective(a, x)
        if v < best_obj:
            best, best_obj = x.copy(), v
            stats["best_from"] = how
            budget.report("greedy", v, None, Solution.from_array(x))

    if hint is not None and len(hint.assignment) == a.n:
        x = np.asarray(hint.assignment, dtype=np.int64)
        if is_feasible(a, x):
            _descend(a, x, budget)
            offer(x, "hint")

    builders: list[tuple[str, Callable[[], np.ndarray]]]
    if a.makespan:
        builders = [
            ("lpt", lambda: K.construct_lpt(a.obj, a.dem, a.cap, a.allowed)),
            ("regret-load", lambda: K.construct_regret(a.obj, a.dem, a.cap, a.allowed)),
        ]
    else:
        builders = [(name, _regret_builder(a, f)) for name, f in cost_measures(a)]
    for name, build in builders:
        if budget.should_stop():
            break
        x = build()
        stats["constructions"] += 1
        if x[0] < 0:
            continue
        stats["feasible_constructions"] += 1
        _descend(a, x, budget)
        offer(x, name)

    if best is None and not budget.should_stop():
        x = _repair_start(a)
        excess = 1
        while excess and not budget.should_stop():
            excess = K.repair(x, a.obj, a.dem, a.cap, a.allowed, 50)
            if excess and K.repair(x.copy(), a.obj, a.dem, a.cap, a.allowed, 1) == excess:
                break  # stuck in a local minimum of the excess
        stats["repair_excess"] = int(excess)
        if excess == 0:
            _descend(a, x, budget)
            offer(x, "repair")
    return best, stats


@register(PROBLEM, "greedy", "heuristic", "MTHG regret construction (several measures) + shift/swap descent")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans:
        return Result(
            PROBLEM,
            Status.INFEASIBLE,
            "greedy",
            bound_source="a task fits no agent",
            message=f"task {a.orphans[0]} has no allowed agent that can hold it",
        )
    best, stats = heuristic(inst, budget, hint)
    return Result(
        PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "greedy",
        solution=None if best is None else Solution.from_array(best),
        limit=budget.limit_reason(),
        stats=stats,
    )


def warmup() -> None:
    """Compile every kernel on a 2-agent, 3-task instance (cost and makespan, one resource)."""
    f = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 1.0]])
    dem = np.array([[[1, 1, 1], [1, 1, 1]]], dtype=np.int64)
    cap = np.array([[2, 2]], dtype=np.int64)
    ok = np.ones((2, 3), dtype=np.bool_)
    x = K.construct_regret(f, dem, cap, ok)
    y = K.construct_lpt(f, dem, cap, ok)
    K.improve_cost(x, f, dem, cap, ok, 1)
    K.improve_makespan(y, f, dem, cap, ok, 1)
    K.repair(np.zeros(3, dtype=np.int64), f, dem, cap, ok, 2)
