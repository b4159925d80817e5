"""``tabu``: tabu search with adaptive capacity-violation penalties (GAP, cost objective).

Method
    Start from the hint (or the ``greedy`` incumbent; if no feasible construction exists, from every
    task on its least normalised-demand agent -- the search may start infeasible). Each iteration
    takes the best non-tabu move on the penalised cost Σ c[a(j)][j] + Σ_{r,i} w[r,i]·excess[r,i]
    among all shifts and the swaps (j on a) <-> (k on b) with b one of j's few cheapest agents.
    A task moved off agent a may not return to a for a random tenure; a tabu move is still taken when
    it gives a feasible solution better than the best one (aspiration). The weights oscillate: each
    violated (resource, agent) weight grows by 10 % per iteration, and all shrink by 10 % while the
    current solution is feasible, so the search crosses the boundary of the feasible region instead
    of stalling on it (strategic oscillation, as in the penalty-based GAP tabu searches of Díaz &
    Fernández and Yagiura et al.). After a stall the search restarts from the best solution. Every
    feasible neighbour evaluated that beats the best solution is kept as the new best even when it is
    not the move taken (on tight instances the walk itself is rarely exactly feasible). Ejection
    chains of length 2 (j: a -> b, k: b -> e) are available (``CHAIN`` partners per agent) but off:
    at 5-6 s on Chu D and Yagiura c/d/e 20-40 x 400 they cost 2-3x the iterations for no gain. The
    best feasible solution is polished with the full shift/swap descent of :mod:`.greedy`. The search stops
    early when it reaches the cheap bound (proved optimal) or after ``MAX_IDLE_RESTARTS`` restarts in a
    row without a new best.

Budget and determinism
    The Numba kernel runs in chunks of iterations sized to roughly 20 ms, the budget is polled
    between chunks. The only random choice (tabu tenures) uses a xorshift generator seeded from
    ``budget.seed``; in deterministic mode the iteration count is fixed from the instance size
    (min(50 000, max(2 000, 2e7 / (m·n)))), so the same input and seed give the same answer
    unless the time limit stops the run first.

The makespan objective is not handled by the penalty search: for it, ``tabu`` returns the ``greedy``
result (LPT / regret with a load-descent).
"""

from __future__ import annotations

import math
import time

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import _kernels as K
from solvers.task_allocation import greedy
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible

#: number of cheapest agents per task that swap moves consider
CANDIDATES = 6
#: per-iteration growth factor of violated penalty weights (and shrink factor while feasible)
GROW = 1.1
#: stop after this many restarts without a new best
MAX_IDLE_RESTARTS = 30
#: penalty weights never shrink below this fraction of the initial weight
FLOOR = 1e-3
#: iterations without a new best before a restart from the best (at least 4 n)
STALL = 1000
#: partners per (task, agent) for which ejection chains of length 2 are evaluated (0: none)
CHAIN = 0
#: tabu tenure scale (tenures are drawn around TENURE * (7 + n / 20))
TENURE = 1.0


def candidate_agents(a: Arrays, k: int = CANDIDATES) -> np.ndarray:
    """n x k int64: each task's k cheapest allowed agents (-1 padded)."""
    c = np.where(a.allowed, a.obj, np.inf)
    order = np.argsort(c, axis=0, kind="mergesort")[: min(k, a.m)].T.copy()
    ok = np.take_along_axis(np.isfinite(c).T, order, axis=1)
    order[~ok] = -1
    return np.ascontiguousarray(order, dtype=np.int64)


def initial_weight(a: Arrays) -> float:
    """A penalty per unit of excess of the order of the cost per unit of demand."""
    if a.dem.shape[0] == 0:
        return 1.0
    c = np.where(a.allowed, a.obj, np.nan)
    spread = float(np.nanmean(np.nanmax(c, axis=0) - np.nanmin(c, axis=0)))
    d = float(a.dem.mean()) or 1.0
    return max(spread / d, 1e-3)


def search(
    a: Arrays, start: np.ndarray, budget: Budget, *, target: float = -math.inf, stats: dict | None = None
) -> np.ndarray | None:
    """Tabu search from ``start`` (any assignment on allowed pairs); the best feasible one or None."""
    R, m, n = a.dem.shape[0], a.m, a.n
    assign = start.astype(np.int64).copy()
    cost_t = np.ascontiguousarray(a.obj.T)
    dem_t = np.ascontiguousarray(a.dem.transpose(0, 2, 1))
    allowed_t = np.ascontiguousarray(a.allowed.T)
    loads = np.zeros((R, m), np.int64)
    members = np.zeros((m, n), np.int64)
    cnt = np.zeros(m, np.int64)
    pos = np.zeros(n, np.int64)
    K.ts_rebuild(assign, dem_t, loads, members, cnt, pos)
    w0 = initial_weight(a)
    pw = np.full((R, m), w0)
    tabu = np.zeros((n, m), np.int64)
    best = assign.copy()
    fs = np.array([math.inf, w0, GROW, FLOOR, CHAIN, TENURE])
    if is_feasible(a, assign):
        fs[0] = assignment_objective(a, assign)
    st = np.array([0, 0, (budget.seed * 2654435761 + 12345) % (2**62) + 1, 0], np.int64)
    cand = candidate_agents(a)
    stall = max(STALL, 4 * n)
    det_total = min(50_000, max(2_000, int(2e7 / (m * n)))) if budget.deterministic else None
    chunk = max(1, min(16, 200_000 // (m * n)))  # one iteration scans ~m n shifts: start small on big ones
    restarts_at_best = 0
    while not budget.should_stop(None if math.isinf(fs[0]) else float(fs[0]), target):
        if det_total is not None:
            chunk = min(chunk, det_total - int(st[0]))
            if chunk <= 0:
                break
        t = time.perf_counter()
        before = fs[0]
        K.tabu_search(
            assign, loads, pw, tabu, members, cnt, pos, best, fs, st, cost_t, dem_t, a.cap, allowed_t, cand,
            chunk, stall, float(target),
        )  # fmt: skip
        if fs[0] < before:
            budget.report("tabu", float(fs[0]), None, Solution.from_array(best))
            restarts_at_best = int(st[3])
        elif st[3] - restarts_at_best >= MAX_IDLE_RESTARTS:
            break  # many restarts from the same best without progress: the search has converged
        if fs[0] <= target:
            break
        dt = time.perf_counter() - t
        if dt < 0.01:
            chunk *= 2
        elif dt > 0.04 and chunk > 1:
            chunk //= 2
    if stats is not None:
        stats.update(iterations=int(st[0]), restarts=int(st[3]))
    if math.isinf(fs[0]):
        return None
    return best


#: seconds per (task pair) of one shift/swap descent pass, measured at load 4-5 (80 x 1600: ~0.09 s)
PASS_S_PER_PAIR = 4e-8
#: LP seconds per (agent, task) pair below which lptabu skips the LP (d801600's LP took 4.5 s at load 6)
LP_S_PER_PAIR = 1e-5


def polish(a: Arrays, x: np.ndarray, budget: Budget) -> None:
    """Up to two shift/swap descent passes on ``x`` (in place), each only while the budget has room
    for it: a pass is O(n^2), ~0.1 s on 1,600 tasks, too long to run after the deadline."""
    for _ in range(2):
        if budget.remaining() < PASS_S_PER_PAIR * a.n * a.n:
            return
        if K.improve_cost(x, a.obj, a.dem, a.cap, a.allowed, 1) == 0:
            return


def improve(inst: Instance, budget: Budget, hint: Solution | None, stats: dict) -> np.ndarray | None:
    """Tabu search from a feasible hint, else from the greedy incumbent (a tenth of the budget), else
    from the least-demand assignment (infeasible)."""
    a = arrays(inst)
    x = None
    if hint is not None and len(hint.assignment) == a.n:
        x = np.asarray(hint.assignment, dtype=np.int64)
        x = x if is_feasible(a, x) else None
    if x is None:  # no usable hint: greedy first, with a tenth of the budget
        x, gstats = greedy.heuristic(inst, budget.child(fraction=0.1), hint)
        stats["greedy_best_from"] = gstats.get("best_from", "")
    start = x if x is not None else greedy._repair_start(a)
    from solvers.task_allocation.exact import known_bound

    mins = np.where(a.allowed, a.obj, np.inf).min(axis=0)
    lb = max(float(mins.sum()), known_bound(a) or -math.inf)  # cheap, LP or Lagrangian bound
    target = math.ceil(lb - 1e-6)  # reaching it proves optimality
    best = search(a, start, budget, target=target, stats=stats)
    if best is None:
        return x
    if x is not None and assignment_objective(a, x) < assignment_objective(a, best):
        best = x
    polish(a, best, budget)
    return best


@register(PROBLEM, "tabu", "heuristic", "tabu search, shift/swap, adaptive capacity penalties (Numba)")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans or a.makespan:
        res = greedy.run(inst, budget, hint)
        return res.with_(solver="tabu")
    stats: dict = {}
    best = improve(inst, budget, hint, stats)
    if best is not None and not is_feasible(a, best):  # defensive: never hand out an infeasible answer
        best = None
    if best is not None:
        budget.report("tabu", assignment_objective(a, best), None, Solution.from_array(best))
    return Result(
        PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "tabu",
        solution=None if best is None else Solution.from_array(best),
        limit=budget.limit_reason(),
        stats=stats,
    )


def warmup() -> None:
    """Compile the tabu kernel on a 2-agent, 3-task instance."""
    cost = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 1.0]])
    dem = np.array([[[1, 1, 1], [1, 1, 1]]], dtype=np.int64)
    a = Arrays(2, 3, False, cost, dem, np.array([[2, 2]], np.int64), np.ones((2, 3), np.bool_), ())
    search(a, np.zeros(3, np.int64), Budget(deterministic=True))  # no time limit: the kernel must run


@register(PROBLEM, "lptabu", "heuristic", "LP relaxation (bound) rounded, then tabu search from it")
def run_lp_tabu(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    """Solve the LP relaxation with HiGHS (at most 70 % of the budget), round it (each task to its
    largest LP value: a vertex has at most m split tasks, so the start is near-feasible and near the LP
    cost) and run the tabu search from there; the LP optimum is reported as a proved bound. Measured at
    load 5-6: 5 s of tabu from the LP rounding ended 1.1 % / 0.44 % / 0.22 % above best known on
    e801600 / d801600 / c401600, where the greedy start gave +31 % / +1.7 % / +0.3 % at 10 s."""
    import highspy

    from solvers.task_allocation.exact import _build_highs, _decode, remember_lp, run_highs_within

    a = arrays(inst)
    if a.orphans or a.makespan:
        return run(inst, budget, hint).with_(solver="lptabu")
    stats: dict = {}
    lp_budget = budget.child(fraction=0.7)
    out = None
    if lp_budget.remaining() >= LP_S_PER_PAIR * int(a.allowed.sum()):  # else the LP cannot finish
        h, agents, tasks = _build_highs(a, lp_budget, integral=False)
        out = run_highs_within(h, lp_budget, is_mip=False)
    else:
        stats["lp"] = "skipped: budget too short for the LP"
    if out is not None and out.infeasible:
        return Result(PROBLEM, Status.INFEASIBLE, "lptabu", bound_source="LP relaxation infeasible")
    bound = None if out is None else out.bound
    start = None
    if out is not None and out.model_status == highspy.HighsModelStatus.kOptimal:
        values = np.asarray(h.getSolution().col_value)[: len(agents)]
        if bound is not None:  # reduced costs for the MIP's variable fixing
            rc = np.full((a.m, a.n), np.inf)
            rc[agents, tasks] = np.asarray(h.getSolution().col_dual)[: len(agents)]
            remember_lp(a, bound, rc)
        start = _decode(a, agents, tasks, values)
        stats["lp_split_tasks"] = int(np.sum((values > 1e-6) & (values < 1 - 1e-6)))
        if start.min() < 0:
            start = None
    x0 = None
    if hint is not None and len(hint.assignment) == a.n:
        x0 = np.asarray(hint.assignment, dtype=np.int64)
        x0 = x0 if is_feasible(a, x0) else None
    best = None
    if start is None and x0 is not None:
        start = x0  # the LP did not finish in its share: tabu from the incumbent instead
        stats["start"] = "hint"
    if start is not None:
        mins = np.where(a.allowed, a.obj, np.inf).min(axis=0)
        target = math.ceil(bound - 1e-6) if bound is not None else math.ceil(float(mins.sum()) - 1e-9)
        best = search(a, start, budget, target=target, stats=stats)
    else:
        x0 = improve(inst, budget, hint, stats)
    if best is None or (x0 is not None and assignment_objective(a, x0) < assignment_objective(a, best)):
        best = x0
    if best is not None:
        polish(a, best, budget)
        if not is_feasible(a, best):
            best = None
    return Result(
        PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "lptabu",
        solution=None if best is None else Solution.from_array(best),
        bound=bound,
        bound_source="LP relaxation" if bound is not None else "",
        limit=budget.limit_reason(),
        stats=stats,
    )
