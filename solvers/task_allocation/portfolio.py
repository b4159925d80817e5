"""``auto``: the greedy incumbent (a small share of the budget), then the HiGHS MIP warm-started from it
with everything left. HiGHS is the exact backend because it was the stronger one in measurements on
OR-Library, Chu-Beasley and Yagiura instances (see :mod:`.exact`)."""

from __future__ import annotations

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result
from solvers.task_allocation import exact, greedy


@register(PROBLEM, "auto", "portfolio", "greedy incumbent, then HiGHS MIP warm-started with the rest")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    steps = [Step("greedy", greedy.run, share=0.25), Step("mip", exact.run_mip, share=1.0)]
    return run_portfolio(inst, budget, steps, hint=hint)
