"""Numba kernels for SMTT: cost, dispatching rules, the local-search step, perturbation, assignment.

All kernels take int64 arrays ``p, d, w`` (the instance's read-only views) and work on int64 job
sequences. Every loop that can be long is bounded by an explicit work limit and returns to Python so
the caller can poll the budget (see :mod:`solvers.smtt.ls`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def seq_cost(seq: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray) -> int:
    t = 0
    total = 0
    for k in range(seq.shape[0]):
        j = seq[k]
        t += p[j]
        if t > d[j]:
            total += w[j] * (t - d[j])
    return total


@njit(cache=True)
def mdd_sequence(p: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(Weighted) modified due date: at time t pick the job minimising max(p_j, d_j - t) / w_j.

    A job with w_j = 0 has priority +inf (it can only go last); ties go to the lower index.
    """
    n = p.shape[0]
    used = np.zeros(n, dtype=np.bool_)
    seq = np.empty(n, dtype=np.int64)
    t = 0
    for k in range(n):
        best = -1
        best_v = np.inf
        for j in range(n):
            if used[j]:
                continue
            m = max(p[j], d[j] - t)
            v = np.inf if w[j] == 0 else m / w[j]
            if best < 0 or v < best_v:
                best = j
                best_v = v
        used[best] = True
        seq[k] = best
        t += p[best]
    return seq


@njit(cache=True)
def atc_sequence(p: np.ndarray, d: np.ndarray, w: np.ndarray, k_param: float) -> np.ndarray:
    """Apparent tardiness cost: pick the job maximising (w_j/p_j) exp(-max(0, d_j - p_j - t)/(k p̄)).

    Zero-length jobs have priority +inf (they go first, which is never worse); ties -> lower index.
    The exponent is compared in log space to avoid underflow: log w_j - log p_j - slack/(k p̄).
    """
    n = p.shape[0]
    used = np.zeros(n, dtype=np.bool_)
    seq = np.empty(n, dtype=np.int64)
    pbar = max(1.0, p.sum() / n)
    scale = k_param * pbar
    t = 0
    for k in range(n):
        best = -1
        best_v = -np.inf
        for j in range(n):
            if used[j]:
                continue
            if p[j] == 0:
                v = np.inf
            elif w[j] == 0:
                v = -1e300
            else:
                slack = max(0, d[j] - p[j] - t)
                v = np.log(w[j]) - np.log(p[j]) - slack / scale
            if best < 0 or v > best_v:
                best = j
                best_v = v
        used[best] = True
        seq[k] = best
        t += p[best]
    return seq


@njit(cache=True)
def _tard(c: int, dj: int, wj: int) -> int:
    return wj * (c - dj) if c > dj else 0


@njit(cache=True)
def _completions(seq: np.ndarray, p: np.ndarray, comp: np.ndarray) -> None:
    t = 0
    for k in range(seq.shape[0]):
        t += p[seq[k]]
        comp[k] = t


@njit(cache=True)
def _apply(seq: np.ndarray, kind: int, i: int, j: int) -> None:
    """kind 0: swap positions i, j; kind 1: move the job at position i to position j."""
    if kind == 0:
        a = seq[i]
        seq[i] = seq[j]
        seq[j] = a
    elif i < j:
        a = seq[i]
        for k in range(i, j):
            seq[k] = seq[k + 1]
        seq[j] = a
    else:
        a = seq[i]
        for k in range(i, j, -1):
            seq[k] = seq[k - 1]
        seq[j] = a


@njit(cache=True)
def descend(
    seq: np.ndarray,
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    state: np.ndarray,
    max_work: int,
    swaps: bool = True,
) -> bool:
    """Run the swap + insertion local search on ``seq`` in place for at most ``max_work`` elementary
    steps. Returns True once ``seq`` is a local optimum. ``swaps=False`` searches insertions only
    (dynasearch covers the swaps).

    ``state = [cursor, positions_without_improvement]`` carries the scan across calls. For each
    position i (cyclically from the cursor) all swaps (i, j) and insertions of the job at i elsewhere
    are evaluated and the best improving one is applied (first improvement over i, best over j).

    Delta evaluation: only positions between i and j change completion times. An insertion later /
    earlier shifts the jobs in between by -p_a / +p_a, accumulated in O(1) per j, so all insertions of
    one job cost O(n); a swap (i, j) shifts the jobs in between by p_b - p_a and costs O(j - i).
    """
    n = seq.shape[0]
    if n < 2:
        state[1] = n
        return True
    comp = np.empty(n, dtype=np.int64)
    _completions(seq, p, comp)
    work = 0
    i = state[0] % n
    stall = state[1]
    while stall < n:
        if work >= max_work:
            state[0] = i
            state[1] = stall
            return False
        a = seq[i]
        ci = comp[i]
        base_a = _tard(ci, d[a], w[a])
        best_delta = 0
        best_kind = -1
        best_j = -1
        # insertion later: a goes to position j > i, jobs i+1..j move earlier by p[a]
        acc = 0
        for j in range(i + 1, n):
            b = seq[j]
            acc += _tard(comp[j] - p[a], d[b], w[b]) - _tard(comp[j], d[b], w[b])
            delta = acc + _tard(comp[j], d[a], w[a]) - base_a
            if delta < best_delta:
                best_delta = delta
                best_kind = 1
                best_j = j
        # insertion earlier: a goes to position j < i, jobs j..i-1 move later by p[a]
        acc = 0
        for j in range(i - 1, -1, -1):
            b = seq[j]
            acc += _tard(comp[j] + p[a], d[b], w[b]) - _tard(comp[j], d[b], w[b])
            ca = comp[j] - p[b] + p[a]
            delta = acc + _tard(ca, d[a], w[a]) - base_a
            if delta < best_delta:
                best_delta = delta
                best_kind = 1
                best_j = j
        work += n
        # swaps (i, j), j > i (swaps with j < i were tried when the scan was at j)
        start_i = ci - p[a]
        for j in range(i + 2, n if swaps else 0):
            b = seq[j]
            shift = p[b] - p[a]
            delta = (
                _tard(start_i + p[b], d[b], w[b])
                - base_a
                + _tard(comp[j], d[a], w[a])
                - _tard(comp[j], d[b], w[b])
            )
            if shift != 0:
                for k in range(i + 1, j):
                    c = seq[k]
                    delta += _tard(comp[k] + shift, d[c], w[c]) - _tard(comp[k], d[c], w[c])
                work += j - i
            if delta < best_delta:
                best_delta = delta
                best_kind = 0
                best_j = j
        work += n
        if best_kind >= 0:
            _apply(seq, best_kind, i, best_j)
            _completions(seq, p, comp)
            work += n
            stall = 0
        else:
            stall += 1
        i += 1
        if i == n:
            i = 0
    state[0] = i
    state[1] = stall
    return True


@njit(cache=True)
def _xorshift(rng: np.ndarray) -> np.uint64:
    x = rng[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    rng[0] = x
    return x


@njit(cache=True)
def perturb(seq: np.ndarray, rng: np.ndarray, strength: int) -> None:
    """``strength`` random moves: a swap of two positions at most n/4 apart, or a random insertion.

    ``rng`` is a one-element uint64 xorshift state, so results depend only on the seed.
    """
    n = seq.shape[0]
    if n < 2:
        return
    span = max(2, n // 4)
    for _ in range(strength):
        i = int(_xorshift(rng) % np.uint64(n))
        off = 1 + int(_xorshift(rng) % np.uint64(span))
        j = i + off if (_xorshift(rng) & np.uint64(1)) else i - off
        if j < 0:
            j = 0
        if j >= n:
            j = n - 1
        if j == i:
            continue
        kind = int(_xorshift(rng) & np.uint64(1))
        _apply(seq, kind, i, j)


@njit(cache=True)
def min_cost_assignment(cost: np.ndarray) -> int:
    """Minimum of Σ cost[r, c(r)] over perfect matchings of a square int64 matrix (Hungarian, O(n^3),
    shortest augmenting paths with potentials). Returns the optimum value only."""
    n = cost.shape[0]
    inf = np.iinfo(np.int64).max // 4
    u = np.zeros(n + 1, dtype=np.int64)
    v = np.zeros(n + 1, dtype=np.int64)
    match = np.zeros(n + 1, dtype=np.int64)  # match[col] = row (1-based), 0 = free
    way = np.zeros(n + 1, dtype=np.int64)
    for row in range(1, n + 1):
        match[0] = row
        j0 = 0
        minv = np.full(n + 1, inf, dtype=np.int64)
        used = np.zeros(n + 1, dtype=np.bool_)
        while True:
            used[j0] = True
            i0 = match[j0]
            delta = inf
            j1 = 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while True:
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
            if j0 == 0:
                break
    total = 0
    for j in range(1, n + 1):
        total += cost[match[j] - 1, j - 1]
    return total


def warm() -> None:
    """Compile every kernel on a tiny input."""
    p = np.array([3, 1, 2], dtype=np.int64)
    d = np.array([2, 1, 6], dtype=np.int64)
    w = np.array([1, 2, 1], dtype=np.int64)
    for arr in (p, d, w):  # instance views are read-only: a distinct Numba signature
        arr.setflags(write=False)
    s = mdd_sequence(p, d, w)
    atc_sequence(p, d, w, 1.0)
    seq_cost(s, p, d, w)
    st = np.zeros(2, dtype=np.int64)
    descend(s, p, d, w, st, 1000)
    descend(s, p, d, w, st, 1000, False)  # dynasearch passes `swaps` explicitly: another signature
    perturb(s, np.array([12345], dtype=np.uint64), 2)
    min_cost_assignment(np.array([[1, 2], [3, 1]], dtype=np.int64))
