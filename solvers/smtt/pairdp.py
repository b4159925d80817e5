"""Stage 2 of the Lagrangian bound (:mod:`solvers.smtt.lagrange`): the DP over states (t, j) = "job j
completes at t" with adjacent-pair interchange dominance (after Tanaka, Fujikuma & Araki).

A path is a chain of arcs (i, t - p_j) -> (j, t); the pair is *allowed* when :func:`pair_ok` holds.
Let S be the optimal sequences that obey every Emmons precedence (:mod:`solvers.smtt.dominance`,
non-empty) and σ* the lexicographically smallest sequence (as the vector of job indices) in S. For
every adjacent pair "i then j, j completing at t" of σ*:

* not ``j ≺ i`` (σ* obeys the precedences);
* f_i(t - p_j) + f_j(t) <= f_j(t - p_i) + f_i(t): swapping the two changes no other completion time,
  so a strictly cheaper swap would contradict optimality;
* when the two are equal and i > j, then ``i ≺ j``: otherwise the swapped sequence (j, then i) is
  optimal, obeys every precedence (only the order of i and j changed, and not i ≺ j) and is
  lexicographically smaller, contradicting the choice of σ*.

So σ* is a path of allowed pairs, and the relaxation over allowed pairs is still >= L(μ) of stage 1 and
<= the optimum. (σ* uses only the arcs that the stage-1 rules keep: it obeys the precedence windows,
and reduced-cost elimination only removes arcs that no sequence of cost < UB uses.)

Forward values F[q] (best path 0 -> arc q, including q's cost f_j(t) - μ_j) and backward ones G[q]
(best continuation after arc q to T) are exact per arc, so an arc with F + G + Σμ > UB - 1 is used by
no sequence of cost < UB that obeys the pair rule (the same elimination as stage 1, now on (t, j)).

The minimum over predecessors scans the arcs at t - p_j sorted by F and stops at the first allowed one,
which is exact (allowance depends only on (i, j, t)). The scan is longer than one would hope (wt100 #31
after stage 1: 21 steps per arc on average, the cheapest predecessors are often ones that should follow
j), so whether a pair is allowed is not recomputed in it: :func:`pair_masks` stores, per arc, one bit
per job that may precede it (and one per job that may follow it, for the backward pass). The bits do
not depend on μ, so they are built once per arc list and only filtered when arcs are removed
(:func:`keep_masks`); on wt100 #31 after stage 1 (267k arcs, 2 words per arc and direction, 8.5 MB)
the build takes 0.11-0.14 s and a forward pass goes from 32 to 10.6 ms (#4, 333k arcs: 0.13-0.16 s,
42 -> 14 ms; load 0.7-1). Above :data:`MASK_WORDS` words the kernels fall back to :func:`pair_ok` in
the scan (an empty mask array says so).
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = 1e300
EPS = 1e-7
MASK_WORDS = 8_000_000  # 64-bit words per direction above which no masks are built (64 MB each)


@njit(cache=True, inline="always")
def pair_ok(i: int, j: int, t: int, p: np.ndarray, d: np.ndarray, w: np.ndarray, prec: np.ndarray) -> bool:
    """Whether "i, then j completing at t" may be adjacent (module docstring); integer costs,
    written without branches (the outcome is unpredictable and the scan is latency-bound)."""
    t1 = t - p[j]
    t2 = t - p[i]
    a = w[i] * max(t1 - d[i], 0) + w[j] * max(t - d[j], 0)
    b = w[j] * max(t2 - d[j], 0) + w[i] * max(t - d[i], 0)
    return (i != j) & (prec[j, i] == 0) & ((a < b) | ((a == b) & ((i < j) | (prec[i, j] != 0))))


@njit(cache=True)
def start_lists(ptr: np.ndarray, jobs: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the arcs by start time: sidx[sptr[s]:sptr[s+1]] are the arcs (j, s + p_j)."""
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    sptr = np.zeros(T + 2, dtype=np.int64)
    for t in range(T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            sptr[t - p[jobs[q]] + 1] += 1
    for s in range(T + 1):
        sptr[s + 1] += sptr[s]
    fill = sptr[:-1].copy()
    sidx = np.empty(na, dtype=np.int64)
    for t in range(T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            s = t - p[jobs[q]]
            sidx[fill[s]] = q
            fill[s] += 1
    return sptr, sidx


def mask_words(n: int, arcs: int) -> int:
    """Words per arc of :func:`pair_masks`, or 0 when the masks would exceed :data:`MASK_WORDS`."""
    words = (n + 63) >> 6
    return words if arcs * words <= MASK_WORDS else 0


@njit(cache=True)
def pair_masks(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    words: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``fm[q]``: bit i set when i may precede arc q = (j, t) (``pair_ok(i, j, t)``), for the jobs i with
    an arc at t - p_j; ``bm[r]``: bit j set when j may follow arc r = (i, s) (``pair_ok(i, j, s + p_j)``),
    for the jobs j with an arc starting at s. Both come from one test per adjacent pair of arcs (r
    ends where q starts). Arcs are only ever removed, so the bits of jobs without an arc there are
    never read."""
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    fm = np.zeros((na, words), dtype=np.uint64)
    bm = np.zeros((na, words), dtype=np.uint64)
    one = np.uint64(1)
    for t in range(1, T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            j = jobs[q]
            tp = t - p[j]
            for r in range(ptr[tp], ptr[tp + 1]):
                i = jobs[r]
                if pair_ok(i, j, t, p, d, w, prec):
                    fm[q, i >> 6] |= one << np.uint64(i & 63)
                    bm[r, j >> 6] |= one << np.uint64(j & 63)
    return fm, bm


def keep_masks(
    fm: np.ndarray, bm: np.ndarray, ptr: np.ndarray, jobs: np.ndarray, allow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The masks of the arcs of (``ptr``, ``jobs``) still allowed, in the order :func:`arc_lists`
    gives the arc list rebuilt from ``allow`` (both are by time, then job)."""
    if fm.shape[0] != jobs.shape[0]:  # no masks (too large): nothing to filter
        return fm, bm
    t = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    keep = allow[t, jobs] != 0
    return np.ascontiguousarray(fm[keep]), np.ascontiguousarray(bm[keep])


@njit(cache=True, inline="always")
def _has(mask: np.ndarray, q: int, i: int) -> bool:
    return ((mask[q, i >> 6] >> np.uint64(i & 63)) & np.uint64(1)) != 0


@njit(cache=True, inline="always")
def _sort_seg(sv: np.ndarray, sj: np.ndarray, sq: np.ndarray, lo: int, hi: int) -> None:
    """Insertion sort of sv[lo:hi] ascending, carrying sj and sq along (segments are short)."""
    for a in range(lo + 1, hi):
        v = sv[a]
        jj = sj[a]
        qq = sq[a]
        b = a - 1
        while b >= lo and sv[b] > v:
            sv[b + 1] = sv[b]
            sj[b + 1] = sj[b]
            sq[b + 1] = sq[b]
            b -= 1
        sv[b + 1] = v
        sj[b + 1] = jj
        sq[b + 1] = qq


@njit(cache=True)
def pforward(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    mu: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    F: np.ndarray,
    P: np.ndarray,
    sv: np.ndarray,
    sj: np.ndarray,
    sq: np.ndarray,
    fm: np.ndarray,
) -> None:
    """F[q]: best allowed path from 0 ending with arc q; P[q] its previous arc (-1 at the start).
    ``fm``: the forward masks of :func:`pair_masks` (no rows: :func:`pair_ok` in the scan).
    ``sv, sj`` (scratch) hold each time's arcs sorted by F: value and job, contiguous so that the scan
    reads sequential memory; ``sq`` is that order (arc indices, a permutation of each time's segment
    on entry) and is kept between evaluations: the multipliers change little from one evaluation to
    the next, so the insertion sort starts from a nearly sorted segment (measured on wt100 #2, 352k
    arcs: 90 ms per evaluation when every segment was sorted from index order, 64 ms with the order
    kept)."""
    T = ptr.shape[0] - 2
    masked = fm.shape[0] == jobs.shape[0]
    for t in range(1, T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            j = jobs[q]
            tp = t - p[j]
            F[q] = INF
            P[q] = -1
            if tp == 0:
                F[q] = arc[q] - mu[j]
                continue
            for r in range(ptr[tp], ptr[tp + 1]):
                v = sv[r]
                if v >= INF:
                    break
                if _has(fm, q, sj[r]) if masked else pair_ok(sj[r], j, t, p, d, w, prec):
                    F[q] = v + arc[q] - mu[j]
                    P[q] = sq[r]
                    break
        for r in range(ptr[t], ptr[t + 1]):
            qq = sq[r]
            sv[r] = F[qq]
            sj[r] = jobs[qq]
        _sort_seg(sv, sj, sq, ptr[t], ptr[t + 1])


@njit(cache=True)
def pbackward(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    mu: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    sptr: np.ndarray,
    G: np.ndarray,
    H: np.ndarray,
    sv: np.ndarray,
    sj: np.ndarray,
    sq: np.ndarray,
    bm: np.ndarray,
) -> None:
    """G[q]: best allowed continuation after arc q to T (0 when q completes at T); H[q] = arc cost -
    μ + G[q] (the value of entering arc q). ``sq`` is the order of the arcs by start time, sorted by H
    (on entry a permutation of each segment of :func:`start_lists`' ``sidx``), kept as in
    :func:`pforward`; ``bm``: the backward masks of :func:`pair_masks`."""
    T = ptr.shape[0] - 2
    masked = bm.shape[0] == jobs.shape[0]
    for t in range(T, 0, -1):
        # arcs starting at t complete later: their H is known
        for r in range(sptr[t], sptr[t + 1]):
            qq = sq[r]
            sv[r] = H[qq]
            sj[r] = jobs[qq]
        _sort_seg(sv, sj, sq, sptr[t], sptr[t + 1])
        for q in range(ptr[t], ptr[t + 1]):
            j = jobs[q]
            g = INF
            if t == T:
                g = 0.0
            else:
                for r in range(sptr[t], sptr[t + 1]):
                    v = sv[r]
                    if v >= INF:
                        break
                    k = sj[r]
                    if _has(bm, q, k) if masked else pair_ok(j, k, t + p[k], p, d, w, prec):
                        g = v
                        break
            G[q] = g
            H[q] = g + arc[q] - mu[j] if g < INF else INF


@njit(cache=True)
def step_multipliers(
    n: int,
    cnt: np.ndarray,
    g: np.ndarray,
    mu: np.ndarray,
    best_mu: np.ndarray,
    st: np.ndarray,
    L: float,
    ub: float,
    thr: float,
    patience: int,
    lambda_min: float,
    path: np.ndarray,
) -> int:
    """One subgradient step after a DP evaluation of value ``L`` whose path uses job k ``cnt[k]`` times
    (shared by the stage-1 and pair DPs). ``st`` = (best value, step scale, rounds without gain): the
    best multipliers are kept and the scale halves after ``patience`` rounds without gain. Returns 0 to
    go on; 2 when the path is a permutation (``path`` reversed into sequence order, the bound is exact
    for it); 1 when the best value passed ``thr``; 3 when the scale fell below ``lambda_min``."""
    norm2 = 0.0
    for k in range(n):
        g[k] = 1.0 - cnt[k]
        norm2 += g[k] * g[k]
    if st[0] + 1e-9 < L:
        st[0] = L
        best_mu[:] = mu
        st[2] = 0
    else:
        st[2] += 1
        if st[2] >= patience:
            st[1] *= 0.5
            st[2] = 0
            mu[:] = best_mu
    if norm2 == 0.0:
        st[0] = L
        best_mu[:] = mu
        path[:n] = path[:n][::-1].copy()
        return 2
    if st[0] > thr:
        return 1
    if st[1] < lambda_min:
        return 3
    step = st[1] * (ub - L) / norm2
    for k in range(n):
        mu[k] += step * g[k]
    return 0


@njit(cache=True, inline="always")
def _record(
    q: int,
    P: np.ndarray,
    state_job: np.ndarray,
    state_cost: np.ndarray,
    cnts: np.ndarray,
    costs: np.ndarray,
    lens: np.ndarray,
    paths: np.ndarray,
    r: int,
) -> None:
    """Row ``r`` of the path buffers: the path into state ``q`` walked back through ``P``."""
    cnts[r, :] = 0
    c = 0.0
    m = 0
    while q >= 0:
        j = state_job[q]
        cnts[r, j] += 1
        c += state_cost[q]
        paths[r, m] = j
        m += 1
        q = P[q]
    costs[r] = c
    lens[r] = m


@njit(cache=True)
def best_paths(
    finals: np.ndarray,
    F: np.ndarray,
    P: np.ndarray,
    state_job: np.ndarray,
    state_cost: np.ndarray,
    cnts: np.ndarray,
    costs: np.ndarray,
    lens: np.ndarray,
    paths: np.ndarray,
) -> int:
    """The paths into the final states ``finals`` of smallest F, at most ``cnts.shape[0]`` of them, best
    first, walked back through the predecessors ``P``: job counts ``cnts[r]``, cost ``costs[r]`` (Σ of
    ``state_cost`` on the path, μ left out), length ``lens[r]`` and jobs from T backwards in
    ``paths[r, :lens[r]]``. Returns how many (0: no final state is reachable)."""
    K = cnts.shape[0]
    order = np.argsort(F[finals], kind="mergesort")
    k = 0
    for a in order:
        q = finals[a]
        if k == K or F[q] >= INF:
            break
        _record(q, P, state_job, state_cost, cnts, costs, lens, paths, k)
        k += 1
    return k


@njit(cache=True)
def psubgradient(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    mu: np.ndarray,
    best_mu: np.ndarray,
    ub: float,
    st: np.ndarray,
    iters: int,
    path: np.ndarray,
    cnt: np.ndarray,
    patience: int,
    lambda_min: float,
    sq: np.ndarray,
    fm: np.ndarray,
    cnts: np.ndarray,
    costs: np.ndarray,
    lens: np.ndarray,
    paths: np.ndarray,
) -> int:
    """Up to ``iters`` subgradient evaluations of the pair DP; same protocol as
    :func:`solvers.smtt.lagrange.subgradient` (``st = [best_L, lambda, stall, evals]``; returns 0 go
    on, 1 proved / no path, 2 the minimising path is a sequence in ``path``, 3 converged). ``sq``: the
    forward order of :func:`pforward`, kept by the caller; ``fm``: its masks. The minimising path of
    evaluation r goes to row r of the buffers of :func:`best_paths` while they have rows (the
    columns of :mod:`solvers.smtt.colgen`; rows = 0 records nothing)."""
    n = p.shape[0]
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    F = np.empty(na)
    P = np.empty(na, dtype=np.int64)
    sv = np.empty(na)
    sj = np.empty(na, dtype=np.int64)
    g = np.empty(n)
    thr = ub - 1.0 + EPS * max(1.0, abs(ub))
    for r in range(iters):
        pforward(p, d, w, prec, mu, ptr, jobs, arc, F, P, sv, sj, sq, fm)
        st[3] += 1
        bq = -1
        bv = INF
        for q in range(ptr[T], ptr[T + 1]):
            if F[q] < bv:
                bv = F[q]
                bq = q
        if bq < 0:
            st[0] = ub
            return 1
        if r < cnts.shape[0]:
            _record(bq, P, jobs, arc, cnts, costs, lens, paths, r)
        done = path_step(bq, bv, jobs, P, cnt, g, mu, best_mu, st, ub, thr, patience, lambda_min, path)
        if done:
            return done
    return 0


@njit(cache=True)
def pprice(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    mu: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    sq: np.ndarray,
    fm: np.ndarray,
    cnts: np.ndarray,
    costs: np.ndarray,
    lens: np.ndarray,
    paths: np.ndarray,
) -> tuple[float, int]:
    """One evaluation of the pair DP under ``mu`` without a multiplier step (the pricing problem of
    :mod:`solvers.smtt.colgen`): returns (L(μ), k) with the k best paths into time T (one per last
    arc; the first is the minimising one) in the buffers of :func:`best_paths` (``paths`` needs T
    columns: every arc takes at least one time unit); (INF, 0) when no path is left. ``sq``, ``fm``:
    as in :func:`pforward`."""
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    F = np.empty(na)
    P = np.empty(na, dtype=np.int64)
    sv = np.empty(na)
    sj = np.empty(na, dtype=np.int64)
    pforward(p, d, w, prec, mu, ptr, jobs, arc, F, P, sv, sj, sq, fm)
    finals = np.arange(ptr[T], ptr[T + 1])
    k = best_paths(finals, F, P, jobs, arc, cnts, costs, lens, paths)
    if k == 0:
        return INF, 0
    return F[finals].min() + mu.sum(), k


@njit(cache=True)
def path_step(
    bq: int,
    value: float,
    state_job: np.ndarray,
    P: np.ndarray,
    cnt: np.ndarray,
    g: np.ndarray,
    mu: np.ndarray,
    best_mu: np.ndarray,
    st: np.ndarray,
    ub: float,
    thr: float,
    patience: int,
    lambda_min: float,
    path: np.ndarray,
) -> int:
    """Walk the minimising path back from state ``bq`` (predecessors ``P``, job of each state
    ``state_job``; ``value`` its path value without Σμ), count the jobs on it into ``cnt`` and ``path``
    and take :func:`step_multipliers` with L = value + Σμ (shared by the pair DP and the memory graph)."""
    n = mu.shape[0]
    L = value + mu.sum()
    cnt[:] = 0
    m = 0
    q = bq
    while q >= 0:
        j = state_job[q]
        cnt[j] += 1
        if m < n:
            path[m] = j
        m += 1
        q = P[q]
    return step_multipliers(n, cnt, g, mu, best_mu, st, L, ub, thr, patience, lambda_min, path)


@njit(cache=True)
def peliminate(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    mu: np.ndarray,
    allow: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    sptr: np.ndarray,
    ub: float,
    sq: np.ndarray,
    bq: np.ndarray,
    fm: np.ndarray,
    bm: np.ndarray,
) -> tuple[int, int, float]:
    """Remove (``allow[t, j] = 0``) every arc whose best allowed path under ``mu`` costs > ub - 1;
    returns (arcs removed, arcs left, L(mu)). ``sq, bq``: the forward and backward orders of
    :func:`pforward` and :func:`pbackward`, kept by the caller; ``fm, bm``: their masks."""
    n = p.shape[0]
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    F = np.empty(na)
    P = np.empty(na, dtype=np.int64)
    sv = np.empty(na)
    sj = np.empty(na, dtype=np.int64)
    G = np.empty(na)
    H = np.empty(na)
    pforward(p, d, w, prec, mu, ptr, jobs, arc, F, P, sv, sj, sq, fm)
    pbackward(p, d, w, prec, mu, ptr, jobs, arc, sptr, G, H, sv, sj, bq, bm)
    smu = 0.0
    for j in range(n):
        smu += mu[j]
    thr = ub - 1.0 + EPS * max(1.0, abs(ub))
    removed = 0
    left = 0
    L = INF
    for t in range(1, T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            if t == T and F[q] < INF and F[q] + smu < L:
                L = F[q] + smu
            if F[q] < INF and G[q] < INF and F[q] + G[q] + smu <= thr:
                left += 1
            else:
                allow[t, jobs[q]] = 0
                removed += 1
    return removed, left, L


__all__ = [
    "best_paths",
    "keep_masks",
    "mask_words",
    "pair_masks",
    "pair_ok",
    "path_step",
    "peliminate",
    "pprice",
    "psubgradient",
    "start_lists",
    "step_multipliers",
]
