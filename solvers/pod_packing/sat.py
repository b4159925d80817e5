"""CP-SAT calls of the pod packing solvers, without the cancellation watcher's join latency.

:func:`solvers.cpsat.solve_cpsat` watches cancellation from a thread that sleeps 50 ms between checks,
and ``solve`` returns only after joining it: every call costs up to 50 ms of wall clock after the
search has ended. Pod packing makes many short calls (LNS sub-models solve in a few milliseconds,
``cpsat-lex`` runs one phase per priority level), where that latency was a large part of a 1 s
budget. :func:`solve_sat` sets the parameters exactly as ``solve_cpsat`` does (explicit worker count,
the budget's time limit, deterministic time and seed in deterministic mode, extra ``params`` by name)
and returns the same :class:`~solvers.cpsat.CpSatOutcome`; cancellation is watched by a thread that
waits on the solve's own completion event in 5 ms slices, so it is acted on within 5 ms and released
within 5 ms of the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ortools.sat.python import cp_model

from solvers.budget import Budget
from solvers.cpsat import CpSatOutcome
from solvers.result import Limit

POLL_S = 0.005


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, fn: Callable[[cp_model.CpSolverSolutionCallback], None]):
        super().__init__()
        self._fn = fn

    def on_solution_callback(self) -> None:
        self._fn(self)


def solve_sat(
    model: cp_model.CpModel,
    budget: Budget,
    *,
    on_solution: Callable[[cp_model.CpSolverSolutionCallback], None] | None = None,
    params: Mapping[str, Any] | None = None,
) -> CpSatOutcome:
    """Solve ``model`` within ``budget`` (see the module doc); ``params`` cannot set the time limit or
    the worker count, which come from the budget."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = max(1, budget.workers)
    p.random_seed = budget.seed
    p.relative_gap_limit = budget.gap_target
    remaining = max(0.005, budget.time_limit())
    p.max_time_in_seconds = remaining  # a hard wall-clock stop, deterministic mode included
    if budget.deterministic:
        p.max_deterministic_time = remaining
        p.interleave_search = p.num_workers > 1
    for name, value in (params or {}).items():
        if name in ("max_time_in_seconds", "num_workers", "num_search_workers"):
            raise ValueError(f"{name} comes from the budget, not from params")
        setattr(p, name, value)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL_S):
            if budget.cancel.is_set():
                while not done.is_set():
                    solver.stop_search()
                    done.wait(POLL_S)

    watcher = threading.Thread(target=watch, name="pod-sat-cancel", daemon=True)
    watcher.start()
    try:
        if on_solution is not None:
            status = solver.solve(model, _Callback(on_solution))
        else:
            status = solver.solve(model)
    finally:
        done.set()
        watcher.join()
    has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    bound = solver.best_objective_bound if model.has_objective() and status != cp_model.INFEASIBLE else None
    limit = budget.limit_reason()
    if limit is Limit.NONE and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
        limit = Limit.TIME
    return CpSatOutcome(solver, status, has_solution, bound, limit)
