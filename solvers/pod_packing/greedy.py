"""Priority-aware greedy orders over the kube replica's filters (``greedy``).

kube-scheduler takes pods first-come first-served and spreads them (LeastAllocated), which strands
capacity. ``greedy`` keeps every filter of :class:`solvers.pod_packing.kube.ClusterState` (so its
answers are feasible by construction, gangs and inter-pod constraints included) and only changes the
queue order and the score: within each priority level (highest first) pods are taken by increasing
dominant share (cpu or memory request over the cluster's total; smallest first maximises the count
placed) or by decreasing share (first-fit decreasing, better when big pods are the ones left out), and
nodes are scored MostAllocated (best fit) or LeastAllocated; the replica's own queue order with
MostAllocated (``kube-most``) is one of the variants. The best of the variants by the family's
objective is returned. Each variant costs one replica run; the budget is polled between pods and
between variants.
"""

from __future__ import annotations

import time
from typing import Any

from models.pod_packing import DEFAULT_SCORING, Instance, Scoring, Solution
from solvers.budget import Budget
from solvers.pod_packing.common import (
    checked,
    level_bound_source,
    lex_lower_bound,
    pending_vector,
    worth_checking,
)
from solvers.pod_packing.kube import MOST, schedule
from solvers.registry import register
from solvers.result import Result, Status

#: above this many pending pods only the smallest-first best-fit order is tried
BIG = 150


def orders(instance: Instance) -> list[tuple[str, list[int], Scoring]]:
    """The (name, queue order, node scoring) variants tried, most useful first."""
    caps = {r: sum(n.capacity.get(r, 0) for n in instance.nodes) or 1 for r in ("cpu", "memory")}
    pods = instance.pods

    def share(i: int) -> float:
        rm = pods[i].request_map
        gpu = pods[i].gpu
        g = gpu.count * gpu.milli / 1000.0 if gpu is not None else 0.0
        return max(rm.get(r, 0) / caps[r] for r in caps) + g

    idx = range(len(pods))
    asc = sorted(idx, key=lambda i: (-pods[i].priority, share(i), i))
    desc = sorted(idx, key=lambda i: (-pods[i].priority, -share(i), i))
    fifo = sorted(idx, key=lambda i: (-pods[i].priority, i))
    return [
        ("asc-most", asc, MOST),
        ("desc-most", desc, MOST),
        ("fifo-most", fifo, MOST),
        ("asc-least", asc, DEFAULT_SCORING),
    ]


@register("pod_packing", "greedy", "heuristic", "replica filters, priority levels by size, best fit")
def run_greedy(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    t0 = time.perf_counter()
    best: Solution | None = None
    best_obj = float("inf")
    stats: dict[str, Any] = {}
    variants = orders(instance)
    if len(instance.pods) > BIG:
        variants = variants[:1]  # big batches: leave the time to LNS (the other orders rarely win there)
    for name, order, scoring in variants:
        if best is not None and budget.should_stop():
            break
        sol, _ = schedule(instance, budget, scoring, order)
        stats[f"{name}.pending"] = list(pending_vector(instance, sol))
        if not worth_checking(instance, sol, best):
            continue  # worse (or no better) by its pending vector alone: not worth the checker's time
        ev = checked(instance, sol)
        if ev.feasible and ev.objective < best_obj:
            best, best_obj = sol, ev.objective
            stats["best"] = name
            budget.report("greedy", best_obj, None, sol)
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    bound = float(lex_lower_bound(instance)[1])  # proved: see solvers.pod_packing.common
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "greedy",
        solution=best,
        bound=bound,
        bound_source=level_bound_source(instance),
        limit=budget.limit_reason(),
        stats=stats,
    )
