"""Safe precedence rules for 1||ΣwjTj, shared by the exact models.

Rule (Emmons-type, weighted form): write i ≺ j when p_i <= p_j, w_i >= w_j and d_i <= d_j, and either
one of the three is strict or (all equal and) i < j. Then some optimal sequence has every i ≺ j with
i before j.

Proof sketch. (1) Interchange: take a sequence with j before i although i ≺ j, and swap the two. Job i
now ends at S_j + p_i <= C_j (no later than j did); the jobs in between move earlier by p_j - p_i >= 0;
job j now ends at C_i. With hinge costs f_x(t) = max(0, t - d_x): because d_i <= d_j the increase of
f_j over [C_j, C_i] is at most that of f_i, and w_j <= w_i, so
w_j (f_j(C_i) - f_j(C_j)) <= w_i (f_i(C_i) - f_i(C_j)); hence the swap never increases the cost.
(2) ≺ is a strict partial order (componentwise <= is transitive; the index tie-break only applies to
identical jobs). For a job k between j and i, the swap turns the pairs (j,k), (k,i) into (k,j), (i,k);
by transitivity an inversion created in one of them implies one removed in the other, and both cannot
be created (that would need j ≺ k ≺ i, so j ≺ i, contradicting i ≺ j). So each swap strictly reduces
the number of inverted pairs without increasing the cost; from an optimal sequence this ends in an
optimal sequence with no inversion.

Only the transitive reduction is returned (pairs with no k such that i ≺ k ≺ j), which is enough for
a model with transitive precedence semantics and keeps the model small.
"""

from __future__ import annotations

import numpy as np

from models.smtt import Instance


def precedes_matrix(inst: Instance) -> np.ndarray:
    """prec[i, j] is True when i ≺ j (see the module docstring)."""
    p, d, w = inst.p, inst.d, inst.w
    le = (p[:, None] <= p[None, :]) & (w[:, None] >= w[None, :]) & (d[:, None] <= d[None, :])
    same = (p[:, None] == p[None, :]) & (w[:, None] == w[None, :]) & (d[:, None] == d[None, :])
    idx = np.arange(inst.n)
    prec = le & (~same | (idx[:, None] < idx[None, :]))
    np.fill_diagonal(prec, False)
    return prec


def precedence_pairs(inst: Instance) -> list[tuple[int, int]]:
    """The transitive reduction of ≺ as (before, after) pairs."""
    prec = precedes_matrix(inst)
    implied = (prec.astype(np.int32) @ prec.astype(np.int32)) > 0  # i ≺ k ≺ j for some k
    red = prec & ~implied
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(red), strict=True)]


def repair(inst: Instance, seq: np.ndarray, prec: np.ndarray | None = None) -> np.ndarray:
    """A sequence obeying every ≺ precedence with cost <= that of ``seq`` (so a hint stays usable in a
    model that enforces the precedences). Applies the interchange of the proof above to an inverted
    pair until none is left; each swap removes at least one inversion, so at most n(n-1)/2 swaps."""
    if prec is None:
        prec = precedes_matrix(inst)
    s = np.array(seq, dtype=np.int64)
    for _ in range(inst.n * (inst.n - 1) // 2 + 1):
        m = prec[np.ix_(s, s)]  # m[a, b]: job at position a must precede job at position b
        inv = np.argwhere(np.tril(m, -1))  # a > b: the job at the later position a should come first
        if inv.size == 0:
            return s
        a, b = inv[0]
        s[a], s[b] = s[b], s[a]
    raise AssertionError("dominance repair did not terminate: the precedence relation has a cycle")
