"""Stage 3 of the Lagrangian bound (:mod:`solvers.smtt.lagrange`): the pair DP with memory jobs on an
explicit, pruned state graph (the "successive sublimation" step of Tanaka, Fujikuma & Araki).

State graph
-----------
A state is (t, j, S): job j completes at t and S ⊆ M is the set of memory jobs on the path so far (j's
bit included when j ∈ M). The states are kept in an array sorted by t and an edge r -> q means "the
job of r, then the job of q", allowed when the two obey the adjacent-pair rule of
:mod:`solvers.smtt.pairdp` and the memory sets agree (S_r = S_q minus the bit of q's job). A start
state has t = p_j and no predecessor; a path must end in a state (T, ·, M). Incoming edges are stored
in CSR form (``in_ptr``, ``in_src``), which is all the forward pass (a pull over the in-edges, states in
ascending t) and the backward pass (a push over the same in-edges, states in descending t) need.

Validity. Every sequence of cost < UB that obeys the Emmons precedences and the pair rule (σ* of
:mod:`solvers.smtt.pairdp` when the optimum is < UB) is a path of this graph: it is a path of the pair
DP over the arcs left, it uses every memory job exactly once, so its memory sets are exactly the ones
the expansion below creates, and pruning only removes states and edges that no path of cost < UB
uses. So for every μ the relaxation over the graph is <= that sequence's cost and, as in stage 1,
min(UB, L(μ)) is a lower bound on the optimum.

* **Pruning.** With the forward value F[q] (best path to q, q's cost f_j(t) - μ_j included) and the
  backward value G[q] (best continuation after q), a state with F + G + Σμ > UB - 1 lies on no path
  of cost < UB; an edge r -> q with F[r] + (f_j(t) - μ_j) + G[q] + Σμ > UB - 1 neither. Both are
  removed (:func:`prune`); a state that loses its last edge that way goes at the next round (its F or
  G is then infinite).
* **Expansion.** Adding memory job m (:func:`expand`) splits every state (t, j, S) into "m not yet
  done" (kept when m can still complete after t: t + p_m <= m's latest completion) and "m already
  done" (kept when m can have completed before j starts: t - p_j >= m's earliest completion); the
  states of m itself get only the second form. An edge survives in the copy whose masks agree.
  Every path that uses m once keeps exactly one image, so the graph shrinks the relaxation's feasible
  set without losing a sequence. The state count at most doubles per job; where the arcs are few
  pruning takes it back (wt100 #17: 5,056 arcs, 15 memory jobs, 529 states at the proof), where the
  dense (T + 1)·2^|M| table of stage 2b stops at 8 jobs for T ≈ 5,000. Where they are many it does
  not (wt100 #12: 29k arcs, 9 memory jobs, 6.2M states).
* **Which job.** Outside [lo_m, hi_m - p_m] (:func:`windows`) the time alone decides whether m is done,
  so only the states inside split; stage 3 adds, of the jobs the minimising path uses other than once,
  the one with the fewest states there (:func:`split_estimate`, never below the growth). Most violated
  first instead: wt100 #19 at 9 s had 9 memory jobs, 2.4M states and a bound 124 below the optimum;
  narrowest first proves it in 3.7–4.1 s with 24–26 memory jobs and 38k–51k states in two runs
  (``ssdp`` alone from the optimal sequence).

The minimising path of a graph DP uses each memory job exactly once; when it uses every job exactly
once it is a sequence and L is its cost.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from solvers.smtt.pairdp import best_paths, pair_ok, path_step

INF = 1e300
EPS = 1e-7

#: (t, job, memory mask, cost f_j(t), in_ptr, in_src): one graph, states sorted by t
Graph = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@njit(cache=True)
def build(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    prec: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    max_edges: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The memory-free graph over the arcs of the CSR ``ptr, jobs, arc`` (arcs by completion time):
    state q is arc q, an edge r -> q joins every allowed pair. Returns (t, job, mask, cost, in_ptr,
    in_src), or a graph without states when it would have more than ``max_edges`` edges (counted
    before anything is allocated for them; wt100 has 4 to 38 edges per arc)."""
    T = ptr.shape[0] - 2
    na = jobs.shape[0]
    st_t = np.empty(na, dtype=np.int64)
    for t in range(T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            st_t[q] = t
    in_ptr = np.zeros(na + 1, dtype=np.int64)
    for q in range(na):
        j = jobs[q]
        tp = st_t[q] - p[j]
        c = 0
        if tp > 0:
            for r in range(ptr[tp], ptr[tp + 1]):
                if pair_ok(jobs[r], j, st_t[q], p, d, w, prec):
                    c += 1
        in_ptr[q + 1] = in_ptr[q] + c
    if in_ptr[na] > max_edges:
        none = np.zeros(0, dtype=np.int64)
        return none, none, none, np.zeros(0), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    in_src = np.empty(in_ptr[na], dtype=np.int32)
    for q in range(na):
        j = jobs[q]
        tp = st_t[q] - p[j]
        e = in_ptr[q]
        if tp > 0:
            for r in range(ptr[tp], ptr[tp + 1]):
                if pair_ok(jobs[r], j, st_t[q], p, d, w, prec):
                    in_src[e] = r
                    e += 1
    return st_t, jobs.copy(), np.zeros(na, dtype=np.int64), arc.copy(), in_ptr, in_src


@njit(cache=True)
def forward(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    p: np.ndarray,
    mu: np.ndarray,
    F: np.ndarray,
    P: np.ndarray,
) -> None:
    """F[q]: best path value ending in q (q's cost f_j(t) - μ_j included), P[q] its predecessor."""
    for q in range(st_t.shape[0]):
        j = st_j[q]
        P[q] = -1
        if st_t[q] == p[j]:
            F[q] = st_c[q] - mu[j]
            continue
        b = INF
        for e in range(in_ptr[q], in_ptr[q + 1]):
            r = in_src[e]
            if F[r] < b:
                b = F[r]
                P[q] = r
        F[q] = b + st_c[q] - mu[j] if b < INF else INF


@njit(cache=True)
def backward(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    mu: np.ndarray,
    T: int,
    full: int,
    G: np.ndarray,
) -> None:
    """G[q]: best continuation after q to a final state (0 at a final state), pushed backwards along
    the in-edges (a state's successors complete later, so they come later in the array)."""
    ns = st_t.shape[0]
    for q in range(ns):
        G[q] = 0.0 if (st_t[q] == T and st_m[q] == full) else INF
    for q in range(ns - 1, -1, -1):
        if G[q] >= INF:
            continue
        h = G[q] + st_c[q] - mu[st_j[q]]
        for e in range(in_ptr[q], in_ptr[q + 1]):
            r = in_src[e]
            if h < G[r]:
                G[r] = h


@njit(cache=True)
def best_final(st_t: np.ndarray, st_m: np.ndarray, F: np.ndarray, T: int, full: int) -> int:
    """The final state (T, ·, M) with the smallest F, or -1."""
    bq = -1
    bv = INF
    for q in range(st_t.shape[0] - 1, -1, -1):
        if st_t[q] < T:
            break
        if st_m[q] == full and F[q] < bv:
            bv = F[q]
            bq = q
    return bq


@njit(cache=True)
def prune(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    mu: np.ndarray,
    F: np.ndarray,
    G: np.ndarray,
    smu: float,
    thr: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop the states and edges whose best path through them exceeds ``thr`` (module docstring);
    returns the compacted graph (t, job, mask, cost, in_ptr, in_src)."""
    ns = st_t.shape[0]
    new = np.full(ns, -1, dtype=np.int64)
    k = 0
    for q in range(ns):
        if F[q] < INF and G[q] < INF and F[q] + G[q] + smu <= thr:
            new[q] = k
            k += 1
    nt = np.empty(k, dtype=np.int64)
    nj = np.empty(k, dtype=np.int64)
    nm = np.empty(k, dtype=np.int64)
    nc = np.empty(k)
    nptr = np.zeros(k + 1, dtype=np.int64)
    buf = np.empty(in_src.shape[0], dtype=np.int32)  # edges only go: one pass, trimmed at the end
    e2 = 0
    for q in range(ns):
        a = new[q]
        if a < 0:
            continue
        nt[a] = st_t[q]
        nj[a] = st_j[q]
        nm[a] = st_m[q]
        nc[a] = st_c[q]
        tail = st_c[q] - mu[st_j[q]] + G[q] + smu
        for e in range(in_ptr[q], in_ptr[q + 1]):
            r = in_src[e]
            if new[r] >= 0 and F[r] + tail <= thr:
                buf[e2] = new[r]
                e2 += 1
        nptr[a + 1] = e2
    return nt, nj, nm, nc, nptr, buf[:e2].copy()


@njit(cache=True)
def windows(st_t: np.ndarray, st_j: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): each job's earliest and latest completion over the states (lo > hi when it has none)."""
    lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n, -1, dtype=np.int64)
    for q in range(st_t.shape[0]):
        j = st_j[q]
        lo[j] = min(lo[j], st_t[q])
        hi[j] = max(hi[j], st_t[q])
    return lo, hi


def split_estimate(st_t: np.ndarray, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, m: int) -> int:
    """How many states :func:`expand` would split for memory job ``m``, from above: those completing
    within [lo_m, hi_m - p_m], where both "m done" and "m not done" can hold (``st_t`` is sorted)."""
    a = np.searchsorted(st_t, lo[m], "left")
    b = np.searchsorted(st_t, hi[m] - p[m], "right")
    return max(0, int(b - a))


@njit(cache=True)
def expand(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    p: np.ndarray,
    m: int,
    b: int,
    lo_m: int,
    hi_m: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make job ``m`` a memory job with bit ``b`` of the masks: every state splits into its "m not done"
    / "m done" copies (module docstring); ``lo_m, hi_m`` bound m's completion."""
    ns = st_t.shape[0]
    bit = np.int64(1) << b
    a_of = np.full(ns, -1, dtype=np.int64)  # copy without m's bit
    b_of = np.full(ns, -1, dtype=np.int64)  # copy with it
    k = 0
    for q in range(ns):
        j = st_j[q]
        t = st_t[q]
        if j != m and t + p[m] <= hi_m:
            a_of[q] = k
            k += 1
        if j == m or t - p[j] >= lo_m:
            b_of[q] = k
            k += 1
    nt = np.empty(k, dtype=np.int64)
    nj = np.empty(k, dtype=np.int64)
    nm = np.empty(k, dtype=np.int64)
    nc = np.empty(k)
    nptr = np.zeros(k + 1, dtype=np.int64)
    # one pass: copies are numbered in state order, so the edges fill in order; an old edge r -> q has
    # at most one image per copy of q (the copy of r whose mask agrees), so 2x the old edges suffice
    buf = np.empty(2 * in_src.shape[0], dtype=np.int32)
    e2 = 0
    for q in range(ns):
        j = st_j[q]
        for side in range(2):
            a = a_of[q] if side == 0 else b_of[q]
            if a < 0:
                continue
            nt[a] = st_t[q]
            nj[a] = j
            nm[a] = st_m[q] | bit if side == 1 else st_m[q]
            nc[a] = st_c[q]
            # the predecessor has m done iff this copy has it and q's job is not m itself
            src = b_of if (side == 1 and j != m) else a_of
            for e in range(in_ptr[q], in_ptr[q + 1]):
                s = src[in_src[e]]
                if s >= 0:
                    buf[e2] = s
                    e2 += 1
            nptr[a + 1] = e2
    nsrc = buf[:e2].copy()
    return nt, nj, nm, nc, nptr, nsrc


@njit(cache=True)
def subgradient(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    p: np.ndarray,
    T: int,
    full: int,
    mu: np.ndarray,
    best_mu: np.ndarray,
    ub: float,
    st: np.ndarray,
    iters: int,
    path: np.ndarray,
    cnt: np.ndarray,
    patience: int,
    lambda_min: float,
) -> int:
    """Up to ``iters`` subgradient evaluations on the graph; the protocol of
    :func:`solvers.smtt.pairdp.psubgradient` (returns 0 go on, 1 proved / no path, 2 the minimising
    path is a sequence in ``path``, 3 converged)."""
    n = p.shape[0]
    ns = st_t.shape[0]
    F = np.empty(ns)
    P = np.empty(ns, dtype=np.int64)
    g = np.empty(n)
    thr = ub - 1.0 + EPS * max(1.0, abs(ub))
    for _ in range(iters):
        forward(st_t, st_j, st_c, in_ptr, in_src, p, mu, F, P)
        st[3] += 1
        bq = best_final(st_t, st_m, F, T, full)
        if bq < 0:
            st[0] = ub
            return 1
        done = path_step(bq, F[bq], st_j, P, cnt, g, mu, best_mu, st, ub, thr, patience, lambda_min, path)
        if done:
            return done
    return 0


@njit(cache=True)
def price(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    p: np.ndarray,
    T: int,
    full: int,
    mu: np.ndarray,
    cnts: np.ndarray,
    costs: np.ndarray,
    lens: np.ndarray,
    paths: np.ndarray,
) -> tuple[float, int]:
    """One evaluation under ``mu`` without a multiplier step, as
    :func:`solvers.smtt.pairdp.pprice`: (L(μ), k) with the k best paths into the final states
    (T, ·, M) in the buffers of :func:`solvers.smtt.pairdp.best_paths`; (INF, 0) without a path."""
    ns = st_t.shape[0]
    F = np.empty(ns)
    P = np.empty(ns, dtype=np.int64)
    forward(st_t, st_j, st_c, in_ptr, in_src, p, mu, F, P)
    nf = 0
    for q in range(ns - 1, -1, -1):
        if st_t[q] < T:
            break
        nf += 1
    finals = np.empty(nf, dtype=np.int64)
    k = 0
    for q in range(ns - nf, ns):
        if st_m[q] == full:
            finals[k] = q
            k += 1
    finals = finals[:k]
    k = best_paths(finals, F, P, st_j, st_c, cnts, costs, lens, paths)
    if k == 0:
        return INF, 0
    return F[finals].min() + mu.sum(), k


@njit(cache=True)
def evaluate(
    st_t: np.ndarray,
    st_j: np.ndarray,
    st_m: np.ndarray,
    st_c: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    p: np.ndarray,
    T: int,
    full: int,
    mu: np.ndarray,
    F: np.ndarray,
    G: np.ndarray,
    cnt: np.ndarray,
) -> float:
    """Forward and backward values under ``mu`` and the job counts of the minimising path; returns
    L(μ) (INF when no final state is reachable)."""
    ns = st_t.shape[0]
    P = np.empty(ns, dtype=np.int64)
    forward(st_t, st_j, st_c, in_ptr, in_src, p, mu, F, P)
    backward(st_t, st_j, st_m, st_c, in_ptr, in_src, mu, T, full, G)
    cnt[:] = 0
    bq = best_final(st_t, st_m, F, T, full)
    if bq < 0:
        return INF
    q = bq
    while q >= 0:
        cnt[st_j[q]] += 1
        q = P[q]
    return F[bq] + mu.sum()


__all__ = [
    "Graph",
    "backward",
    "best_final",
    "build",
    "evaluate",
    "expand",
    "forward",
    "price",
    "prune",
    "subgradient",
]
