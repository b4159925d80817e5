"""The SMTT portfolio (name ``auto``): rules -> dp (n <= 22) -> lawler (unweighted) -> ids -> cpsat.

For n <= 22 the subset DP (:mod:`solvers.smtt.subset_dp`, well under a second) proves the optimum.

On unweighted instances Lawler's decomposition DP (:mod:`solvers.smtt.lawler`) gets
:data:`LAWLER_SHARE` of the budget right after the rules: when it finishes it proves the optimum and
the chain stops; when it runs out the rest of the chain runs as for weighted instances.

The rules take milliseconds and give the incumbent. Iterated dynasearch (:mod:`solvers.smtt.dynasearch`)
gets at most :data:`LS_SHARE` of the budget (on the OR-Library sets it reaches the optimum within a
fraction of a second); it stops early when it meets the cheap bound or after :func:`stall_kicks` kicks
without improvement, so small instances reach CP-SAT quickly. CP-SAT then gets everything left,
warm-started from the ILS sequence, to prove optimality (or improve). The family's cheap bound is
added by the registry.
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
from solvers.smtt.dynasearch import iterated_dynasearch
from solvers.smtt.lawler import run_lawler
from solvers.smtt.rules import best_rule, run_rules
from solvers.smtt.subset_dp import MAX_N as DP_MAX_N
from solvers.smtt.subset_dp import run_dp

LS_SHARE = 0.6
LAWLER_SHARE = 0.9


def _ls_step(inst: Instance, budget: Budget, hint: Any) -> Result:
    start = hint_sequence(inst, hint)
    if start is None:
        start, _, _ = best_rule(inst)
    lb, src = best_bound(inst)
    seq, _, stats = iterated_dynasearch(inst, budget, start, lower_bound=lb, stall_kicks=stall_kicks(inst.n))
    return result("ids", seq, bound=float(lb), bound_source=src, stats=stats)


def stall_kicks(n: int) -> int:
    """Kicks without improvement before ids hands over to the exact step."""
    return max(500, 100 * n)


STEPS = [
    Step("rules", run_rules, share=0.05),
    Step("dp", run_dp, share=0.9, when=lambda inst: inst.n <= DP_MAX_N),
    Step("lawler", run_lawler, share=LAWLER_SHARE, when=lambda inst: not inst.weighted),
    Step("ids", _ls_step, share=LS_SHARE),
    Step("cpsat", run_cpsat, share=1.0),
]


@register(
    PROBLEM,
    "auto",
    "portfolio",
    "rules, subset DP (small n) / Lawler DP (unweighted), iterated dynasearch, CP-SAT",
)
def run_auto(inst: Instance, budget: Budget, hint: Any) -> Result:
    return run_portfolio(inst, budget, STEPS, hint, name="auto")
