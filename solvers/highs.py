"""Running a HiGHS model (highspy) under a :class:`~solvers.budget.Budget`.

highspy 1.14 is pinned because 1.15 cannot share a process with ortools 9.15 (ENGINEERING.md §1).
Here: silent output, one thread per budget worker, ``mip_rel_gap`` = the budget's gap target (HiGHS's
default stops early, 1e-4, and would look like a proof it is not), the remaining time as
``time_limit``, and -- since time limits are not always honoured inside presolve -- a watcher thread
that calls ``cancelSolve`` when the budget expires or is cancelled.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import highspy
import numpy as np

from solvers.budget import Budget
from solvers.result import Limit


@dataclass
class HighsOutcome:
    model_status: highspy.HighsModelStatus
    x: np.ndarray | None  # primal values, None without a feasible solution
    objective: float | None
    bound: float | None  # dual bound (MIP) or optimal LP value
    limit: Limit
    infeasible: bool


def new_highs(budget: Budget) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", max(1, budget.workers))
    h.setOptionValue("random_seed", budget.seed % (2**31 - 1))
    h.setOptionValue("mip_rel_gap", budget.gap_target)
    h.setOptionValue("mip_abs_gap", 0.0)
    return h


def run_highs(h: highspy.Highs, budget: Budget, *, is_mip: bool = True) -> HighsOutcome:
    remaining = budget.time_limit()
    h.setOptionValue("time_limit", max(0.01, remaining))
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            if budget.expired():
                while not done.is_set():
                    h.cancelSolve()
                    done.wait(0.01)

    watcher = threading.Thread(target=watch, name="highs-watch", daemon=True)
    watcher.start()
    try:
        h.run()
    finally:
        done.set()
        watcher.join()
    ms = h.getModelStatus()
    info = h.getInfo()
    infeasible = ms == highspy.HighsModelStatus.kInfeasible
    # a primal solution exists when HiGHS says it is feasible, or when the model was solved to optimality
    # (an LP solved by simplex may leave primal_solution_status unset in highspy 1.14)
    has = info.primal_solution_status == 2 or ms == highspy.HighsModelStatus.kOptimal
    x = np.asarray(h.getSolution().col_value) if has else None
    obj = h.getInfo().objective_function_value if has else None
    if is_mip:
        bound = info.mip_dual_bound
        bound = None if bound is None or not math.isfinite(bound) else float(bound)
    else:
        bound = float(obj) if ms == highspy.HighsModelStatus.kOptimal and obj is not None else None
    limit = (
        Limit.NONE
        if ms in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible)
        else (budget.limit_reason() if budget.limit_reason() is not Limit.NONE else Limit.TIME)
    )
    return HighsOutcome(ms, x, None if obj is None else float(obj), bound, limit, infeasible)
