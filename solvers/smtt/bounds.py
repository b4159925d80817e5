"""Cheap, proved lower bounds for 1||ΣwjTj (registered as the family's ``register_bound``).

Each bound is a relaxation whose validity is sketched here; the family bound is their maximum.

``trivial``  Σ_j w_j max(0, p_j - d_j): every job completes no earlier than its own length.

``assignment``  (n <= ASSIGNMENT_MAX_N) Sort the processing times, S_k = sum of the k smallest. In any
    sequence the job j at position k completes at p_j + (the k-1 other jobs before it) >= E_jk where
    E_jk = S_k if j is among the k shortest jobs (ties broken by index), else p_j + S_{k-1}
    (the k-1 other jobs are at least the k-1 shortest jobs other than j). So the objective of every
    sequence is >= Σ_j w_j max(0, E_{j,pos(j)} - d_j) >= the minimum of that sum over all
    job-to-position assignments, which the Hungarian method computes exactly in O(n^3). It dominates
    ``trivial`` (E_jk >= p_j) and the classical SPT/EDD pairing bound times min w.

``spt_edd``  (any n, used when the assignment is too large) min_j w_j · Σ_k max(0, S_k - d_[k]) with
    d_[k] the due dates sorted ascending: the k-th completion is >= S_k, and pairing the sorted
    S with the sorted d minimises Σ f(S_k - d_π(k)) for the convex f(x) = max(0, x).

Later bounds (Lagrangian relaxation, DP relaxations) slot into :func:`best_bound` as further terms.
"""

from __future__ import annotations

import numpy as np

from models.smtt import Instance
from solvers.smtt.kernels import min_cost_assignment

ASSIGNMENT_MAX_N = 250  # O(n^3): about 0.03 s at n = 200, 0.25 s at n = 400


def trivial_bound(inst: Instance) -> int:
    return int(np.sum(inst.w * np.maximum(0, inst.p - inst.d)))


def spt_edd_bound(inst: Instance) -> int:
    s = np.cumsum(np.sort(inst.p))
    return int(inst.w.min()) * int(np.sum(np.maximum(0, s - np.sort(inst.d))))


def assignment_cost_matrix(inst: Instance) -> np.ndarray:
    """cost[j, k] = w_j max(0, E_jk - d_j) with E_jk the earliest completion of job j at position k."""
    n = inst.n
    p, d, w = inst.p, inst.d, inst.w
    order = np.lexsort((np.arange(n), p))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    s = np.concatenate(([0], np.cumsum(p[order])))  # s[k] = sum of the k shortest
    k = np.arange(n)[None, :]  # position k (0-based) -> k + 1 jobs up to and including it
    among = rank[:, None] <= k
    e = np.where(among, s[None, 1:], p[:, None] + s[None, :-1])
    return (w[:, None] * np.maximum(0, e - d[:, None])).astype(np.int64)


def assignment_bound(inst: Instance) -> int:
    c = assignment_cost_matrix(inst)
    if not c.any():
        return 0
    return int(min_cost_assignment(c))


def best_bound(inst: Instance) -> tuple[int, str]:
    """The strongest cheap bound available for this size, with its name."""
    cands = [(trivial_bound(inst), "trivial"), (spt_edd_bound(inst), "spt_edd")]
    if inst.n <= ASSIGNMENT_MAX_N:
        cands.append((assignment_bound(inst), "assignment"))
    value, name = max(cands, key=lambda t: t[0])
    return value, name
