"""Running a CP-SAT model under a :class:`~solvers.budget.Budget`.

Pitfalls handled here once for every family (see ENGINEERING.md section 2):

* ``num_workers`` is always set explicitly (0 would mean every core of the host);
* the time limit is the budget's remaining time; deterministic mode uses ``max_deterministic_time``,
  a fixed seed and interleaved search so the same request gives the same answer;
* cancellation: a watcher thread, polling every :data:`POLL_S`, calls ``stop_search`` repeatedly until
  ``solve`` returns (a stop before the search starts is otherwise lost), and ends with the solve;
* CP-SAT's own OPTIMAL is not trusted after a stop: callers get the objective bound and derive the
  status themselves (``solvers.registry.finalize``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from solvers.budget import Budget
from solvers.result import Limit

#: How often the cancellation watcher looks at the cancel event (and notices that the solve has ended).
POLL_S = 0.005


@dataclass
class CpSatOutcome:
    solver: cp_model.CpSolver
    status: Any  # cp_model.OPTIMAL / FEASIBLE / INFEASIBLE / MODEL_INVALID / UNKNOWN
    has_solution: bool
    bound: float | None
    limit: Limit

    @property
    def infeasible(self) -> bool:
        return self.status == cp_model.INFEASIBLE


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, fn: Callable[[cp_model.CpSolverSolutionCallback], None]):
        super().__init__()
        self._fn = fn

    def on_solution_callback(self) -> None:
        self._fn(self)


def solve_cpsat(
    model: cp_model.CpModel,
    budget: Budget,
    *,
    on_solution: Callable[[cp_model.CpSolverSolutionCallback], None] | None = None,
    log_search: bool = False,
    params: Mapping[str, Any] | None = None,
) -> CpSatOutcome:
    """Solve ``model`` within the budget. ``params`` sets further CP-SAT parameters by name after the
    defaults (e.g. ``{"cp_model_presolve": False}`` for the small sub-models of a neighbourhood search);
    it cannot lift the budget's time limit or worker count."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = max(1, budget.workers)
    p.random_seed = budget.seed
    p.log_search_progress = log_search
    p.relative_gap_limit = budget.gap_target
    remaining = budget.time_limit()
    if budget.deterministic:
        p.max_deterministic_time = max(0.01, remaining)
        p.interleave_search = p.num_workers > 1
        # still a hard wall-clock stop: determinism must never cost the deadline
        p.max_time_in_seconds = max(0.01, remaining)
    else:
        p.max_time_in_seconds = max(0.01, remaining)
    for name, value in (params or {}).items():
        if name in ("max_time_in_seconds", "num_workers", "num_search_workers"):
            raise ValueError(f"{name} comes from the budget, not from params")
        setattr(p, name, value)

    done = threading.Event()

    def watch() -> None:
        # Wait on the solve's own end in short slices: a cancel is acted on, and the thread released,
        # within POLL_S of either (sleeping on the cancel event instead cost every call up to 50 ms
        # after its search had ended -- much of a budget made of many small LNS solves).
        while not done.wait(POLL_S):
            if budget.cancel.is_set():
                while not done.is_set():  # insist until solve() has returned
                    solver.stop_search()
                    done.wait(POLL_S)

    watcher = threading.Thread(target=watch, name="cpsat-cancel", daemon=True)
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
        limit = Limit.TIME  # CP-SAT's own limit (time or deterministic time) ended the search
    return CpSatOutcome(solver, status, has_solution, bound, limit)
