"""Exact CP-SAT model for SMTT (kind ``exact``, name ``cpsat``).

Formulation: one fixed-length interval per job with start in [0, P - p_j] (P = Σp: there is never idle
time in an optimal schedule, so every job ends by P), ``add_no_overlap`` over the intervals, and
T_j >= end_j - d_j, T_j in [0, max(0, P - d_j)]; minimise Σ w_j T_j.

Strengthening, all proved valid:

* the Emmons-type precedences of :mod:`solvers.smtt.dominance` (end_i <= start_j), for
  n <= :data:`DOMINANCE_MAX_N`; the hint is first repaired to obey them (never at a higher cost);
* the objective is >= the family's cheap bound (:mod:`solvers.smtt.bounds`), a proved relaxation;
* jobs with T_j forced to 0 (d_j >= P) get no tardiness variable.

The hint (or, without one, the best dispatching rule) is handed to CP-SAT as a solution hint. The
bound returned is CP-SAT's proved objective bound (``bound_source = "cpsat"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.registry import register
from solvers.result import Result
from solvers.smtt.bounds import best_bound
from solvers.smtt.common import cost, hint_sequence, result
from solvers.smtt.dominance import precedence_pairs, repair
from solvers.smtt.rules import best_rule

#: the precedence computation and hint repair are O(n^3) / O(n^2) per swap: skipped above this size
DOMINANCE_MAX_N = 400


def build_model(
    inst: Instance, hint: np.ndarray | None, *, dominance: bool = True
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], cp_model.LinearExpr]:
    n = inst.n
    p = [int(x) for x in inst.p]
    d = [int(x) for x in inst.d]
    w = [int(x) for x in inst.w]
    big_p = sum(p)
    m = cp_model.CpModel()
    starts = [m.new_int_var(0, big_p - p[j], f"s{j}") for j in range(n)]
    intervals = [m.new_fixed_size_interval_var(starts[j], p[j], f"i{j}") for j in range(n)]
    m.add_no_overlap(intervals)
    terms = []
    for j in range(n):
        if d[j] >= big_p or w[j] == 0:
            continue
        t = m.new_int_var(0, big_p - d[j], f"t{j}")
        m.add(t >= starts[j] + p[j] - d[j])
        terms.append(w[j] * t)
    obj = cp_model.LinearExpr.sum(terms) if terms else cp_model.LinearExpr.constant(0)
    if dominance:
        for i, j in precedence_pairs(inst):
            m.add(starts[i] + p[i] <= starts[j])
    lb, _ = best_bound(inst)
    if lb > 0:
        m.add(obj >= lb)
    m.minimize(obj)
    if hint is not None:
        clock = 0
        for j in hint:
            m.add_hint(starts[int(j)], clock)
            clock += p[int(j)]
    return m, starts, obj


def _sequence(values: list[int], inst: Instance) -> np.ndarray:
    """Order jobs by (end, length, index). Non-zero jobs do not overlap, so every job sorted before job
    k lies inside [0, end_k]: back to back, each job then completes no later than in CP-SAT's schedule
    (a zero-length job placed inside a long one goes before it), so the cost never exceeds CP-SAT's."""
    ends = np.asarray(values, dtype=np.int64) + inst.p
    return np.lexsort((np.arange(inst.n), inst.p, ends)).astype(np.int64)


@register(PROBLEM, "cpsat", "exact", "CP-SAT: no-overlap intervals, Emmons precedences, hinted")
def run_cpsat(inst: Instance, budget: Budget, hint: Any) -> Result:
    h = hint_sequence(inst, hint)
    if h is None:
        h, _, _ = best_rule(inst)
    dominance = inst.n <= DOMINANCE_MAX_N
    if dominance:
        h = repair(inst, h)  # the model enforces the precedences: make the hint obey them (never worse)
    model, starts, _ = build_model(inst, h, dominance=dominance)
    best = [cost(inst, h)]

    def on_solution(cb: cp_model.CpSolverSolutionCallback) -> None:
        v = cb.objective_value
        if v < best[0]:
            best[0] = int(v)
            budget.report("cpsat", float(v), cb.best_objective_bound, None)

    out = solve_cpsat(model, budget, on_solution=on_solution)
    seq = None
    if out.has_solution:
        seq = _sequence([out.solver.value(s) for s in starts], inst)
    if seq is None or cost(inst, seq) > cost(inst, h):
        seq = h  # CP-SAT may stop before re-finding its hint: never return worse than it was given
    stats = {
        "branches": out.solver.num_branches,
        "conflicts": out.solver.num_conflicts,
        "cpsat_wall_s": round(out.solver.wall_time, 4),
    }
    return result("cpsat", seq, limit=out.limit, bound=out.bound, bound_source="cpsat", stats=stats)
