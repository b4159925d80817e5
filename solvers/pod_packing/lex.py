"""CP-SAT solved level by level (``cpsat-lex``): fix the optimum of one priority level before the next.

The model is :class:`solvers.pod_packing.cpsat.PodModel` (every constraint kind, node/device symmetry
breaking, hints canonicalised). Instead of one mixed-radix objective whose huge weights make CP-SAT's
linear relaxation useless, the priority levels of the pending pods are solved highest first:

1. phase k maximises ``placed_k`` (pods of level k placed) under ``placed_j >= opt_j`` for every
   level j above (their proved optima), hinted with the incumbent;
2. a level is *skipped* (no solve) when the incumbent already leaves pending only the pods that can be
   placed in no solution (:func:`solvers.pod_packing.common.forced_unplaced`): that count is a lower
   bound whatever the other levels do, so the incumbent's value is the level's optimum;
3. after the levels, one phase minimises the tail (evictions/moves, then packing) with every level fixed.

Proof of the bound: let ``opt_1..opt_{k-1}`` be proved and ``ub_k`` the proved upper bound of phase k
(``placed_k <= ub_k`` whenever ``unplaced_j = opt_j`` above). A solution either has ``unplaced_j >
opt_j`` at the first level where it differs from the optima above — then, as the weights are mixed
radix (``W_j > sum_{i > j} W_i * max_i``), its objective exceeds ``sum_{i<j} W_i opt_i + W_j opt_j``
plus anything the lower components can contribute — or it matches every level above and then
``unplaced_k >= size_k - ub_k``. Hence ``objective >= sum_{j<k} W_j opt_j + W_k (size_k - ub_k)``. When
every level is proved, the tail phase's bound is added the same way. A phase that is stopped before
its proof ends the bound at that level; later phases still run to improve the incumbent (with
``placed_k >=`` the incumbent's value, which keeps it feasible).

Budget: each remaining phase that needs a solve gets an equal share of what is left (a phase that
proves early hands its time on); the build is budget-polled.
"""

from __future__ import annotations

import time
from typing import Any

from ortools.sat.python import cp_model

from models.pod_packing import Instance, Solution
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.pod_packing.common import (
    check_cost,
    checked,
    forced_unplaced,
    level_bound_source,
    lex_lower_bound,
)
from solvers.pod_packing.cpsat import BuildStopped, PodModel, build_stopped
from solvers.registry import register
from solvers.result import Result, Status


def _unplaced(instance: Instance, sol: Solution | None, level: int) -> int:
    if sol is None:
        return sum(1 for p in instance.pods if p.priority == level)
    placed = dict(sol.placements)
    return sum(1 for p in instance.pods if p.priority == level and placed.get(p.name) is None)


@register("pod_packing", "cpsat-lex", "exact", "CP-SAT level by level (priority optima fixed in turn)")
def run_lex(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    t0 = time.perf_counter()
    stats: dict[str, Any] = {}
    o = instance.options
    if hint is not None and o.packing == "none" and not o.allow_evictions and o.max_moves == 0:
        # no tail component: certified at once when the hint meets the capacity bound on every level
        lbs, total = lex_lower_bound(instance)
        if checked(instance, hint).feasible and all(
            _unplaced(instance, hint, lv) <= u for lv, u in lbs.items()
        ):
            stats["certified_by_capacity"] = True
            return Result(
                instance.PROBLEM,
                Status.FEASIBLE,
                "cpsat-lex",
                solution=hint,
                bound=float(total),
                bound_source=level_bound_source(instance),
                limit=budget.limit_reason(),
                stats=stats,
            )
    try:
        pm = PodModel(instance, budget)
    except BuildStopped:
        return build_stopped(instance, budget, "cpsat-lex", t0)
    stats["build_s"] = round(time.perf_counter() - t0, 4)
    m = pm.m
    levels = sorted({p.priority for p in instance.pods}, reverse=True)
    size = {lv: sum(1 for p in instance.pods if p.priority == lv) for lv in levels}
    forced_list = forced_unplaced(instance)
    forced = {
        lv: sum(1 for i, p in enumerate(instance.pods) if p.priority == lv and forced_list[i])
        for lv in levels
    }
    best: Solution | None = None
    best_obj = float("inf")
    if hint is not None:
        ev = checked(instance, hint)
        if ev.feasible:
            best, best_obj = hint, ev.objective

    def consider(sol: Solution, phase: str) -> None:
        nonlocal best, best_obj
        ev = checked(instance, sol)
        if ev.feasible and ev.objective < best_obj:
            best, best_obj = sol, ev.objective
            budget.report("cpsat-lex", best_obj, None, sol)

    fixed: dict[int, int] = {}  # proved optimum (or, for the first unproved level, its lower bound)
    proving = True
    tail_terms, tail_const = pm.tail
    tail_bound = 0.0 if not tail_terms else None
    phases: list[tuple[str, Any]] = [(f"p{lv}", lv) for lv in levels]
    if tail_terms:
        phases.append(("tail", None))
    limit = budget.limit_reason()

    def level_lb(lv: int) -> int:
        return lex_lower_bound(instance, fixed)[0][lv] if proving else forced[lv]

    for k, (name, lv) in enumerate(phases):
        expr: Any = 0
        if lv is not None:
            inc = _unplaced(instance, best, lv)
            lb = level_lb(lv)
            expr = sum(pm.level_placed[lv]) if pm.level_placed[lv] else 0
            if best is not None and inc <= lb:
                if not isinstance(expr, int):
                    m.add(expr >= size[lv] - inc)
                if proving:
                    fixed[lv] = inc
                stats[f"{name}.skipped"] = True
                continue
            if isinstance(expr, int):  # nothing placeable at this level
                if proving:
                    fixed[lv] = size[lv]
                continue
            m.maximize(expr)
        else:
            if not proving:
                break  # the tail cannot improve the bound any more; the levels are what matter
            m.minimize(sum(tail_terms) + tail_const)
        if budget.should_stop():
            limit = budget.limit_reason()
            if proving and lv is not None:
                fixed[lv] = level_lb(lv)
            proving = False
            break
        m.clear_hints()
        if best is not None:
            pm.add_hint(best)
        todo = 1 + sum(1 for _, x in phases[k + 1 :] if x is None or _unplaced(instance, best, x) > forced[x])
        # the answer of a solve stopped at the deadline is still extracted and checked: keep that time
        keep = check_cost(instance)
        sub = budget.child(seconds=max(0.0, budget.remaining() - keep) / max(1, todo))
        out = solve_cpsat(m, sub)
        stats[f"{name}.status"] = out.solver.status_name(out.status)
        if out.has_solution:
            consider(pm.extract(out.solver.boolean_value), name)
        closed = out.status == cp_model.OPTIMAL and not sub.cancelled
        if lv is not None:
            if closed:
                opt_placed = round(out.solver.objective_value)
                m.add(expr >= opt_placed)
                if proving:
                    fixed[lv] = size[lv] - opt_placed
            else:
                if proving:
                    lvb = level_lb(lv)
                    if out.has_solution and out.bound is not None:
                        lvb = max(lvb, size[lv] - int(out.bound + 1e-6))
                    fixed[lv] = lvb
                    proving = False
                m.add(expr >= size[lv] - _unplaced(instance, best, lv))
                limit = out.limit
        else:
            if closed:
                tail_bound = float(out.solver.objective_value)
            elif out.has_solution and out.bound is not None:
                tail_bound = max(0.0, float(out.bound))
            else:
                tail_bound = 0.0
            if not closed:
                limit = out.limit
    bound = float(lex_lower_bound(instance, fixed)[1])
    if tail_bound is not None and all(lv in fixed for lv in levels):
        bound += tail_bound
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "cpsat-lex",
        solution=best,
        bound=bound,
        bound_source="cpsat-lex" if bound is not None else "",
        limit=limit,
        stats=stats,
    )
