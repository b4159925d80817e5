"""The SMTT portfolio (name ``auto``): rules -> dp (n <= 22) -> lawler (unweighted) -> ids -> ssdp -> cpsat.

For n <= 22 the subset DP (:mod:`solvers.smtt.subset_dp`, well under a second) proves the optimum.

On unweighted instances Lawler's decomposition DP (:mod:`solvers.smtt.lawler`) gets
:data:`LAWLER_SHARE` of the budget right after the rules: when it finishes it proves the optimum and
the chain stops; when it runs out the rest of the chain runs as for weighted instances.

The rules take milliseconds and give the incumbent. Iterated dynasearch (:mod:`solvers.smtt.dynasearch`)
gets at most :data:`LS_SHARE` of the budget, and on long budgets no more than max(:data:`LS_MIN_S`,
:data:`LS_LONG_SHARE` of that share) (on the OR-Library sets it reaches the optimum within a fraction of
a second; at 1 s it gets 0.85 s; with the pruned dynasearch pass it reaches the optimum of the 13
hardest wt100 instances in 0.04 s on average, p90 0.1 s over 8 seeds, so at 10 s it gets 1 s);
it stops early when it meets the cheap bound or after :func:`stall_kicks` kicks
without improvement, so the proof step starts early. The Lagrangian time-indexed bound
(:mod:`solvers.smtt.lagrange`, name ``ssdp``) then gets everything left, with the ILS sequence as its
upper bound: subgradient and arc elimination, then the pair DP (adjacent-pair interchange, with a
Lagrangian heuristic that can lower the UB), with CP-SAT over the arcs left tried between slices of
those rounds and at the end; when it proves the incumbent optimal the result's ``bound_source`` is
``ssdp``. CP-SAT on the full model (:mod:`solvers.smtt.cpsat`) only runs instead of it, when the
instance is too large for its tables. The family's cheap bound is added by the registry; OPTIMAL is
only reported when ceil(bound) meets the objective (:func:`solvers.registry.finalize`).
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
from solvers.smtt.lagrange import applicable as ssdp_applicable
from solvers.smtt.lagrange import run_ssdp
from solvers.smtt.lawler import run_lawler
from solvers.smtt.rules import best_rule, run_rules
from solvers.smtt.subset_dp import MAX_N as DP_MAX_N
from solvers.smtt.subset_dp import run_dp

LS_SHARE = 0.85
LS_MIN_S = 1.0
LS_LONG_SHARE = 0.12
LAWLER_SHARE = 0.9


def _ls_step(inst: Instance, budget: Budget, hint: Any) -> Result:
    # on long budgets the bound needs the time more than ids does (it finds the OR-Library optima well
    # within a second): at most max(LS_MIN_S, LS_LONG_SHARE of its share)
    budget = budget.child(seconds=max(LS_MIN_S, LS_LONG_SHARE * budget.remaining()))
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
    Step("ssdp", run_ssdp, share=1.0, when=ssdp_applicable),
    # ssdp uses the whole rest (its own stage 4 is CP-SAT); a CP-SAT model started on the few ms it
    # leaves would overrun the budget while it is built
    Step("cpsat", run_cpsat, share=1.0, when=lambda inst: not ssdp_applicable(inst)),
]


@register(
    PROBLEM,
    "auto",
    "portfolio",
    "rules, subset DP (small n) / Lawler DP (unweighted), iterated dynasearch, Lagrangian bound, CP-SAT",
)
def run_auto(inst: Instance, budget: Budget, hint: Any) -> Result:
    return run_portfolio(inst, budget, STEPS, hint, name="auto")
