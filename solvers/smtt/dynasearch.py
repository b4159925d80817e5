"""Dynasearch and iterated dynasearch for 1||ΣwjTj (kind ``heuristic``, names ``dynasearch``, ``ids``).

Dynasearch (Congram, Potts & van de Velde 2002) explores in one step the exponential neighbourhood of
all sets of *independent* swaps of a sequence σ (swaps (i, k) whose position intervals [i, k] do not
overlap) by a dynamic program over positions. With C(m) the completion time of position m in σ and
f_j(t) = w_j max(0, t - d_j)::

    F(0) = 0
    F(k) = min( F(k-1) + f_σ(k)(C(k)),                                   # position k unchanged
                min_{i<k} F(i-1) + f_σ(k)(C(i-1) + p_σ(k)) + f_σ(i)(C(k))  # swap i and k
                          + Σ_{i<m<k} f_σ(m)(C(m) + p_σ(k) - p_σ(i)) )

Inside a swapped block only the jobs between move (by p_σ(k) - p_σ(i)) and positions outside keep
their completion times, so the DP is exact for this neighbourhood: F(n) is the best cost reachable by
one dynasearch move and the move is recovered by backtracking. The pass is O(n^3) in the worst case,
computed with the inner sum accumulated as i decreases for each k (O(k - i) per pair; a shift of 0
costs O(1) with prefix sums of the unchanged costs). A swap is skipped before the inner sum when a
lower bound on the middle jobs' cost already reaches the best value for k: with shift > 0 they only
get later (cost >= their unchanged sum), with shift < 0 each tardy one saves at most w·|shift| (prefix
sums of the unchanged costs and of the tardy jobs' weights give both in O(1)). On wt100 #42 this took
a pass from 429 to 44 µs and a kick with its descent from 2.3 to 0.4 ms. A pass is one Numba call; the
caller polls the budget between passes.

A dynasearch descent alternates dynasearch passes with the swap + insertion descent of
:func:`solvers.smtt.kernels.descend` (insertions are not in the swap neighbourhood: the enhanced
dynasearch of Grosso, Della Croce & Tadei adds them for the same reason) until neither improves.

Iterated dynasearch (``ids``): from the local optimum, a kick of a few random nearby swaps /
insertions (seeded xorshift, :func:`solvers.smtt.kernels.perturb`), a descent, and acceptance of the
new sequence when it is no worse than the best (plateau moves), else a restart from the best. Kicks run
in Numba in chunks of :data:`KICKS_PER_CHUNK` so the budget is polled about every few milliseconds. It
stops at the budget, at a given lower bound (proved optimal), after a kick limit or a stall limit.
:data:`PARALLEL_RUNS` such runs alternate chunk by chunk, the first from the given start, the second
from WSPT (:func:`restart_starts`), and a run that has gone :data:`RESTART_KICKS_PER_JOB` · n kicks
without improving restarts from the next rule's sequence (then from random orders): some instances
have basins that no kick leaves (wt100 #19: every seed from the best rule's sequence ends 207 above
the optimum, 8 of 8 seeds from WSPT reach it within 0.3 s), and with the two runs and restarts wt100
at 1 s (auto) went from 122 optima found to 124 (the last two runs; 125 in one, load 1.8-2.0).
The restart comes after 2n kicks, not n: with n, wt50 #109 (seed 0) needed 13.5k kicks and 156
restarts to reach its optimum, with 2n 1.1k (and the 13 hardest wt100 instances were unchanged).
Deterministic mode fixes the kick count from the budget (same seed -> same answer).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Limit, Result
from solvers.smtt.bounds import best_bound
from solvers.smtt.common import cost, hint_sequence, result
from solvers.smtt.kernels import atc_sequence, descend, perturb, seq_cost
from solvers.smtt.rules import ATC_K, best_rule, edd, mdd, wspt

KICKS_PER_CHUNK = 64
CHUNK_WORK = 200_000  # elementary steps of the insertion descent between budget polls
KICKS_PER_SECOND = 1000.0  # deterministic mode at n = 40 (measured ~4000/s on one core), scaled by (40/n)^3
MAX_KICKS_DETERMINISTIC = 2_000_000
RESTART_KICKS_PER_JOB = 2.0  # kicks without improvement (times n) before a restart from another start
RESTART_MIN_KICKS = 50
KICK_STRENGTH_MAX = 8  # a kick is 2 .. this many random moves (and at most n // 8, at least 3)
PARALLEL_RUNS = 2  # ILS runs whose chunks alternate: from the given start and from WSPT


@njit(cache=True)
def _f(t: int, dj: int, wj: int) -> int:
    return wj * (t - dj) if t > dj else 0


@njit(cache=True)
def dynasearch_pass(seq: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> int:
    """Apply the best set of independent swaps to ``seq`` in place; return the cost decrease (>= 0)."""
    n = seq.shape[0]
    comp = np.empty(n + 1, dtype=np.int64)  # comp[m] = completion of position m (1-based), comp[0] = 0
    base = np.zeros(n + 1, dtype=np.int64)  # prefix sums of the unchanged costs
    wt = np.zeros(n + 1, dtype=np.int64)  # prefix sums of the weights of the tardy positions
    comp[0] = 0
    for m in range(1, n + 1):
        j = seq[m - 1]
        comp[m] = comp[m - 1] + p[j]
        base[m] = base[m - 1] + _f(comp[m], d[j], w[j])
        wt[m] = wt[m - 1] + (w[j] if comp[m] > d[j] else 0)
    F = np.empty(n + 1, dtype=np.int64)
    arg = np.zeros(n + 1, dtype=np.int64)  # 0: keep position k; i >= 1: swap i and k
    F[0] = 0
    for k in range(1, n + 1):
        jk = seq[k - 1]
        best = F[k - 1] + _f(comp[k], d[jk], w[jk])
        bi = 0
        for i in range(k - 1, 0, -1):
            ji = seq[i - 1]
            shift = p[jk] - p[ji]
            v = F[i - 1] + _f(comp[i - 1] + p[jk], d[jk], w[jk]) + _f(comp[k], d[ji], w[ji])
            if v >= best:  # the middle jobs' costs are >= 0: this swap cannot win
                continue
            # the middle jobs move by shift: each cost changes by at least -w·|shift| if tardy, and
            # not at all downwards if shift > 0, so their sum is at least this
            mid = base[k - 1] - base[i]
            if shift < 0:
                mid = max(0, mid + shift * (wt[k - 1] - wt[i]))
            if v + mid >= best:
                continue
            if shift == 0:
                v += mid
            else:
                for m in range(i + 1, k):
                    jm = seq[m - 1]
                    v += _f(comp[m] + shift, d[jm], w[jm])
                    if v >= best:
                        break
            if v < best:
                best = v
                bi = i
        F[k] = best
        arg[k] = bi
    gain = int(base[n] - F[n])
    if gain <= 0:
        return 0
    k = n
    while k > 0:
        i = int(arg[k])
        if i == 0:
            k -= 1
        else:
            a = seq[i - 1]
            seq[i - 1] = seq[k - 1]
            seq[k - 1] = a
            k = i - 1
    return gain


@njit(cache=True)
def dyna_descent(seq: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> int:
    """Dynasearch passes, then swap + insertion descent, until neither improves; returns the cost."""
    n = seq.shape[0]
    state = np.zeros(2, dtype=np.int64)
    c = seq_cost(seq, p, d, w)
    while True:
        while True:
            g = dynasearch_pass(seq, p, d, w)
            if g <= 0:
                break
            c -= g
            if c == 0:
                return 0
        state[0] = 0
        state[1] = 0
        descend(seq, p, d, w, state, 1 << 62, False)
        c2 = seq_cost(seq, p, d, w)
        if c2 >= c or n < 2:
            return c2
        c = c2


@njit(cache=True)
def ids_chunk(
    cur: np.ndarray,
    best: np.ndarray,
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    rng: np.ndarray,
    costs: np.ndarray,
    kicks: int,
    lower_bound: int,
    strength_max: int,
) -> int:
    """Run up to ``kicks`` kick + descent rounds; ``costs = [best, current, last_improving_kick,
    kicks_done]`` is updated in place. Returns the number of kicks done (stops at ``lower_bound``)."""
    done = 0
    n = cur.shape[0]
    while done < kicks and costs[0] > lower_bound:
        strength = 2 + int(rng[0] % np.uint64(max(1, strength_max - 1)))
        perturb(cur, rng, strength)
        c = dyna_descent(cur, p, d, w)
        done += 1
        costs[3] += 1
        if c < costs[0]:
            costs[2] = costs[3]
        if c <= costs[0]:
            costs[0] = c
            for m in range(n):
                best[m] = cur[m]
            costs[1] = c
        else:
            for m in range(n):
                cur[m] = best[m]
            costs[1] = costs[0]
    return done


def polled_descent(seq: np.ndarray, inst: Instance, budget: Budget) -> int:
    """:func:`dyna_descent` with the budget polled between passes (the first descent from a rule's
    sequence can take many O(n^3) passes on large n); returns the cost reached."""
    p, d, w = inst.p, inst.d, inst.w
    c = int(seq_cost(seq, p, d, w))
    state = np.zeros(2, dtype=np.int64)
    while c > 0 and not budget.should_stop():
        g = dynasearch_pass(seq, p, d, w)
        if g > 0:
            c -= g
            continue
        state[:] = 0
        while not descend(seq, p, d, w, state, CHUNK_WORK, False):
            if budget.should_stop():
                return int(seq_cost(seq, p, d, w))
        c2 = int(seq_cost(seq, p, d, w))
        if c2 >= c:
            break
        c = c2
    return c


def iterated_dynasearch(
    inst: Instance,
    budget: Budget,
    start: np.ndarray,
    *,
    lower_bound: float = 0.0,
    max_kicks: int | None = None,
    stall_kicks: int | None = None,
    name: str = "ids",
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """ILS with dynasearch descents from ``start``; see the module docstring."""
    n = inst.n
    p, d, w = inst.p, inst.d, inst.w
    if budget.deterministic and max_kicks is None:
        # the whole allotment (deadline - start, to 0.1 s), not the clock-dependent remaining time, so
        # the kick count does not depend on how long the rules took
        total = budget.deadline - budget.start
        secs = 10.0 if math.isinf(total) else round(total, 1)
        scale = (40.0 / max(n, 40)) ** 3
        max_kicks = max(1, int(min(MAX_KICKS_DETERMINISTIC, secs * KICKS_PER_SECOND * scale)))
    seed = (budget.seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) % 2**64 or 1
    rng = np.array([seed], dtype=np.uint64)
    lb = math.ceil(lower_bound) if math.isfinite(lower_bound) else 0
    strength_max = max(3, min(KICK_STRENGTH_MAX, n // 8))
    chunk = max(1, int(KICKS_PER_CHUNK * (40.0 / max(n, 40)) ** 2))
    restart_after = max(RESTART_MIN_KICKS, int(RESTART_KICKS_PER_JOB * n))
    queue: list[np.ndarray] | None = None  # the other starts, built when the second run starts
    runs: list[list[np.ndarray]] = []  # per run: [cur, best, costs = [best, cur, last_improving, kicks]]

    def new_run(seq: np.ndarray) -> list[np.ndarray]:
        best = np.array(seq, dtype=np.int64)
        c = polled_descent(best, inst, budget)
        return [best.copy(), best, np.array([c, c, 0, 0], dtype=np.int64)]

    runs.append(new_run(start))
    top, top_cost = runs[0][1].copy(), int(runs[0][2][0])  # the best over all runs
    budget.report(name, float(top_cost), None, None)
    kicks = 0  # over all runs
    top_kick = 0
    restarts = 0
    turn = 0
    while top_cost > lb and n >= 3 and not budget.should_stop():
        # a new run's descent may have been cut by the deadline, and a kick's descent is not polled:
        # a new run is only kicked after the loop condition has been checked again
        if queue is None and kicks >= chunk:  # the first chunk did not end the search
            queue = restart_starts(inst, start)
        if len(runs) < PARALLEL_RUNS and queue and kicks >= chunk * len(runs):
            runs.append(new_run(queue.pop(0)))  # the second run starts after the first chunk
            turn = len(runs) - 1
            cur, best, costs = runs[turn]
        else:
            turn = (turn + 1) % len(runs)
            cur, best, costs = runs[turn]
            if costs[3] - costs[2] >= restart_after:
                # this run is stuck in a deep basin: it goes on from the next start, then random orders
                runs[turn] = new_run(queue.pop(0) if queue else _random_order(n, rng))
                restarts += 1
                cur, best, costs = runs[turn]
            else:
                todo = chunk
                if max_kicks is not None:
                    todo = min(todo, max_kicks - kicks)
                    if todo <= 0:
                        break
                if stall_kicks is not None and kicks - top_kick >= stall_kicks:
                    break
                kicks += ids_chunk(cur, best, p, d, w, rng, costs, todo, lb, strength_max)
        if costs[0] < top_cost:
            top, top_cost, top_kick = best.copy(), int(costs[0]), kicks
            budget.report(name, float(top_cost), None, None)
    stats = {"kicks": kicks, "last_improvement": top_kick, "restarts": restarts, "runs": len(runs)}
    return top, top_cost, stats


def restart_starts(inst: Instance, first: np.ndarray) -> list[np.ndarray]:
    """The start sequences of the other runs and restarts, in order: WSPT, EDD, MDD and ATC over its
    look-ahead sweep, without duplicates and without ``first``. Measured on wt100 #19: every seed of
    ILS from the best rule's sequence ends 207 above the optimum, while the runs from WSPT reach it in
    0.06-0.31 s."""
    out: list[np.ndarray] = []
    seen = {first.tobytes()}
    cands = [wspt(inst), edd(inst), mdd(inst)]
    cands += [np.asarray(atc_sequence(inst.p, inst.d, inst.w, k), dtype=np.int64) for k in ATC_K]
    for s in cands:
        key = s.astype(np.int64).tobytes()
        if key not in seen:
            seen.add(key)
            out.append(s.astype(np.int64))
    return out


def _random_order(n: int, rng: np.ndarray) -> np.ndarray:
    """A random permutation from the seeded xorshift state (2n random moves of the identity)."""
    seq = np.arange(n, dtype=np.int64)
    perturb(seq, rng, 2 * n)
    return seq


def _start(inst: Instance, hint: Any) -> tuple[np.ndarray, int, str]:
    start, start_cost, rule = best_rule(inst)
    h = hint_sequence(inst, hint)
    if h is not None and cost(inst, h) < start_cost:
        start, start_cost, rule = h, cost(inst, h), "hint"
    return start, start_cost, rule


@register(PROBLEM, "dynasearch", "heuristic", "dynasearch descent (independent swaps DP + insertions)")
def run_dynasearch(inst: Instance, budget: Budget, hint: Any) -> Result:
    start, start_cost, rule = _start(inst, hint)
    seq = np.array(start, dtype=np.int64)
    polled_descent(seq, inst, budget)
    return result(
        "dynasearch", seq, limit=budget.limit_reason(), stats={"start": rule, "start_cost": start_cost}
    )


@register(PROBLEM, "ids", "heuristic", "iterated dynasearch (Numba), seeded kicks, from the best rule")
def run_ids(inst: Instance, budget: Budget, hint: Any) -> Result:
    start, start_cost, rule = _start(inst, hint)
    lb, _ = best_bound(inst)
    seq, c, stats = iterated_dynasearch(inst, budget, start, lower_bound=lb)
    stats.update({"start": rule, "start_cost": start_cost})
    lim = budget.limit_reason() if c > lb else Limit.NONE
    return result("ids", seq, limit=lim, stats=stats)


def warm() -> None:
    p = np.array([3, 1, 2, 4], dtype=np.int64)
    d = np.array([2, 1, 6, 3], dtype=np.int64)
    w = np.array([1, 2, 1, 3], dtype=np.int64)
    for arr in (p, d, w):  # instance views are read-only: a distinct Numba signature
        arr.setflags(write=False)
    s = np.arange(4, dtype=np.int64)
    dynasearch_pass(s.copy(), p, d, w)
    b = s.copy()
    dyna_descent(b, p, d, w)
    costs = np.array([seq_cost(b, p, d, w), 0, 0, 0], dtype=np.int64)
    ids_chunk(b.copy(), b, p, d, w, np.array([99], dtype=np.uint64), costs, 2, 0, 3)
