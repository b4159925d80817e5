"""``auto`` for pod packing: kube (LeastAllocated) -> fit -> greedy -> lns -> cpsat-lex, warm-started.

``kube`` is the baseline the answer must never be worse than (and the first incumbent); ``fit`` is the
better of the Numba packers ``fgd`` and ``bfd`` (:mod:`.fit`: decreasing size per level,
fragmentation-aware / best-fit scoring); ``greedy`` tries
priority/size orders with best fit (MostAllocated, which also covers ``kube-most``); ``lns`` re-solves
a few nodes at a time with CP-SAT (small models that solve in milliseconds); ``cpsat-lex`` solves the
priority levels in turn from the best of them, and certifies a level at once, without a model, when
the incumbent meets the capacity bound. CP-SAT is skipped when the model would have more than
:data:`MAX_CPSAT_LITERALS` placement/device literals (its build alone would take seconds): ``auto``
then answers with the heuristics and the capacity bound.

The chain is :func:`solvers.portfolio.run_portfolio`'s (same child budgets, stop rules, stats and
result naming), except for the checks: the checker costs tens of milliseconds on a few hundred pods,
which a 1 s budget cannot pay several times over, so a step's answer is checked only when it can be
better than the incumbent (:func:`.common.worth_checking`: its pending vector is lexicographically
smaller, or equal when evictions, moves or packing count), and each solution object once
(:func:`.common.checked`). Every answer the chain adopts is checked; the registry checks the final
one again. Each step after the first ends early enough for the registry's check (timed by
:func:`.common.check_cost`), so the answer comes back within the budget.
"""

from __future__ import annotations

import math
from typing import Any

from models.pod_packing import Instance
from solvers.budget import Budget
from solvers.pod_packing.common import check_cost, checked, worth_checking
from solvers.pod_packing.cpsat import estimated_size
from solvers.pod_packing.fit import run_fit
from solvers.pod_packing.greedy import run_greedy
from solvers.pod_packing.kube import run_kube
from solvers.pod_packing.lex import run_lex
from solvers.pod_packing.lns import run_lns
from solvers.portfolio import Step
from solvers.registry import register
from solvers.result import Limit, Result, Status, bounds_meet, round_bound

MAX_CPSAT_LITERALS = 150_000
#: ``greedy`` runs only on batches of at most this many pods
GREEDY_MAX_PODS = 150


def run_chain(
    instance: Instance, budget: Budget, steps: list[Step], hint: Any = None, name: str = "auto"
) -> Result:
    best_sol, best_obj, found_by = None, math.inf, ""
    if hint is not None:
        ev = checked(instance, hint)
        if ev.feasible:
            best_sol, best_obj, found_by = hint, ev.objective, "hint"
    best_bound, bound_source = -math.inf, "none"
    stats: dict[str, Any] = {}
    ran = 0
    for step in steps:
        if step.when is not None and not step.when(instance):
            continue
        # the first step (the replica) runs even on an exhausted budget: a caller always gets an answer
        if budget.expired() and ran > 0:
            break
        ran += 1
        if best_sol is not None and (
            bounds_meet(best_obj, best_bound) or budget.should_stop(best_obj, best_bound)
        ):
            break
        # keep time for the registry's final check (LNS stops before its own last check by itself)
        reserve = 0.0 if ran == 1 else check_cost(instance)
        inner = budget.child(seconds=max(0.0, budget.remaining() - reserve))
        sub = inner.child(fraction=step.share)
        t = budget.elapsed()
        res = step.run(instance, sub, best_sol)
        stats[f"{step.name}.time_s"] = round(budget.elapsed() - t, 4)
        if res.solution is not None and worth_checking(instance, res.solution, best_sol):
            ev = checked(instance, res.solution)
            if ev.feasible:
                stats[f"{step.name}.objective"] = ev.objective
                if ev.objective < best_obj:
                    best_sol, best_obj, found_by = res.solution, ev.objective, step.name
                    budget.report(
                        step.name, best_obj, best_bound if best_bound > -math.inf else None, best_sol
                    )
        if res.bound is not None and res.bound > best_bound:
            best_bound, bound_source = res.bound, res.bound_source or step.name
            stats[f"{step.name}.bound"] = res.bound
            if best_sol is not None:
                budget.report(step.name, best_obj, best_bound, None)
        rounded = round_bound(best_bound, True)
        best_bound = best_bound if rounded is None else rounded
    proved = best_sol is not None and bounds_meet(best_obj, best_bound)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE if best_sol is not None else Status.NO_SOLUTION,
        f"{name}({found_by})" if found_by else name,
        solution=best_sol,
        bound=None if math.isinf(best_bound) else best_bound,
        bound_source=bound_source,
        limit=Limit.NONE if proved else budget.limit_reason(),
        stats=stats,
    )


@register("pod_packing", "auto", "portfolio", "kube -> fit -> greedy -> lns -> cpsat-lex (warm-started)")
def run_auto(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    steps = [
        Step("kube", run_kube, share=0.6),
        Step("fit", run_fit, share=0.3),
        # big batches: fit's orders cover greedy's; the time goes to LNS
        Step("greedy", run_greedy, share=0.3, when=lambda i: len(i.pods) <= GREEDY_MAX_PODS),
        Step("lns", run_lns, share=0.6),
        Step("cpsat-lex", run_lex, share=1.0, when=lambda i: estimated_size(i) <= MAX_CPSAT_LITERALS),
    ]
    return run_chain(instance, budget, steps, hint=hint, name="auto")
