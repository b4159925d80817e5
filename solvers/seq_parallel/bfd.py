"""FlexSP's homogeneous-degree baseline: best-fit-decreasing bins of one SP degree (``bfd``, ``bfd-max``).

This reproduces the reference's ``bfd_homo_sp(batch, d)`` exactly (the rules are spelt out in
flexsp-reference.json, ``baselines``), because its numbers are the published baselines:

* ``G = N/d`` groups per micro-batch; bin capacity ``max(0.9*cap*d, longest sequence)`` tokens;
* best-fit decreasing over the whole batch (stable descending sort; the bin whose remaining room after
  insertion is smallest, lowest index on ties, a fresh bin being the first unused one);
* bins are cut into micro-batches of ``G`` in order; the last one is padded with empty bins, which
  ``fill_empty`` fills with the lowest-index sequence of the last bin holding more than one sequence;
  for ``d >= 16`` ``even_distribute`` then moves sequences inside the last micro-batch towards its mean;
* the degree is infeasible when a bin exceeds the memory limit (``cap*d`` tokens) or the plan has more
  micro-batches than ``max_microbatches``.

``bfd`` is the reference's *adaptive* baseline (the fastest single degree for the batch, ties to the
smaller degree); ``bfd-max`` the *static* one (the largest usable degree dividing N). Both are
deterministic, O(n log n) per degree.
"""

from __future__ import annotations

import bisect
import time

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Limit, Result, Status
from solvers.seq_parallel.common import build_solution, group_time, usable_degrees

PROBLEM = "seq_parallel"

Plan = list[list[tuple[int, list[int]]]]


def bfd_homo(inst: Instance, d: int) -> tuple[float, Plan] | None:
    """The reference's ``bfd_homo_sp`` for degree ``d``: (step time, plan), or None when infeasible."""
    N = inst.num_gpus
    if N % d:
        return None
    L = inst.sequences
    n = len(L)
    cap = inst.token_capacity
    G = N // d
    bin_cap = max(0.9 * cap * d, max(L))
    order = sorted(range(n), key=lambda i: -L[i])  # stable: file order among equal lengths
    bins: list[list[int]] = []
    tok: list[int] = []
    rem: list[tuple[float, int]] = []  # sorted (remaining room, bin index) of opened bins
    for i in order:
        s = L[i]
        k = bisect.bisect_left(rem, (s, -1))
        if k < len(rem):
            r, b = rem.pop(k)
            bins[b].append(i)
            tok[b] += s
            bisect.insort(rem, (r - s, b))
        else:
            b = len(bins)
            bins.append([i])
            tok.append(s)
            bisect.insort(rem, (bin_cap - s, b))
    n_bins = len(bins)
    mb_num = -(-n_bins // G)
    empty = G * mb_num - n_bins
    for _ in range(empty):
        bins.append([])
        tok.append(0)
    # fill_empty
    for e in range(n_bins, n_bins + empty):
        j = n_bins - 1
        while j >= 0 and len(bins[j]) <= 1:
            j -= 1
        if j < 0:
            break
        k = min(bins[j])
        bins[j].remove(k)
        tok[j] -= L[k]
        bins[e].append(k)
        tok[e] += L[k]
    # even_distribute
    if d >= 16 and empty > 0:
        last = list(range((mb_num - 1) * G, mb_num * G))
        avg = sum(tok[b] for b in last) // G
        for pos in range(1, len(last)):
            i = last[pos]
            if tok[i] > avg:
                continue
            for j in last[:pos]:
                members = set(bins[j])
                k = 0
                while k < n and tok[i] < avg and tok[j] > avg and len(bins[j]) > 1:
                    if k in members and tok[i] + L[k] <= bin_cap:
                        bins[j].remove(k)
                        members.discard(k)
                        tok[j] -= L[k]
                        bins[i].append(k)
                        tok[i] += L[k]
                    k += 1
    if any(t > cap * d for t in tok):
        return None
    if inst.max_microbatches is not None and mb_num > inst.max_microbatches:
        return None
    plan: Plan = [[(d, sorted(bins[b])) for b in range(m * G, (m + 1) * G)] for m in range(mb_num)]
    total = 0.0
    for groups in plan:
        total += max(group_time(inst, [L[i] for i in seqs], d) for _, seqs in groups)
    return total, plan


def homogeneous_degrees(inst: Instance) -> list[int]:
    return [d for d in usable_degrees(inst) if inst.num_gpus % d == 0]


def best_homogeneous(inst: Instance, budget: Budget | None = None) -> tuple[int, float, Plan] | None:
    """The adaptive baseline: fastest feasible single degree (strict <, ascending d: ties to smaller)."""
    best: tuple[int, float, Plan] | None = None
    for d in homogeneous_degrees(inst):
        if budget is not None and best is not None and budget.should_stop():
            break
        r = bfd_homo(inst, d)
        if r is not None and (best is None or r[0] < best[1]):
            best = (d, r[0], r[1])
    return best


def _result(inst: Instance, name: str, found: tuple[int, float, Plan] | None, t0: float) -> Result:
    stats = {"time_s": round(time.perf_counter() - t0, 4)}
    if found is None:
        return Result(PROBLEM, Status.NO_SOLUTION, name, stats=stats)
    d, obj, plan = found
    stats.update({"degree": d, "microbatches": len(plan), "modelled_ms": round(obj, 4)})
    return Result(PROBLEM, Status.FEASIBLE, name, solution=build_solution(inst, plan), stats=stats)


@register(
    PROBLEM,
    "bfd",
    "heuristic",
    "FlexSP adaptive baseline: best single SP degree, best-fit decreasing",
    instant=True,
)
def run_bfd(inst: Instance, budget: Budget, hint: object = None) -> Result:
    t0 = time.perf_counter()
    found = best_homogeneous(inst, budget)
    res = _result(inst, "bfd", found, t0)
    if res.solution is not None:
        budget.report("bfd", found[1] if found else None, None, res.solution)
    return res.with_(limit=budget.limit_reason() if found is None else Limit.NONE)


@register(
    PROBLEM,
    "bfd-max",
    "heuristic",
    "FlexSP static baseline: largest SP degree, best-fit decreasing",
    instant=True,
)
def run_bfd_max(inst: Instance, budget: Budget, hint: object = None) -> Result:
    t0 = time.perf_counter()
    degs = homogeneous_degrees(inst)
    found = None
    if degs:
        d = degs[-1]
        r = bfd_homo(inst, d)
        if r is not None:
            found = (d, r[0], r[1])
    return _result(inst, "bfd-max", found, t0)
