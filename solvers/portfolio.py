"""The ``auto`` chain shared by every family: fast heuristics first, then exact methods warm-started.

A family builds its portfolio as a list of :class:`Step` and calls :func:`run_portfolio`. Each step gets
a child budget (a share of what is left, never more), the best incumbent so far as its hint, and may
return a better solution and/or a better bound. The chain stops as soon as the incumbent meets the best
bound or the gap target, or the budget is spent; the result names the solver that found the incumbent
and the one that proved the bound (``bound_source``), and ``stats`` records every step.

A step that raises (a solver bug, or MemoryError under a worker's address-space limit, e.g. in the
arc tables of SMTT's Lagrangian bound on a long horizon) is logged and recorded as ``<step>.error`` in
``stats``; the chain goes on with the incumbent and bound it had, so what earlier steps found is not
lost to a later step's failure.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models import Evaluation, family
from solvers.budget import Budget
from solvers.result import Limit, Result, Status, bounds_meet, round_bound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Any, Budget, Any], Result]
    #: share of the remaining budget this step may use (1.0 = all that is left)
    share: float = 1.0
    #: skip the step when this predicate on the instance is false (e.g. "n <= 60")
    when: Callable[[Any], bool] | None = None


def run_portfolio(
    instance: Any,
    budget: Budget,
    steps: list[Step],
    hint: Any = None,
    name: str = "auto",
    *,
    check: Callable[[Any, Any], Evaluation] | None = None,
    worth_checking: Callable[[Any, Any, Any], bool] | None = None,
    reserve: Callable[[Any], float] | None = None,
) -> Result:
    """Run ``steps`` in turn (see the module doc). A family whose checker is expensive can pass
    ``check`` (``evaluate`` by default, e.g. one that remembers what it has checked),
    ``worth_checking(instance, solution, best)`` (False: the solution cannot beat the incumbent, so it
    is not checked at all) and ``reserve(instance)``: seconds kept back from every step after the first,
    so the registry's final check still ends within the budget."""
    model = family(instance.PROBLEM)
    check = check or model.evaluate
    integral = bool(getattr(model, "INTEGRAL_OBJECTIVE", False))
    best_sol, best_obj, found_by = None, math.inf, ""
    if hint is not None:
        ev = check(instance, hint)
        if ev.feasible:
            best_sol, best_obj, found_by = hint, ev.objective, "hint"
    best_bound, bound_source = -math.inf, "none"
    infeasible_by = ""
    stats: dict[str, Any] = {}
    ran = 0
    for step in steps:
        # The first step (a fast heuristic) runs even on an exhausted budget: a client whose deadline
        # is nearly gone still gets an incumbent rather than nothing. The expiry is checked before a
        # step's ``when``, which may cost time of its own (a model size estimate).
        if budget.expired() and ran > 0:
            break
        if step.when is not None and not step.when(instance):
            continue
        ran += 1
        if best_sol is not None and (
            bounds_meet(best_obj, best_bound) or budget.should_stop(best_obj, best_bound)
        ):
            break
        kept = reserve(instance) if reserve is not None and ran > 1 else 0.0
        outer = budget.child(seconds=max(0.0, budget.remaining() - kept)) if kept > 0 else budget
        sub = outer.child(fraction=step.share)
        t = budget.elapsed()
        res: Result | None = None
        try:
            res = step.run(instance, sub, best_sol)
        except Exception as exc:  # keep what the earlier steps found (module docstring)
            log.exception("step %s of %s failed on %s", step.name, name, getattr(instance, "name", ""))
            stats[f"{step.name}.error"] = f"{type(exc).__name__}: {exc}"
        stats[f"{step.name}.time_s"] = round(budget.elapsed() - t, 4)
        if res is None:
            continue
        if res.status is Status.INFEASIBLE:
            infeasible_by = step.name
            break
        if res.solution is not None and (
            worth_checking is None or worth_checking(instance, res.solution, best_sol)
        ):
            ev = check(instance, res.solution)
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
        rounded = round_bound(best_bound, integral)
        best_bound = best_bound if rounded is None else rounded
    if infeasible_by:
        return Result(
            instance.PROBLEM,
            Status.INFEASIBLE,
            f"{name}({infeasible_by})",
            bound_source=infeasible_by,
            stats=stats,
        )
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
