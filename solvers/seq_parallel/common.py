"""Shared pieces of the seq_parallel solvers: usable degrees, aligned placement, the cheap bound.

Aligned placement
-----------------
Every solver emits, per micro-batch, groups as contiguous rank ranges with larger degrees first. Degrees
are powers of two, so each range starts at a multiple of its own size. A degree-``d`` range then lies in
one node when ``gpus_per_node % d == 0`` and spans whole nodes when ``d % gpus_per_node == 0``; any
other case (a node size that is not a power of two) would mix the two, so the solvers do not use such
a degree. A degree is *usable* when it is allowed and the bandwidth table the evaluator will consult
has an entry for it.

Cheap lower bound (proof)
-------------------------
Let ``N`` be the number of GPUs, ``beta`` the per-group fixed cost, ``t(s, d)`` the time a sequence of
length ``s`` adds to a degree-``d`` group with the *fastest* bandwidth any placement of that degree
could have (so ``t`` under-estimates every real placement), restricted to degrees where ``s`` alone fits
in memory (``s <= cap*d``). Put ``w(s) = min_d d*t(s, d)`` (GPU-milliseconds of work) and
``W = sum_s w(s)``.

* In one micro-batch the groups partition the ``N`` GPUs, so its time ``max_g time(g)`` is at least the
  ``d_g/N``-weighted mean of the group times: ``sum_g d_g*time(g)/N >= beta + W_mb/N``, where
  ``W_mb`` is the work of its sequences (each group's ``d_g*time(g) = d_g*beta + sum d_g*t(s,d_g)``).
  It is also at least ``beta + t_min(s)`` for any of its sequences (``t_min(s) = min_d t(s, d)``).
* A micro-batch holds at most ``cap*N`` tokens (each group holds at most ``cap*d_g``), so the number of
  micro-batches ``m`` is at least ``m_min = ceil(total tokens / (cap*N))``.
* Summing over micro-batches, with ``x = W_mb/N`` for the micro-batch that holds the sequence with the
  largest ``t_min``: ``T >= m*beta + max(t_max, x) + (W/N - x) >= m_min*beta + max(t_max, W/N)``
  because ``max(t_max, x) - x`` does not increase with ``x`` and ``x <= W/N``.

Hence ``LB = m_min*beta + max(max_s t_min(s), W/N)``. If some sequence fits no allowed degree, no plan
exists and the bound is ``inf``.
"""

from __future__ import annotations

import math

from models.seq_parallel import Group, Instance, MicroBatch, Solution


def aligned_spans(inst: Instance, d: int) -> bool | None:
    """Whether an aligned degree-``d`` range spans nodes (None: it depends on where the range sits)."""
    if d == 1 or inst.gpus_per_node % d == 0:
        return False
    if d % inst.gpus_per_node == 0:
        return True
    return None


def usable_degrees(inst: Instance) -> list[int]:
    """Allowed degrees the solvers can place aligned with a known bandwidth, ascending."""
    out = []
    for d in inst.degrees:
        sp = aligned_spans(inst, d)
        if sp is not None and inst.bandwidth(d, sp) is not None:
            out.append(d)
    return out


def seq_time(inst: Instance, s: int, d: int) -> float:
    """Time a sequence of length ``s`` adds to an aligned degree-``d`` group (no beta)."""
    sp = aligned_spans(inst, d)
    bw = inst.bandwidth(d, bool(sp))
    return inst.cost_model.seq_time(s, d, bw if bw is not None and math.isfinite(bw) else None)


def group_time(inst: Instance, lengths: list[int], d: int) -> float:
    return inst.cost_model.beta_ms + sum(seq_time(inst, s, d) for s in lengths)


def build_solution(inst: Instance, plan: list[list[tuple[int, list[int]]]]) -> Solution:
    """``plan[i]`` = list of (degree, sequence indices); ranges are assigned larger degrees first."""
    mbs = []
    for groups in plan:
        order = sorted(range(len(groups)), key=lambda j: -groups[j][0])
        r = 0
        out = []
        for j in order:
            d, seqs = groups[j]
            out.append(Group(tuple(range(r, r + d)), tuple(seqs)))
            r += d
        mbs.append(MicroBatch(tuple(out)))
    return Solution(tuple(mbs))


def plan_time(inst: Instance, plan: list[list[tuple[int, list[int]]]]) -> float:
    L = inst.sequences
    return sum(max(group_time(inst, [L[i] for i in seqs], d) for d, seqs in groups) for groups in plan)


def fastest_bw(inst: Instance, d: int) -> float | None:
    """The largest all-to-all bandwidth any placement of a degree-``d`` group could get."""
    if d == 1:
        return math.inf
    cands = []
    if d <= inst.gpus_per_node and inst.cost_model.intra(d) is not None:
        cands.append(inst.cost_model.intra(d))
    if d <= inst.num_gpus and inst.num_gpus > inst.gpus_per_node and inst.cost_model.inter(d) is not None:
        cands.append(inst.cost_model.inter(d))
    return max((c for c in cands if c is not None), default=None)


def cheap_lower_bound(inst: Instance) -> float:
    """``m_min*beta + max(max_s t_min(s), W/N)``; see the module docstring for the proof."""
    cm = inst.cost_model
    cap = inst.token_capacity
    N = inst.num_gpus
    bws = {d: fastest_bw(inst, d) for d in inst.degrees}
    t_max = 0.0
    W = 0.0
    for s in set(inst.sequences):
        best_t = math.inf
        best_w = math.inf
        for d, bw in bws.items():
            if bw is None or s > cap * d:
                continue
            t = cm.seq_time(s, d, bw if math.isfinite(bw) else None)
            best_t = min(best_t, t)
            best_w = min(best_w, d * t)
        if math.isinf(best_t):
            return math.inf
        t_max = max(t_max, best_t)
        W += best_w * inst.sequences.count(s)
    m_min = max(1, -(-sum(inst.sequences) // (cap * N)))
    return m_min * cm.beta_ms + max(t_max, W / N)
