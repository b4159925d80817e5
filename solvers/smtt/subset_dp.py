"""Exact subset DP for 1||ΣwjTj with small n (kind ``exact``, name ``dp``), n <= :data:`MAX_N`.

Held-Karp style: for a set S of jobs scheduled first (from time 0, no idle time) the last job of S
completes at P(S) = Σ_{j∈S} p_j whatever the order, so

    F(∅) = 0,   F(S) = min_{j∈S} F(S \\ {j}) + w_j max(0, P(S) - d_j)

and F(all jobs) is the optimum. The recursion is run forward over the subsets in increasing order of
their bitmask (every subset of S is numerically smaller than S). The Emmons-type precedences ≺ of
:mod:`solvers.smtt.dominance` prune it: some optimal sequence obeys all of them, and the DP restricted
to sequences that obey them (j may be appended to S only when all its ≺-predecessors are in S, and
subsets that are not ≺-closed are unreachable) still contains that sequence, so its value is the
optimum. O(2^n n) time and 2^n int64 of memory (32 MiB at n = 22). The loop runs in chunks of
:data:`CHUNK` subsets between budget polls; out of budget it returns no solution and no bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result
from solvers.smtt.common import result
from solvers.smtt.dominance import precedes_matrix

MAX_N = 22
CHUNK = 1 << 16


@njit(cache=True)
def _dp_chunk(
    lo: int,
    hi: int,
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    pred: np.ndarray,
    f: np.ndarray,
    last: np.ndarray,
) -> None:
    """Relax F for the subsets lo..hi-1 (forward: extend each reachable S by each allowed job)."""
    n = p.shape[0]
    for s in range(lo, hi):
        fs = f[s]
        if fs < 0:
            continue
        t = 0
        for j in range(n):
            if s >> j & 1:
                t += p[j]
        for j in range(n):
            if s >> j & 1 or (pred[j] & s) != pred[j]:
                continue
            c = t + p[j]
            v = fs + (w[j] * (c - d[j]) if c > d[j] else 0)
            s2 = s | (1 << j)
            if f[s2] < 0 or v < f[s2]:
                f[s2] = v
                last[s2] = j


def subset_dp(inst: Instance, budget: Budget) -> tuple[np.ndarray, int] | None:
    """The optimal sequence and value, or None when the budget ran out (or n > MAX_N)."""
    n = inst.n
    if n > MAX_N:
        return None
    prec = precedes_matrix(inst)
    pred = np.zeros(n, dtype=np.int64)
    for i, j in zip(*np.nonzero(prec), strict=True):
        pred[j] |= 1 << int(i)
    size = 1 << n
    f = np.full(size, -1, dtype=np.int64)
    last = np.full(size, -1, dtype=np.int8)
    f[0] = 0
    for lo in range(0, size, CHUNK):
        _dp_chunk(lo, min(size, lo + CHUNK), inst.p, inst.d, inst.w, pred, f, last)
        if budget.should_stop() and lo + CHUNK < size:
            return None
    seq = []
    s = size - 1
    while s:
        j = int(last[s])
        seq.append(j)
        s &= ~(1 << j)
    return np.asarray(seq[::-1], dtype=np.int64), int(f[size - 1])


@register(PROBLEM, "dp", "exact", f"subset dynamic program with dominance pruning (n <= {MAX_N})")
def run_dp(inst: Instance, budget: Budget, hint: Any) -> Result:
    if inst.n > MAX_N:
        return result("dp", None, stats={"skipped": f"n = {inst.n} > {MAX_N}"})
    out = subset_dp(inst, budget)
    if out is None:
        return result("dp", None, limit=budget.limit_reason())
    seq, value = out
    budget.report("dp", float(value), float(value), None)
    return result("dp", seq, bound=float(value), bound_source="dp")


def warm() -> None:
    inst = Instance.from_arrays([3, 1, 2], [2, 1, 6], [1, 2, 1])
    subset_dp(inst, Budget())
