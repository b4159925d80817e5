"""The SMTT portfolio (name ``auto``): rules -> ls -> cpsat.

The rules take milliseconds and give the incumbent. ILS gets at most :data:`LS_SHARE` of the budget
(on the OR-Library sets it usually reaches the optimum within a fraction of a second); it stops early
when it meets the cheap bound or after max(200, 50 n) kicks without improvement, so small instances
reach CP-SAT quickly. CP-SAT then gets everything left, warm-started from the ILS sequence, to prove
optimality (or improve). The family's cheap bound is added by the registry.
"""

from __future__ import annotations

from typing import Any

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result
from solvers.smtt.bounds import best_bound
from solvers.smtt.common import hint_sequence, result
from solvers.smtt.cpsat import run_cpsat
from solvers.smtt.ls import local_search
from solvers.smtt.rules import best_rule, run_rules

LS_SHARE = 0.25


def _ls_step(inst: Instance, budget: Budget, hint: Any) -> Result:
    start = hint_sequence(inst, hint)
    if start is None:
        start, _, _ = best_rule(inst)
    lb, src = best_bound(inst)
    seq, _, stats = local_search(inst, budget, start, lower_bound=lb, stall_kicks=max(200, 50 * inst.n))
    return result("ls", seq, bound=float(lb), bound_source=src, stats=stats)


STEPS = [
    Step("rules", run_rules, share=0.05),
    Step("ls", _ls_step, share=LS_SHARE),
    Step("cpsat", run_cpsat, share=1.0),
]


@register(PROBLEM, "auto", "portfolio", "rules, then iterated local search, then CP-SAT warm-started")
def run_auto(inst: Instance, budget: Budget, hint: Any) -> Result:
    return run_portfolio(inst, budget, STEPS, hint, name="auto")
