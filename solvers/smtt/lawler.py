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
the set of jobs and t; the set is named canonically by (first member, last member, rank of its longest
job), so subproblems reached through different (i, j, K) share one entry. Two exact shortcuts end a
branch early: if the EDD order of the subproblem started at t has no tardy job its value is 0 (no
sequence does better); if every job is tardy even when it runs first (t + p_m > d_m for all m), every
sequence has all jobs tardy, the cost is ΣC - Σd, and SPT minimises ΣC.

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
states on random instances is far smaller (n = 500 in well under a second for most instances of the
bench, 1-6M states and 4-10 s for the hardest, rdd = 0.2-0.4), but not bounded, so the Numba solver
polls the budget every :data:`STATES_PER_CALL` states and gives up (no solution, no bound) when the
budget or :data:`MAX_STATES` runs out. The memo is an open-addressing table of int64 keys and packed
values (16 bytes a slot) rather than a Numba typed dict: 1.4x faster and a third of the memory on the
hard n = 500 instances. The rules of Szwarc, Grosso & Della
Croce (a B&B over the decomposition with more eliminations and bounds) are not implemented. Weighted
instances are refused (the theorem needs w = 1). The value it returns is a proof: the solver reports
bound = objective.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numba import njit

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Limit, Result
from solvers.smtt.common import result

POLL_EVERY = 2000
#: states memoised before the solver gives up (the table holds 16 bytes per slot at load <= 3/4: about
#: 270 MB at this cap; n = 500 instances of the bench need up to ~6M)
MAX_STATES = 12_000_000
ELIMINATE = True
#: slots of the memo table (a power of two); it doubles between Numba calls, never inside one
FIRST_CAPACITY = 1 << 16
_EMPTY = -1


class _Stop(Exception):
    pass


#: states per Numba call between budget polls (a resumed call re-walks only memoised states)
STATES_PER_CALL = 20_000


@njit(cache=True, inline="always")
def _slot(keys: np.ndarray, key: int) -> int:
    """The slot of ``key`` in the open-addressing table ``keys`` (linear probing): where it is, or the
    empty slot where it goes."""
    mask = keys.shape[0] - 1
    h = key * -7046029254386353131  # odd 64-bit multiplier (Fibonacci hashing); wraps around
    h = (h ^ (h >> 31)) & mask
    while True:
        k = keys[h]
        if k in (key, _EMPTY):
            return h
        h = (h + 1) & mask


@njit(cache=True)
def _rehash(keys: np.ndarray, vals: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    nk = np.full(cap, _EMPTY, dtype=np.int64)
    nv = np.zeros(cap, dtype=np.int64)
    for a in range(keys.shape[0]):
        if keys[a] != _EMPTY:
            s = _slot(nk, keys[a])
            nk[s] = keys[a]
            nv[s] = vals[a]
    return nk, nv


@njit(cache=True)
def _value(
    off: int,
    nm: int,
    t: int,
    sp: int,
    buf: np.ndarray,
    p: np.ndarray,
    d: np.ndarray,
    rk: np.ndarray,
    base: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    cnt: np.ndarray,
) -> int:
    """V(S, t) for the subproblem whose members (EDD positions, in EDD order) are ``buf[off:off+nm]``;
    -1 when ``cnt[0]`` reached ``cnt[1]`` new states (the caller polls the budget, grows the table and
    calls again: completed states stay memoised).

    The children of a subproblem are contiguous slices of its member list without its longest job k
    (the left side "members up to r except k", the right side "members after r"), written to
    ``buf[sp:]`` so nothing is rescanned by rank. A state's key is canonical — (first member, last
    member, rank of k, t) names the set exactly, since the set is every EDD position between the first
    and the last with rank <= k's — so subproblems reached through different (i, j, K) share one entry
    (a third fewer states on the n = 500 bench than keying by (i, j, K, t)). The value is stored as
    ``value << base[2] | (choice + 3)``: choice is r, or -2 (EDD order has no tardy job), -3 (SPT, all
    tardy)."""
    if nm == 0:
        return 0
    qi = 0
    for a in range(1, nm):
        if rk[buf[off + a]] > rk[buf[off + qi]]:
            qi = a
    q = buf[off + qi]
    key = ((buf[off] * base[0] + buf[off + nm - 1]) * base[0] + rk[q]) * base[1] + t
    s = _slot(keys, key)
    if keys[s] == key:
        return vals[s] >> base[2]
    if cnt[0] >= cnt[1]:
        return -1
    c = t
    late = False
    all_late = True
    for a in range(nm):
        m = buf[off + a]
        c += p[m]
        if c > d[m]:
            late = True
        if t + p[m] <= d[m]:
            all_late = False
    if not late:
        cnt[0] += 1
        keys[s] = key
        vals[s] = 1  # value 0, choice -2
        return 0
    if all_late:
        order = np.argsort(rk[buf[off : off + nm]])
        c = t
        tot = 0
        for a in range(nm):
            m = buf[off + order[a]]
            c += p[m]
            tot += c - d[m]
        cnt[0] += 1
        keys[s] = key
        vals[s] = tot << base[2]  # choice -3
        return tot
    # the members without k, at buf[sp : sp + nm - 1]; children write from nsp on
    w = sp
    for a in range(nm):
        if a != qi:
            buf[w] = buf[off + a]
            w += 1
    nsp = w
    acc = t
    for a in range(qi + 1):
        acc += p[buf[off + a]]
    best = -1
    best_r = -1
    # candidate a: k right after the members at indices <= a of this list (r = buf[off + a])
    for a in range(qi, nm):
        if a > qi:
            r = buf[off + a]
            acc += p[r]
            if d[r] > acc:
                continue
        if a + 1 < nm and d[buf[off + a + 1]] < acc:
            continue
        left = _value(sp, a, t, nsp, buf, p, d, rk, base, keys, vals, cnt)
        if left < 0:
            return -1
        v = left + max(0, acc - d[q])
        if best >= 0 and v >= best:
            continue
        right = _value(sp + a, nm - 1 - a, acc, nsp, buf, p, d, rk, base, keys, vals, cnt)
        if right < 0:
            return -1
        v += right
        if best < 0 or v < best:
            best = v
            best_r = buf[off + a]
    cnt[0] += 1
    s = _slot(keys, key)  # the children may have filled the slot found above
    keys[s] = key
    vals[s] = (best << base[2]) | (best_r + 3)
    return best


def solve_lawler(inst: Instance, budget: Budget, max_states: int = MAX_STATES) -> tuple[np.ndarray, int, int]:
    """The optimal sequence, its cost and the number of states (Numba; falls back to the Python
    reference when a key or a packed value would overflow int64). Raises :class:`_Stop` on the budget,
    on ``max_states`` or when the table cannot grow (MemoryError, e.g. under a worker's RLIMIT_AS)."""
    n = inst.n
    total = int(inst.p.sum())
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0, 0
    shift = (n + 3).bit_length()
    if (n + 1) ** 3 * (total + 1) >= 2**62 or (n * (total + 1) + 1) << shift >= 2**62:
        return solve_lawler_py(inst, budget, max_states)
    edd = np.lexsort((np.arange(n), inst.p, inst.d))
    p = np.ascontiguousarray(inst.p[edd], dtype=np.int64)
    d = np.ascontiguousarray(inst.d[edd], dtype=np.int64)
    order = np.lexsort((np.arange(n), p))
    rk = np.empty(n, dtype=np.int64)
    rk[order] = np.arange(n)
    base = np.array([n + 1, total + 1, shift], dtype=np.int64)
    # member lists: the root's, then at most one list per recursion level (n - 1, n - 2, ...)
    buf = np.empty(n * (n + 1) // 2 + n + 1, dtype=np.int64)
    buf[:n] = np.arange(n)
    cap = FIRST_CAPACITY
    keys = np.full(cap, _EMPTY, dtype=np.int64)
    vals = np.zeros(cap, dtype=np.int64)
    cnt = np.array([0, 0], dtype=np.int64)
    while True:
        try:
            while 4 * (cnt[0] + STATES_PER_CALL) > 3 * cap:
                cap *= 2
                keys, vals = _rehash(keys, vals, cap)
        except MemoryError:
            raise _Stop from None
        cnt[1] = min(max_states, cnt[0] + STATES_PER_CALL)
        v = _value(0, n, 0, n, buf, p, d, rk, base, keys, vals, cnt)
        if v >= 0:
            break
        if budget.should_stop() or cnt[0] >= max_states:
            raise _Stop
    out: list[int] = []
    stack: list[tuple[list[int], int]] = [([*range(n)], 0)]
    # iterative in-order walk of the chosen decomposition: (members, start time) or a placed job ([-1 - m], 0)
    while stack:
        ms, t = stack.pop()
        if not ms:
            continue
        if ms[0] < 0:
            out.append(-1 - ms[0])
            continue
        q = max(ms, key=lambda x: int(rk[x]))
        key = ((ms[0] * (n + 1) + ms[-1]) * (n + 1) + int(rk[q])) * (total + 1) + t
        r = (int(vals[_slot(keys, key)]) & ((1 << shift) - 1)) - 3
        if r == -2:
            out.extend(ms)
            continue
        if r == -3:
            out.extend(sorted(ms, key=lambda x: int(rk[x])))
            continue
        left = [m for m in ms if m <= r and m != q]
        right = [m for m in ms if m > r]
        c = t + sum(int(p[m]) for m in left) + int(p[q])
        stack.append((right, c))
        stack.append(([-1 - q], 0))
        stack.append((left, t))
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
