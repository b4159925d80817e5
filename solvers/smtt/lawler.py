"""Exact unweighted SMTT (1||ΣTj) by Lawler's decomposition (kind ``exact``, name ``lawler``).

Lawler's decomposition theorem (1977): index the jobs in EDD order (d_1 <= ... <= d_n; ties here by
processing time, then index) and let k be a longest job. Some optimal sequence puts k after all jobs
1..k+δ (other than k) and before all jobs k+δ+1..n, for some δ >= 0. Applied recursively, a
subproblem is "the jobs in EDD positions i..j that are shorter than a given job, started at time t";
its longest job k is placed after each candidate prefix and the two sides are solved recursively:

    V(i, j, K, t) = min_{r >= q} V(i, r, k, t) + max(0, C_k(r) - d_k) + V(r+1, j, k, C_k(r))

where q is k's EDD position, "shorter than" is the strict order of (p, EDD position) (so ties in p are
broken consistently), and C_k(r) = t + the processing times of the subproblem's jobs in positions
i..r. Only r at positions of jobs of the subproblem are distinct choices. Values are memoised by
(i, j, K, t). Two exact shortcuts end a branch early: if the EDD order of the subproblem started at t
has no tardy job its value is 0 (no sequence does better); if every job is tardy even when it runs
first (t + p_m > d_m for all m), every sequence has all jobs tardy, the cost is ΣC - Σd, and SPT
minimises ΣC.

Position elimination (:data:`ELIMINATE`): Potts & Van Wassenhove (1982, Oper. Res. Lett. 1:177-181)
proved that the longest job k only needs the positions δ with d_{k+δ} <= C_k(δ) < d_{k+δ+1} (EDD
indices; the first inequality is void for δ = 0). The idea: if the next job after the prefix is due by
C_k(δ), it is shorter than k and due before k ends, and an Emmons interchange moves it before k
without loss; if the last job of the prefix is due after C_k(δ) > d_k, moving k in front of it does not
hurt. Here r is the last member of the subproblem before k and the next member m' plays d_{k+δ+1}; the
solver keeps every r with (r = q or d_r <= C_k(r)) and (no m' or d_{m'} >= C_k(r)) — the published
condition with the second inequality relaxed, so it keeps at least the positions the theorem keeps.
tests/test_smtt_lawler.py checks the optimum against brute force on many tie-heavy random instances.

Cost: the pseudo-polynomial DP is O(n^4 ΣP) in the worst case; with the elimination the number of
states on random instances is far smaller (n = 500 in seconds for many instances, see the bench),
but not bounded, so the solver polls the budget every :data:`POLL_EVERY` states and gives up (no
solution, no bound) when the budget or :data:`MAX_STATES` runs out. The rules of Szwarc, Grosso & Della
Croce (a B&B over the decomposition with more eliminations and bounds) are not implemented. Weighted
instances are refused (the theorem needs w = 1). The value it returns is a proof: the solver reports
bound = objective.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numba import njit, types
from numba.typed import Dict

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Limit, Result
from solvers.smtt.common import result

POLL_EVERY = 2000
MAX_STATES = 3_000_000
ELIMINATE = True


class _Stop(Exception):
    pass


#: states per Numba call between budget polls (a resumed call re-walks only memoised states)
STATES_PER_CALL = 20_000


@njit(cache=True)
def _value(
    i: int,
    j: int,
    kr: int,
    t: int,
    p: np.ndarray,
    d: np.ndarray,
    rk: np.ndarray,
    base: np.ndarray,
    memo: Dict,
    choice: Dict,
    cnt: np.ndarray,
) -> int:
    """The memoised recursion of :func:`solve_lawler_py` in Numba; -1 when ``cnt[0]`` reached ``cnt[1]``
    new states (the caller polls the budget and calls again: completed states stay in ``memo``)."""
    if i > j:
        return 0
    key = ((i * base[0] + j) * base[0] + kr) * base[1] + t
    if key in memo:
        return memo[key]
    ms = np.empty(j - i + 1, dtype=np.int64)
    nm = 0
    qi = -1
    for m in range(i, j + 1):
        if rk[m] < kr:
            if qi < 0 or rk[m] > rk[ms[qi]]:
                qi = nm
            ms[nm] = m
            nm += 1
    if nm == 0:
        memo[key] = 0
        choice[key] = -1
        return 0
    if cnt[0] >= cnt[1]:
        return -1
    cnt[0] += 1
    c = t
    late = False
    all_late = True
    for a in range(nm):
        m = ms[a]
        c += p[m]
        if c > d[m]:
            late = True
        if t + p[m] <= d[m]:
            all_late = False
    if not late:
        memo[key] = 0
        choice[key] = -2
        return 0
    if all_late:
        order = np.argsort(rk[ms[:nm]])
        c = t
        tot = 0
        for a in range(nm):
            m = ms[order[a]]
            c += p[m]
            tot += c - d[m]
        memo[key] = tot
        choice[key] = -3
        return tot
    q = ms[qi]
    kq = rk[q]
    acc = t
    for a in range(qi + 1):
        acc += p[ms[a]]
    best = -1
    best_r = -1
    for a in range(qi, nm):
        r = ms[a]
        if a > qi:
            acc += p[r]
            if d[r] > acc:
                continue
        if a + 1 < nm and d[ms[a + 1]] < acc:
            continue
        left = _value(i, r, kq, t, p, d, rk, base, memo, choice, cnt)
        if left < 0:
            return -1
        v = left + max(0, acc - d[q])
        if best >= 0 and v >= best:
            continue
        right = _value(r + 1, j, kq, acc, p, d, rk, base, memo, choice, cnt)
        if right < 0:
            return -1
        v += right
        if best < 0 or v < best:
            best = v
            best_r = r
    memo[key] = best
    choice[key] = best_r
    return best


def solve_lawler(inst: Instance, budget: Budget, max_states: int = MAX_STATES) -> tuple[np.ndarray, int, int]:
    """The optimal sequence, its cost and the number of states (Numba; falls back to the Python
    reference when the memo key would overflow int64). Raises :class:`_Stop` on the budget."""
    n = inst.n
    total = int(inst.p.sum())
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0, 0
    if (n + 1) ** 3 * (total + 1) >= 2**62:
        return solve_lawler_py(inst, budget, max_states)
    edd = np.lexsort((np.arange(n), inst.p, inst.d))
    p = np.ascontiguousarray(inst.p[edd], dtype=np.int64)
    d = np.ascontiguousarray(inst.d[edd], dtype=np.int64)
    order = np.lexsort((np.arange(n), p))
    rk = np.empty(n, dtype=np.int64)
    rk[order] = np.arange(n)
    base = np.array([n + 1, total + 1], dtype=np.int64)
    memo = Dict.empty(key_type=types.int64, value_type=types.int64)
    choice = Dict.empty(key_type=types.int64, value_type=types.int64)
    cnt = np.array([0, 0], dtype=np.int64)
    while True:
        cnt[1] = min(max_states, cnt[0] + STATES_PER_CALL)
        v = _value(0, n - 1, n, 0, p, d, rk, base, memo, choice, cnt)
        if v >= 0:
            break
        if budget.should_stop() or cnt[0] >= max_states:
            raise _Stop
    out: list[int] = []
    stack = [(0, n - 1, n, 0)]
    # iterative in-order walk of the chosen decomposition: (i, j, kr, t) or a placed job (-1 - job)
    while stack:
        i, j, kr, t = stack.pop()
        if i < 0:
            out.append(j)
            continue
        if i > j:
            continue
        ms = [m for m in range(i, j + 1) if rk[m] < kr]
        if not ms:
            continue
        r = int(choice[((i * (n + 1) + j) * (n + 1) + kr) * (total + 1) + t])
        if r == -2:
            out.extend(ms)
            continue
        if r == -3:
            out.extend(sorted(ms, key=lambda x: int(rk[x])))
            continue
        q = max(ms, key=lambda x: int(rk[x]))
        c = t + sum(int(p[m]) for m in ms if m <= r)
        stack.append((r + 1, j, int(rk[q]), c))
        stack.append((-1, q, 0, 0))
        stack.append((i, r, int(rk[q]), t))
    seq = np.asarray([int(edd[m]) for m in out], dtype=np.int64)
    return seq, int(v), int(cnt[0])


def solve_lawler_py(
    inst: Instance, budget: Budget, max_states: int = MAX_STATES
) -> tuple[np.ndarray, int, int]:
    """Pure-Python reference of the same DP (used when the Numba memo key would overflow)."""
    n = inst.n
    edd = np.lexsort((np.arange(n), inst.p, inst.d))
    p = [int(inst.p[j]) for j in edd]
    d = [int(inst.d[j]) for j in edd]
    # rk[m]: rank of position m in the strict order of (p, EDD position)
    order = sorted(range(n), key=lambda m: (p[m], m))
    rk = [0] * n
    for r, m in enumerate(order):
        rk[m] = r
    memo: dict[tuple[int, int, int, int], tuple[int, int]] = {}
    count = [0]

    def members(i: int, j: int, kr: int) -> list[int]:
        return [m for m in range(i, j + 1) if rk[m] < kr]

    def value(i: int, j: int, kr: int, t: int) -> int:
        if i > j:
            return 0
        key = (i, j, kr, t)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        ms = members(i, j, kr)
        if not ms:
            memo[key] = (0, -1)
            return 0
        count[0] += 1
        if count[0] % POLL_EVERY == 0 and (budget.should_stop() or count[0] > max_states):
            raise _Stop
        # shortcut 1: EDD (positions are already EDD) without tardy jobs
        c = t
        late = False
        for m in ms:
            c += p[m]
            if c > d[m]:
                late = True
                break
        if not late:
            memo[key] = (0, -2)
            return 0
        # shortcut 2: every job tardy in every order -> SPT
        if all(t + p[m] > d[m] for m in ms):
            c = t
            tot = 0
            for m in sorted(ms, key=lambda x: rk[x]):
                c += p[m]
                tot += c - d[m]
            memo[key] = (tot, -3)
            return tot
        q = max(ms, key=lambda x: rk[x])
        kq = rk[q]
        best = -1
        best_r = -1
        acc = t + sum(p[m] for m in ms if m <= q)  # C_k(q): the members at positions i..q, k included
        nxt = [m for m in ms if m > q] + [-1]  # the member after each candidate r (-1: none)
        pos = 0
        for r in ms:
            if r < q:
                continue
            if r > q:
                acc += p[r]
                pos += 1
            if ELIMINATE:
                # Lawler's characterisation: k's predecessors are the jobs due by max(d_k, C_k)
                if r > q and d[r] > acc:
                    continue
                m2 = nxt[pos]
                if m2 >= 0 and d[m2] < acc:
                    continue
            v = value(i, r, kq, t) + max(0, acc - d[q])
            if best >= 0 and v >= best:
                continue
            v += value(r + 1, j, kq, acc)
            if best < 0 or v < best:
                best, best_r = v, r
        memo[key] = (best, best_r)
        return best

    def build(i: int, j: int, kr: int, t: int, out: list[int]) -> int:
        """Append the optimal order of the subproblem to ``out``; returns its end time."""
        if i > j:
            return t
        ms = members(i, j, kr)
        if not ms:
            return t
        _, r = memo[(i, j, kr, t)]
        if r == -2:
            out.extend(ms)
            return t + sum(p[m] for m in ms)
        if r == -3:
            out.extend(sorted(ms, key=lambda x: rk[x]))
            return t + sum(p[m] for m in ms)
        q = max(ms, key=lambda x: rk[x])
        c = build(i, r, rk[q], t, out)
        out.append(q)
        c += p[q]
        return build(r + 1, j, rk[q], c, out)

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20 * n + 1000))
    try:
        best = value(0, n - 1, n, 0)
        out: list[int] = []
        build(0, n - 1, n, 0, out)
    finally:
        sys.setrecursionlimit(old)
    seq = np.asarray([int(edd[m]) for m in out], dtype=np.int64)
    return seq, best, count[0]


@register(
    PROBLEM, "lawler", "exact", "unweighted only: Lawler's decomposition DP (memoised), proves optimality"
)
def run_lawler(inst: Instance, budget: Budget, hint: Any) -> Result:
    if inst.weighted:
        return result("lawler", None, stats={"skipped": "weighted instance (Lawler's theorem needs w = 1)"})
    try:
        seq, value, states = solve_lawler(inst, budget)
    except _Stop:
        lim = budget.limit_reason()
        return result("lawler", None, limit=lim if lim is not Limit.NONE else Limit.TIME, stats={})
    budget.report("lawler", float(value), float(value), None)
    return result("lawler", seq, bound=float(value), bound_source="lawler", stats={"states": states})


def warm() -> None:
    inst = Instance.from_arrays([3, 1, 2, 4, 2], [2, 1, 6, 3, 9], None)
    solve_lawler(inst, Budget())
