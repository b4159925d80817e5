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

Large instances (``lptabu``)
    :func:`run_lp_tabu` starts the search from the Lagrangian solution of the capacity relaxation and
    restricts shifts as well as swaps to each task's ``LARGE_CANDIDATES`` agents of smallest
    Lagrangian reduced cost c_ij + v·d_ij - min_i(...), with slower weight growth and shorter tenures
    (``LARGE_*``): far more iterations per second on 80 x 1600 and better end points (figures at the
    constants).

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
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible, tiny_arrays

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
#: swap partners per (task, candidate agent) evaluated in one iteration (rotating through the agent's tasks)
PARTNERS = 24
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
    a: Arrays,
    start: np.ndarray,
    budget: Budget,
    *,
    target: float = -math.inf,
    stats: dict | None = None,
    cand: np.ndarray | None = None,
    grow: float = GROW,
    tenure: float = TENURE,
    partners: int = PARTNERS,
    chain: int = -1,
) -> np.ndarray | None:
    """Tabu search from ``start`` (any assignment on allowed pairs); the best feasible one or None.
    With ``cand`` (n x k agents, -1 padded) shifts, too, only go to a task's candidate agents;
    ``grow``, ``tenure``, ``partners`` and ``chain`` (>= 0) override the module's parameters."""
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
    fs = np.array(
        [
            math.inf,
            w0,
            grow,
            FLOOR,
            CHAIN if chain < 0 else chain,
            tenure,
            0.0 if cand is None else 1.0,
            partners,
        ]
    )
    if is_feasible(a, assign):
        fs[0] = assignment_objective(a, assign)
    st = np.array([0, 0, (budget.seed * 2654435761 + 12345) % (2**62) + 1, 0], np.int64)
    cand = candidate_agents(a) if cand is None else np.ascontiguousarray(cand, dtype=np.int64)
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
    a = tiny_arrays()
    search(a, np.zeros(3, np.int64), Budget(deterministic=True))  # no time limit: the kernel must run
    search(a, np.zeros(3, np.int64), Budget(deterministic=True), cand=reduced_cost_candidates(a, a.obj))


#: lptabu's search (large instances): candidate agents per task by Lagrangian reduced cost (shifts and
#: swaps), weight growth, tenure scale and swap partners. Measured with 5 s of search from the
#: Lagrangian start on d801600 / e801600 / c801600 (load 2.4-3.4): all m agents for shifts, 6 cheapest
#: by cost for swaps, growth 1.1, tenure 1, 24 partners (the small-instance settings) ended +0.98 /
#: +0.94 / +0.45 %; 5 candidates by reduced cost +0.63 / +0.32 / +0.17 %; then 12 partners, growth
#: 1.01 and tenure 0.1 +0.47 / +0.15 / +0.06 % (tenure 0.3: +0.51 / +0.18 / +0.07; 3: +0.80 / +0.27
#: / +0.20; growth 1.03: +0.65 / +0.24 / +0.12).
LARGE_CANDIDATES = 5
LARGE_GROW = 1.01
LARGE_TENURE = 0.1
LARGE_PARTNERS = 12
#: ejection chains of length 2 in lptabu's search, for every swap partner (see ``CHAIN``). Measured
#: with 10 s of search (load 2.9-3.3): chains off / 6 / 12 ended +0.44 / +0.27 / +0.21 % on d801600,
#: +0.15 / +0.14 / +0.14 % on e801600, +0.06 / +0.04 / +0.04 % on c801600; with 5 s on d40400 /
#: d60900 / e40400 off +0.69 / +0.55 / +0.27 %, 12 +0.49 / +0.30 / +0.24 % (a quarter of the
#: iterations, better moves). Restarts from the best with 2-5 % of the tasks moved at random were
#: tried and dropped: no gain on d801600 / e801600 at 10 s. Since the chains' last link (k: b -> e)
#: comes from a per-iteration table of each task's best ends (:func:`._kernels._chain_ends`) instead
#: of a scan per (j, k), 8 s of search run 22,800 iterations on d40400 (was 9,400) and 12,000 on
#: d801600 (was 7,400); the moves taken are the same up to ties (load 1.9-2.1).
LARGE_CHAIN = 12


def reduced_cost_candidates(a: Arrays, rc: np.ndarray, k: int = LARGE_CANDIDATES) -> np.ndarray:
    """n x k int64: each task's k allowed agents of smallest reduced cost ``rc`` (m x n), -1 padded."""
    r = np.where(a.allowed, rc, np.inf)
    order = np.argsort(r, axis=0, kind="mergesort")[: min(k, a.m)].T.copy()
    ok = np.take_along_axis(np.isfinite(r).T, order, axis=1)
    order[~ok] = -1
    return np.ascontiguousarray(order, dtype=np.int64)


#: lptabu with room for several searches (not in deterministic mode): up to ``MAX_RUNS`` searches of at
#: least ``RUN_S`` s each from the Lagrangian start (different seeds), then the HiGHS MIP restricted to
#: the pairs some of them use (``MERGE_SHARE`` of the budget, warm-started from the best; a
#: solution-merging step). Measured (load 2.0): three 5 s searches on e801600 ended +0.135 / +0.140 /
#: +0.148 %, their 2,152-pair union MIP proved +0.054 % in 1.7 s; on d801600 (+0.204 / +0.207 /
#: +0.220 %, 2,078 pairs) it found nothing better in 10 s. One search stagnates: 30 s of one ended
#: +0.210 / +0.124 % on d801600 / e801600, three of 10 s +0.204 / +0.135 % at best. With a 10 s
#: budget (5.4 s for lptabu) a single search runs, as before.
MAX_RUNS = 4
RUN_S = 5.0
MERGE_SHARE = 0.25

#: Tried on Yagiura type D (the instances furthest from best known at 60 s) and dropped, all with seed 0
#: at load 1.3-2.0. Where the gap is: at d40400's usual end point, 24461 = L 24347.6 + 86.4 (Σ of the
#: Lagrangian reduced costs of the pairs used) + 27.0 (v · unused capacity; v is ~1 on every agent), so
#: the loss is in using pairs of reduced cost 0.5-5 (55 of 400 tasks), not in slack.
#:
#: * Path relinking (elite pool of 8; after two searches from the Lagrangian start, 2 s searches from
#:   points 30-70 % of the way along a greedy path between two elites; then the merge MIP), 36 s:
#:   d40400 / d60900 / d801600 24464 / 54701 / 97238 against 24461 / 54701 / 97242 without. A search from
#:   a relinked point ends where a fresh one does (24461-24494 on d40400).
#: * Single 8-15 s searches on d40400 (d60900): tenure scale 0 / 0.05 / 0.1 / 1 / 3 -> 24460 (54691) /
#:   24467 (54701) / 24461 (54707) / 24520 / 24589; 3 / 4 candidates 24466 / 24449; 6 chain partners
#:   24473; 6 swap partners 24475; stall 4000 24470; initial weight x0.5 / x2 / x4 24506 (54692) /
#:   24453 (54715) / 24460 (54714); weight floor 0.1-0.5 no change (D never gets there); weights of
#:   agents within capacity shrinking by 1.001 per infeasible iteration 24467 (54708), by 1.005 or more no
#:   feasible solution at all. One search reaches 24461 by ~7,000 iterations (~6 s) and then only
#:   restarts; seeds move the end point by +-20.
#: * Exact neighbourhoods from the 24461 end point: every one of the 780 agent pairs re-optimised exactly
#:   (branch and bound, 2.6 M nodes, 1.3 s): no improvement, the point is 2-agent optimal; HiGHS on a core
#:   (its pairs + each task's 2 best by reduced cost, 873 pairs) 20 s, also with mip_heuristic_effort
#:   0.5: none; CP-SAT (1 worker) on the pairs of reduced cost < 1 plus its own (1,212) 20 s: none;
#:   ``lns`` 20 s: 24463.
#: * (2026-12-04) Starts from the knapsack Lagrangian (each task on the cheapest of the agents whose
#:   knapsack took it, else on its smallest reduced cost), 8 s each: d40400 24432-24469 over 8 starts
#:   (mean 24452; from x(v) 24449-24462, mean 24456), but on d60900 / d801600 no better and worse
#:   (97271-97291 against 97225-97256): 51-52 % of the tasks uncovered or covered twice there. The
#:   union of the knapsack solutions near the best multipliers (938 pairs with the incumbent's) as a
#:   MIP (20 s, warm) or as the tabu candidate lists (3 x 5 s): no improvement on 24462; ``lns`` with
#:   agent subsets related by reduced cost instead of cost (41 sub-MIPs, k up to 7, 20 s): none.
#: * auto at 60 s with lptabu given 90 % and up to 8 searches: d40400 / d60900 24460 / 54696 (24453-24456
#:   / 54701 with the current split): within the seed noise.


def _large_search(
    a: Arrays, start: np.ndarray, budget: Budget, target: float, cand: np.ndarray, stats: dict
) -> np.ndarray | None:
    return search(
        a,
        start,
        budget,
        target=target,
        stats=stats,
        cand=cand,
        grow=LARGE_GROW,
        tenure=LARGE_TENURE,
        partners=LARGE_PARTNERS,
        chain=LARGE_CHAIN,
    )


def merge_mip(a: Arrays, sols: list[np.ndarray], budget: Budget, stats: dict) -> np.ndarray | None:
    """The HiGHS MIP over the pairs that some assignment of ``sols`` uses, warm-started from the first;
    its best solution (feasible for the whole instance: the pairs are a subset of the allowed ones),
    or None. Its dual bound covers only the restricted model, so it is not reported."""
    from dataclasses import replace

    import highspy

    from solvers.task_allocation.exact import _build_highs, _decode, run_highs_within

    mask = np.zeros_like(a.allowed)
    for x in sols:
        mask[x, np.arange(a.n)] = True
    sub = replace(a, allowed=mask)
    h, agents, tasks = _build_highs(sub, budget, integral=True)
    if budget.deterministic:
        h.setOptionValue("threads", 1)
    warm = highspy.HighsSolution()
    warm.col_value = (sols[0][tasks] == agents).astype(np.float64).tolist()
    h.setSolution(warm)
    out = run_highs_within(h, budget, is_mip=True)
    stats["merge_pairs"] = int(mask.sum())
    stats["merge_status"] = "abandoned" if out is None else h.modelStatusToString(out.model_status)
    if out is None or out.x is None:
        return None
    y = _decode(sub, agents, tasks, out.x[: len(agents)])
    return y if y.min() >= 0 and is_feasible(a, y) else None


#: share of the lptabu budget for the capacity-relaxation subgradient (it converges in 0.1-0.4 s on
#: 80 x 1600, measured at load 1.6)
LAGCAP_SHARE = 0.2


@register(PROBLEM, "lptabu", "heuristic", "LP bound by Lagrangian (capacities relaxed), then tabu from it")
def run_lp_tabu(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    """The LP bound without an LP solve, then tabu search from the Lagrangian solution.

    :func:`.lagrange.capacity_relaxation` maximises the Lagrangian with the capacities relaxed (its
    supremum is the LP bound) by subgradient; the best value is reported as a proved bound and its
    reduced costs are kept for the MIP's fixing (:func:`.exact.remember_lp`). The start is x(v), every
    task on its cheapest agent under c + v·d (near an LP vertex: cheap, some agents overloaded); the
    tabu search runs from there with the bound as its stopping target. Measured at load 1.6-1.9:
    L is 0.000 / 0.022 / 0.012 % below best known on d801600 / e801600 / c801600 after 0.13-0.38 s,
    where HiGHS's LP took 4.5 s on d801600 at load 6 and did not finish inside 10 s budgets on the
    largest instances, which left the tabu search to start from the greedy incumbent (+97 % on
    e801600). The hint, when feasible, is kept if the search does not beat it."""
    from solvers.task_allocation import lagrange
    from solvers.task_allocation.exact import known_bound, remember_lp

    a = arrays(inst)
    if a.orphans or a.makespan:
        return run(inst, budget, hint).with_(solver="lptabu")
    stats: dict = {}
    x0 = None
    if hint is not None and len(hint.assignment) == a.n:
        x0 = np.asarray(hint.assignment, dtype=np.int64)
        x0 = x0 if is_feasible(a, x0) else None
    ub = None if x0 is None else assignment_objective(a, x0)
    got = lagrange.capacity_relaxation(a, budget.child(fraction=LAGCAP_SHARE), ub, stats)
    bound = None
    best = None
    if got is not None:
        bound, _v, start, rc = got
        remember_lp(a, bound, rc)
        stop_at = max(bound, known_bound(a) or -math.inf)  # e.g. the knapsack Lagrangian bound, when run
        target = math.ceil(stop_at - 1e-6)
        cand = reduced_cost_candidates(a, rc, LARGE_CANDIDATES)
        runs = (
            1 if budget.deterministic else int(min(MAX_RUNS, budget.remaining() * (1 - MERGE_SHARE) // RUN_S))
        )
        if runs < 2:
            best = _large_search(a, start, budget, target, cand, stats)
        else:  # several searches (seeds differ), then the MIP over the union of their pairs
            search_budget = budget.child(fraction=1 - MERGE_SHARE)
            found: list[np.ndarray] = []
            for r in range(runs):
                run_budget = search_budget.child(seconds=search_budget.remaining() / (runs - r))
                run_budget.seed = budget.seed + 7919 * r
                x = _large_search(a, start, run_budget, target, cand, stats)
                if x is not None:
                    found.append(x)
                if x is not None and assignment_objective(a, x) <= target:
                    break
            found.sort(key=lambda y: assignment_objective(a, y))
            best = found[0] if found else None
            stats["searches"] = len(found)
            if len(found) >= 2 and assignment_objective(a, found[0]) > target:
                merged = merge_mip(a, found, budget, stats)
                if merged is not None and assignment_objective(a, merged) < assignment_objective(a, found[0]):
                    best = merged
    else:
        best = improve(inst, budget, hint, stats)
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
        bound_source="Lagrangian relaxation of the capacities (LP bound)" if bound is not None else "",
        limit=budget.limit_reason(),
        stats=stats,
    )
