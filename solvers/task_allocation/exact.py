"""Exact task-allocation solvers: ``mip`` (HiGHS), ``lp`` (LP bound), ``cpsat`` and ``pulp`` (CBC).

Formulation (shared): a binary x[i,j] for every *allowed* pair (see :mod:`._data`: forbidden pairs and
pairs whose demand exceeds the capacity alone are left out), Σ_i x[i,j] = 1 for every task, and
Σ_j d_r[i,j] x[i,j] <= cap_r[i] for every capacitated resource r and agent i. Objective Σ c[i,j] x[i,j]
for ``cost``; for ``makespan`` an integer C with Σ_j p[i,j] x[i,j] - C <= 0 for every agent, minimise C.
A task with no allowed pair proves infeasibility before any model is built.

Backends
--------
``mip``    HiGHS branch-and-cut (through :mod:`solvers.highs`, so the budget and cancellation apply),
           warm-started with the hint via ``setSolution``; the bound is HiGHS's proved dual bound.
``lp``     the LP relaxation solved by HiGHS; its optimal value is a valid lower bound (no solution).
``cpsat``  the same model in CP-SAT (exactly-one per task, linear capacities), hinted.
``pulp``   the same MIP through PuLP's CBC subprocess (``timeLimit`` = remaining budget, warm start).
           CBC's best bound is not exposed by PuLP, so a bound is reported only when CBC proved
           optimality with a zero gap target; cancellation only acts through the time limit.

The backends are imported with this module (at registration / worker warm-up), so no request pays
their import time inside its budget.

Measured (2 cores, single runs): gap12-0 -- CP-SAT proved 974 in 0.8 s, HiGHS in 1.4-2.0 s; Chu-Beasley
d05100 at 5 s -- both 6361 (bound 6349), CBC 6416 without a bound. On e801600 (80 x 1600) CP-SAT needs
~1.8 s just to build its model in Python while HiGHS builds in 0.1-0.2 s and ENGINEERING.md reports
CP-SAT at +133 % vs HiGHS +0.16 %. ``auto`` therefore uses HiGHS; a wider comparison is still to do.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import Any

import highspy
import numpy as np
import pulp
from ortools.sat.python import cp_model

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.highs import HighsOutcome, new_highs, run_highs
from solvers.registry import register
from solvers.result import Limit, Result, Status
from solvers.task_allocation import lagrange
from solvers.task_allocation._data import Arrays, arrays

#: the last LP-type bound with reduced costs (``lptabu``'s Lagrangian relaxation of the capacities) for
#: reduced-cost fixing: id(arrays) -> (arrays, z, rc m x n)
_LP_CACHE: dict[int, tuple[Arrays, float, np.ndarray]] = {}


def remember_lp(a: Arrays, z: float, rc: np.ndarray) -> None:
    """Keep one LP optimum (value ``z``, reduced costs ``rc`` per pair, +inf off the pairs) for
    :func:`run_mip` to fix variables with; the Arrays object is kept so its id stays unique."""
    _LP_CACHE.clear()
    _LP_CACHE[id(a)] = (a, z, rc)


def known_lp(a: Arrays) -> tuple[float, np.ndarray] | None:
    """The LP bound and reduced costs :func:`remember_lp` kept for these arrays, or None."""
    lp = _LP_CACHE.get(id(a))
    if lp is not None and lp[0] is a:
        return lp[1], lp[2]
    return None


#: the last Lagrangian bound found by ``lagrange``: id(arrays) -> (arrays, u, bound)
_LAG_CACHE: dict[int, tuple[Arrays, np.ndarray, float]] = {}


def remember_multipliers(a: Arrays, u: np.ndarray, bound: float) -> None:
    """Keep the multipliers of one Lagrangian bound for :func:`run_mip`'s forced-pair fixing, and
    the bound for heuristics to stop at (:func:`known_bound`)."""
    _LAG_CACHE.clear()
    _LAG_CACHE[id(a)] = (a, u, bound)


def known_multipliers(a: Arrays) -> tuple[np.ndarray, float] | None:
    """The multipliers and bound :func:`remember_multipliers` kept for these arrays, or None."""
    lag = _LAG_CACHE.get(id(a))
    if lag is not None and lag[0] is a:
        return lag[1], lag[2]
    return None


def known_bound(a: Arrays) -> float | None:
    """The best proved bound the LP / Lagrangian caches hold for these arrays (None without one)."""
    found = []
    lp = _LP_CACHE.get(id(a))
    if lp is not None and lp[0] is a:
        found.append(lp[1])
    lag = _LAG_CACHE.get(id(a))
    if lag is not None and lag[0] is a:
        found.append(lag[2])
    return max(found) if found else None


def reduced_cost_fixing(a: Arrays, x0: np.ndarray, ub: float) -> tuple[Arrays, int]:
    """Drop the pairs that no assignment cheaper than ``ub`` can use, by LP reduced costs.

    Proof: with optimal LP duals y (free on the assignment rows, <= 0 on the capacity rows) and reduced
    costs rc = c - A^T y, every feasible x has c·x >= y·b + Σ rc_k x_k, and y·b = z + Σ_{k at upper
    bound} |rc_k|; so c·x >= z + rc_ij whenever x_ij = 1 and ij is non-basic at 0 (every other term
    is >= 0). With integral costs a solution better than ``ub`` costs <= ub - 1, so pairs with
    z + rc_ij > ub - 0.5 (0.5: a margin for LP tolerances) are in no such solution. The pairs of the
    incumbent ``x0`` are kept so the warm start stays valid. A dual bound B of the reduced MIP then
    proves min(ub, B) for the whole instance. Returns the reduced arrays and the number of pairs fixed.
    ``lptabu`` stores z = L(v) and rc from the Lagrangian relaxation of the capacities instead
    (:func:`.lagrange.capacity_relaxation`), for which c·x >= L(v) + rc_ij holds for every feasible x
    using (i, j) by the same argument (no LP needed).
    """
    if a.makespan:
        return a, 0
    keep = a.allowed.copy()
    entry = _LP_CACHE.get(id(a))
    if entry is not None and entry[0] is a:
        _, z, rc = entry
        keep &= z + rc < ub - 0.5
    lag = _LAG_CACHE.get(id(a))
    if lag is not None and lag[0] is a:
        # Lagrangian bounds with the pair forced (see lagrange.fixing_mask): the same argument, with
        # the knapsack relaxation's bound in place of the LP's
        keep &= lagrange.fixing_mask(a, lag[1], ub)
    if entry is None and lag is None:
        return a, 0
    keep[x0, np.arange(a.n)] = True
    fixed = int(a.allowed.sum() - keep.sum())
    return replace(a, allowed=keep), fixed


def _pairs(a: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Allowed pairs (agents, tasks), ordered task by task."""
    tasks, agents = np.nonzero(a.allowed.T)
    return agents.astype(np.int64), tasks.astype(np.int64)


def _infeasible(a: Arrays, solver: str) -> Result:
    return Result(
        PROBLEM,
        Status.INFEASIBLE,
        solver,
        bound_source="a task fits no agent",
        message=f"task {a.orphans[0]} has no allowed agent that can hold it",
    )


def _hint_assignment(a: Arrays, hint: Solution | None) -> np.ndarray | None:
    if hint is None or len(hint.assignment) != a.n:
        return None
    x = np.asarray(hint.assignment, dtype=np.int64)
    if x.min() < 0 or x.max() >= a.m or not a.allowed[x, np.arange(a.n)].all():
        return None
    return x


def _decode(a: Arrays, agents: np.ndarray, tasks: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Assignment from (possibly slightly fractional) pair values: the largest value per task (the
    first such pair on ties); -1 for a task without a pair."""
    assign = np.full(a.n, -1, dtype=np.int64)
    if len(agents) == 0:
        return assign
    order = np.lexsort((-np.asarray(values, dtype=np.float64), tasks))  # stable: ties keep pair order
    t = tasks[order]
    first = np.r_[True, t[1:] != t[:-1]]
    assign[t[first]] = agents[order][first]
    return assign


#: build seconds per (agent, task) pair; a MIP whose budget is below this times its pairs is skipped
MIP_BUILD_S_PER_PAIR = 2e-6

#: seconds a HiGHS run may go on past its deadline before the caller stops waiting for it
HIGHS_GRACE = 0.05


def run_highs_within(h: Any, budget: Budget, *, is_mip: bool) -> HighsOutcome | None:
    """:func:`solvers.highs.run_highs` in a worker thread, waited for until ``HIGHS_GRACE`` s after the
    budget expires; None when HiGHS has not returned by then.

    HiGHS does not check its time limit or ``cancelSolve`` everywhere (e.g. inside presolve or the
    initial LP basis): on Yagiura 80 x 1600 models at load 4-7 runs returned 0.05-0.8 s after their
    deadline. highspy releases the GIL while it runs, so the caller can stop waiting; the abandoned
    run is still cancelled by run_highs's watcher and ends on its own, its model is never read again
    (it only costs CPU for that tail).
    """
    box: list[HighsOutcome] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(run_highs(h, budget, is_mip=is_mip))
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    # not a daemon: interpreter exit waits for an abandoned run (it is being cancelled) instead of
    # tearing HiGHS down under it (std::terminate)
    th = threading.Thread(target=target, name="highs-run", daemon=False)
    th.start()
    expired_at = None
    while th.is_alive():
        th.join(0.01)
        if budget.expired():
            now = time.monotonic()
            expired_at = now if expired_at is None else expired_at
            if now - expired_at > HIGHS_GRACE and th.is_alive():
                return None
    if errors:
        raise errors[0]
    return box[0]


def _build_highs(a: Arrays, budget: Budget, integral: bool) -> tuple[Any, np.ndarray, np.ndarray]:
    agents, tasks = _pairs(a)
    P = len(agents)
    ncol = P + (1 if a.makespan else 0)
    cost = np.zeros(ncol)
    if a.makespan:
        cost[P] = 1.0
    else:
        cost[:P] = a.obj[agents, tasks]
    lower = np.zeros(ncol)
    upper = np.ones(ncol)
    if a.makespan:
        upper[P] = highspy.kHighsInf
    R = a.dem.shape[0]
    # rows: n assignment rows, then R*m capacity rows, then m makespan rows
    rows_lo: list[float] = [1.0] * a.n
    rows_hi: list[float] = [1.0] * a.n
    for r in range(R):
        rows_lo += [-highspy.kHighsInf] * a.m
        rows_hi += [float(c) for c in a.cap[r]]
    if a.makespan:
        rows_lo += [-highspy.kHighsInf] * a.m
        rows_hi += [0.0] * a.m
    # column-wise matrix, vectorised: per pair column its assignment row, its capacity rows, its load row
    rows = [tasks[:, None]]
    vals = [np.ones((P, 1))]
    for r in range(R):
        rows.append((a.n + r * a.m + agents)[:, None])
        vals.append(a.dem[r, agents, tasks].astype(np.float64)[:, None])
    if a.makespan:
        rows.append((a.n + R * a.m + agents)[:, None])
        vals.append(a.obj[agents, tasks][:, None])
    row_m = np.hstack(rows)
    val_m = np.hstack(vals)
    keep = val_m != 0
    index = row_m[keep]
    value = val_m[keep]
    starts = np.concatenate(([0], np.cumsum(keep.sum(axis=1))))
    if a.makespan:
        index = np.concatenate((index, a.n + R * a.m + np.arange(a.m)))
        value = np.concatenate((value, -np.ones(a.m)))
        starts = np.append(starts, len(index))
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = len(rows_lo)
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.asarray(rows_lo)
    lp.row_upper_ = np.asarray(rows_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value)
    if integral:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * ncol
    h = new_highs(budget)
    h.passModel(lp)
    return h, agents, tasks


@register(PROBLEM, "mip", "exact", "HiGHS MIP (binary pair variables), warm-started, dual bound")
def run_mip(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans:
        return _infeasible(a, "mip")
    t0 = time.perf_counter()
    x0 = _hint_assignment(a, hint)
    ub = None
    fixed = 0
    if x0 is not None and not a.makespan:
        ub = float(a.obj[x0, np.arange(a.n)].sum())
        a, fixed = reduced_cost_fixing(a, x0, ub)
    if budget.remaining() < MIP_BUILD_S_PER_PAIR * int(a.allowed.sum()):
        # building the model alone would take what is left (0.13-0.3 s for 128k pairs at load 4-7)
        return Result(
            PROBLEM,
            Status.NO_SOLUTION,
            "mip",
            limit=budget.limit_reason() if budget.expired() else Limit.TIME,
            stats={"model_status": "skipped: budget too short to build the model", "fixed_pairs": fixed},
        )
    h, agents, tasks = _build_highs(a, budget, integral=True)
    if budget.deterministic:
        # HiGHS has no deterministic work limit in this API; a single thread and a fixed seed make
        # runs repeatable when the time limit is not what stops them.
        h.setOptionValue("threads", 1)
    if x0 is not None:
        sol = highspy.HighsSolution()
        vals = (x0[tasks] == agents).astype(np.float64)
        if a.makespan:
            loads = np.bincount(x0, weights=a.obj[x0, np.arange(a.n)], minlength=a.m)
            vals = np.append(vals, loads.max())
        sol.col_value = vals.tolist()
        h.setSolution(sol)
    build_s = time.perf_counter() - t0
    got = run_highs_within(h, budget, is_mip=True)
    stats: dict[str, Any] = {"build_s": round(build_s, 4), "pairs": len(agents), "fixed_pairs": fixed}
    if got is None:  # HiGHS overran its deadline: the caller keeps its incumbent
        stats["model_status"] = "abandoned after the deadline"
        return Result(PROBLEM, Status.NO_SOLUTION, "mip", limit=budget.limit_reason(), stats=stats)
    out = got
    stats["model_status"] = h.modelStatusToString(out.model_status)
    if out.infeasible and not fixed:
        return Result(PROBLEM, Status.INFEASIBLE, "mip", bound_source="HiGHS", stats=stats)
    solution = None
    if out.x is not None:
        assign = _decode(a, agents, tasks, out.x[: len(agents)])
        if assign.min() >= 0:
            solution = Solution.from_array(assign)
    bound = out.bound
    if fixed and ub is not None:
        # the reduced model's bound covers solutions without fixed pairs; the others cost >= ub
        bound = ub if out.infeasible else (None if bound is None else min(bound, ub))
    if solution is not None:
        budget.report("mip", out.objective, bound, solution)
    return Result(
        PROBLEM,
        Status.FEASIBLE if solution is not None else Status.NO_SOLUTION,
        "mip",
        solution=solution,
        bound=bound,
        bound_source="HiGHS MIP dual bound" + (" after LP reduced-cost fixing" if fixed else ""),
        limit=out.limit,
        stats=stats,
    )


@register(PROBLEM, "lp", "exact", "LP relaxation (HiGHS): a lower bound only, no solution")
def run_lp(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans:
        return _infeasible(a, "lp")
    h, _, _ = _build_highs(a, budget, integral=False)
    out = run_highs_within(h, budget, is_mip=False)
    if out is None:
        return Result(PROBLEM, Status.NO_SOLUTION, "lp", limit=budget.limit_reason())
    if out.infeasible:
        return Result(PROBLEM, Status.INFEASIBLE, "lp", bound_source="LP relaxation infeasible")
    return Result(
        PROBLEM, Status.NO_SOLUTION, "lp", bound=out.bound, bound_source="LP relaxation", limit=out.limit
    )


@register(PROBLEM, "cpsat", "exact", "CP-SAT: exactly-one per task, linear capacities, hinted")
def run_cpsat(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans:
        return _infeasible(a, "cpsat")
    agents, tasks = _pairs(a)
    model = cp_model.CpModel()
    xs = []
    for k in range(len(agents)):  # building a large model in Python is slow: poll the budget
        if k % 4096 == 0 and budget.should_stop():
            return Result(PROBLEM, Status.NO_SOLUTION, "cpsat", limit=budget.limit_reason())
        xs.append(model.new_bool_var(f"x{agents[k]}_{tasks[k]}"))
    by_task: list[list[int]] = [[] for _ in range(a.n)]
    by_agent: list[list[int]] = [[] for _ in range(a.m)]
    for k, (i, j) in enumerate(zip(agents, tasks, strict=True)):
        by_task[j].append(k)
        by_agent[i].append(k)
    for j, ks in enumerate(by_task):
        if j % 256 == 0 and budget.should_stop():
            return Result(PROBLEM, Status.NO_SOLUTION, "cpsat", limit=budget.limit_reason())
        model.add_exactly_one(xs[k] for k in ks)
    if budget.should_stop():
        return Result(
            PROBLEM, Status.NO_SOLUTION, "cpsat", limit=budget.limit_reason(), stats={"pairs": len(xs)}
        )
    for r in range(a.dem.shape[0]):
        for i in range(a.m):
            if budget.should_stop():
                return Result(PROBLEM, Status.NO_SOLUTION, "cpsat", limit=budget.limit_reason())
            ks = by_agent[i]
            terms = [(int(a.dem[r, i, tasks[k]]), xs[k]) for k in ks if a.dem[r, i, tasks[k]]]
            if terms and sum(c for c, _ in terms) > a.cap[r, i]:
                model.add(sum(c * v for c, v in terms) <= int(a.cap[r, i]))
    if a.makespan:
        ub = int(max(a.obj.sum(axis=1).max(), 0))
        cmax = model.new_int_var(0, ub, "cmax")
        for i in range(a.m):
            model.add(sum(int(a.obj[i, tasks[k]]) * xs[k] for k in by_agent[i]) <= cmax)
        model.minimize(cmax)
    else:
        model.minimize(sum(int(a.obj[i, j]) * x for i, j, x in zip(agents, tasks, xs, strict=True)))
    x0 = _hint_assignment(a, hint)
    if x0 is not None:
        for k, x in enumerate(xs):
            model.add_hint(x, bool(x0[tasks[k]] == agents[k]))
    if budget.should_stop():  # building a large model in Python can eat a short budget
        return Result(
            PROBLEM, Status.NO_SOLUTION, "cpsat", limit=budget.limit_reason(), stats={"pairs": len(xs)}
        )
    out = solve_cpsat(model, budget)
    stats = {"pairs": len(xs), "branches": out.solver.num_branches, "conflicts": out.solver.num_conflicts}
    if out.infeasible:
        return Result(PROBLEM, Status.INFEASIBLE, "cpsat", bound_source="CP-SAT", stats=stats)
    solution = None
    if out.has_solution:
        vals = np.fromiter((out.solver.boolean_value(x) for x in xs), dtype=np.float64, count=len(xs))
        assign = _decode(a, agents, tasks, vals)
        solution = Solution.from_array(assign)
        budget.report("cpsat", out.solver.objective_value, out.bound, solution)
    return Result(
        PROBLEM,
        Status.FEASIBLE if solution is not None else Status.NO_SOLUTION,
        "cpsat",
        solution=solution,
        bound=out.bound,
        bound_source="CP-SAT objective bound",
        limit=out.limit,
        stats=stats,
    )


@register(PROBLEM, "pulp", "exact", "The MIP through PuLP's CBC (subprocess); bound only when proved")
def run_pulp(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans:
        return _infeasible(a, "pulp")
    agents, tasks = _pairs(a)
    prob = pulp.LpProblem("gap", pulp.LpMinimize)
    xs = [pulp.LpVariable(f"x_{i}_{j}", cat="Binary") for i, j in zip(agents, tasks, strict=True)]
    by_task: list[list[int]] = [[] for _ in range(a.n)]
    by_agent: list[list[int]] = [[] for _ in range(a.m)]
    for k, (i, j) in enumerate(zip(agents, tasks, strict=True)):
        by_task[j].append(k)
        by_agent[i].append(k)
    if a.makespan:
        cmax = pulp.LpVariable("cmax", lowBound=0, cat="Integer")
        prob += cmax
        for i in range(a.m):
            prob += pulp.lpSum(float(a.obj[i, tasks[k]]) * xs[k] for k in by_agent[i]) <= cmax
    else:
        prob += pulp.lpSum(float(a.obj[i, j]) * x for i, j, x in zip(agents, tasks, xs, strict=True))
    for ks in by_task:
        prob += pulp.lpSum(xs[k] for k in ks) == 1
    for r in range(a.dem.shape[0]):
        for i in range(a.m):
            prob += pulp.lpSum(float(a.dem[r, i, tasks[k]]) * xs[k] for k in by_agent[i]) <= float(
                a.cap[r, i]
            )
    x0 = _hint_assignment(a, hint)
    if x0 is not None:
        for k, x in enumerate(xs):
            x.setInitialValue(1 if x0[tasks[k]] == agents[k] else 0)
        if a.makespan:
            cmax.setInitialValue(
                float(np.bincount(x0, weights=a.obj[x0, np.arange(a.n)], minlength=a.m).max())
            )
    limit = budget.time_limit(cap=1e7)
    solver = pulp.PULP_CBC_CMD(
        msg=False,
        timeLimit=max(1, math.ceil(limit)) if math.isfinite(budget.remaining()) else None,
        threads=max(1, budget.workers),
        warmStart=x0 is not None,
        gapRel=budget.gap_target if budget.gap_target > 0 else None,
        options=[f"randomSeed {budget.seed % (2**31 - 1)}"] if budget.deterministic else None,
    )
    status = prob.solve(solver)
    stats = {"pulp_status": pulp.LpStatus[status], "sol_status": pulp.LpSolution.get(prob.sol_status, "")}
    if status == pulp.LpStatusInfeasible:
        return Result(PROBLEM, Status.INFEASIBLE, "pulp", bound_source="CBC", stats=stats)
    solution = None
    if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        vals = np.asarray([x.varValue or 0.0 for x in xs])
        assign = _decode(a, agents, tasks, vals)
        if assign.min() >= 0:
            solution = Solution.from_array(assign)
    bound = None
    proved = prob.sol_status == pulp.LpSolutionOptimal and budget.gap_target == 0 and not budget.expired()
    if proved and solution is not None:
        bound = float(pulp.value(prob.objective))
    return Result(
        PROBLEM,
        Status.FEASIBLE if solution is not None else Status.NO_SOLUTION,
        "pulp",
        solution=solution,
        bound=bound,
        bound_source="CBC optimal" if bound is not None else "",
        limit=Limit.NONE
        if proved
        else (budget.limit_reason() if budget.limit_reason() is not Limit.NONE else Limit.TIME),
        stats=stats,
    )
