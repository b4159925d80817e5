"""Large-neighbourhood search around CP-SAT (``lns``) for clusters too big to solve whole.

A neighbourhood is a handful of nodes chosen around a pending pod of the highest level that still has
pending pods (``K`` of the nodes its node-level filters accept, at random, plus a few random others).
The sub-problem keeps every node (so topology domains and counts stay exact) but only the chosen ones
accept pods: they get the label ``allot.io/lns=1`` and the sub-problem's pods a matching node selector.
Its pending pods are the batch pods the incumbent put on those nodes plus the pending pods that may go
there; every other batch pod becomes a fixed running pod where the incumbent put it (so anti-affinity
both ways and spread counts see it). Gangs are left out (their placed members stay fixed, their
pending members stay pending). The sub-problem is solved by the exact model (:mod:`.cpsat`) warm-started
from the incumbent, its answer merged back and accepted only if the family's ``evaluate`` finds the
whole placement feasible and better — fixed pods' own affinity/spread are not re-checked inside the
sub-problem, so the full check is what keeps the answer sound.

Each neighbourhood gets at most ``STEP_S`` seconds (less when the budget is short); the neighbourhood
size grows when several in a row bring nothing. The search stops when the incumbent meets the capacity
bound (:func:`.common.lex_lower_bound`) or when neighbourhoods as big as the cluster keep failing.
Deterministic mode uses ``budget.seed`` for the random choices and a fixed number of neighbourhoods
(budget / ``STEP_S``) of fixed length, so the same input and seed give the same answer unless the wall
clock cuts the run short. LNS proves nothing: it reports no bound.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

from models.pod_packing import Instance, Options, Pod, Solution, evaluate
from solvers.budget import Budget
from solvers.pod_packing.common import NodeFilter, forced_unplaced, lex_lower_bound
from solvers.pod_packing.cpsat import run_cpsat
from solvers.registry import register
from solvers.result import Result, Status

LNS_LABEL = ("allot.io/lns", "1")
STEP_S = 0.25


def sub_instance(
    instance: Instance, sol: Solution, chosen: set[int], nf: NodeFilter | None = None
) -> tuple[Instance, Solution]:
    """The neighbourhood problem over ``chosen`` node indices, and the incumbent restricted to it."""
    placed = dict(sol.placements)
    gidx = dict(sol.gpu_indices)
    nodes = tuple(
        dataclasses.replace(nd, labels=(*nd.labels, LNS_LABEL)) if i in chosen else nd
        for i, nd in enumerate(instance.nodes)
    )
    names = {instance.nodes[i].name for i in chosen}
    nf = nf or NodeFilter(instance)
    free_pods: list[Pod] = []
    fixed: list[Pod] = []
    for p in instance.pods:
        where = placed.get(p.name)
        if p.gang is not None:
            if where is not None:
                fixed.append(
                    dataclasses.replace(p, node=where, gpu_indices=gidx.get(p.name, ()), evictable=False)
                )
            continue
        if where is not None and where not in names:
            fixed.append(
                dataclasses.replace(p, node=where, gpu_indices=gidx.get(p.name, ()), evictable=False)
            )
            continue
        if where is None and not any(nf.static(p)[i] for i in chosen):
            continue
        free_pods.append(dataclasses.replace(p, node_selector=(*p.node_selector, LNS_LABEL)))
    running = tuple(dataclasses.replace(r, evictable=False) for r in instance.running) + tuple(fixed)
    sub = Instance(nodes, tuple(free_pods), running, Options(), instance.name + "-lns")
    hint = Solution(
        tuple((p.name, placed.get(p.name)) for p in free_pods),
        (),
        (),
        tuple((p.name, gidx[p.name]) for p in free_pods if p.name in gidx and placed.get(p.name)),
    )
    return sub, hint


def merge(instance: Instance, sol: Solution, part: Solution) -> Solution:
    placed = dict(sol.placements)
    gidx = dict(sol.gpu_indices)
    for name, node in part.placements:
        placed[name] = node
        gidx.pop(name, None)
    gidx.update(dict(part.gpu_indices))
    return Solution(
        tuple((p.name, placed.get(p.name)) for p in instance.pods),
        sol.evictions,
        sol.moves,
        tuple((p.name, gidx[p.name]) for p in instance.pods if p.name in gidx and placed.get(p.name)),
    )


def _vector(inst: Instance, sol: Solution) -> tuple[int, ...]:
    placed = dict(sol.placements)
    levels = sorted({p.priority for p in inst.pods}, reverse=True)
    return tuple(
        sum(1 for p in inst.pods if p.priority == lv and placed.get(p.name) is None) for lv in levels
    )


@register("pod_packing", "lns", "heuristic", "large-neighbourhood search: CP-SAT on a few nodes at a time")
def run_lns(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    t0 = time.perf_counter()
    if hint is None:
        from solvers.pod_packing.greedy import run_greedy

        hint = run_greedy(instance, budget, None).solution
        if hint is None:
            return Result(instance.PROBLEM, Status.NO_SOLUTION, "lns", limit=budget.limit_reason())
    best: Solution = hint
    best_obj = float("inf")  # the hint's objective is not needed: a sub-answer with fewer pending pods
    # (lexicographically) and a feasible whole is better, whatever the hint's objective
    rng = random.Random(budget.seed)
    nf = NodeFilter(instance)
    forced = forced_unplaced(instance)
    N = len(instance.nodes)
    k = 4
    stale = 0
    tried = accepted = 0
    floor_levels, floor = lex_lower_bound(instance)
    floor_vec = tuple(floor_levels[lv] for lv in sorted(floor_levels, reverse=True))
    # deterministic mode: a fixed number of neighbourhoods (the wall clock only as a hard stop)
    max_tries = max(1, int(budget.time_limit() / STEP_S)) if budget.deterministic else 1 << 30
    while not budget.should_stop(best_obj, floor) and tried < max_tries:
        if _vector(instance, best) <= floor_vec or (k >= N and stale >= 3):
            break  # proved optimal by the capacity bound, or neighbourhoods as big as the cluster fail
        placed = dict(best.placements)
        pending = [
            i
            for i, p in enumerate(instance.pods)
            if placed.get(p.name) is None and not forced[i] and p.gang is None
        ]
        if not pending:
            break
        top = max(instance.pods[i].priority for i in pending)
        u = rng.choice([i for i in pending if instance.pods[i].priority == top])
        elig = [int(n) for n in nf.static(instance.pods[u]).nonzero()[0]]
        chosen = set(rng.sample(elig, min(k, len(elig))))
        chosen.update(rng.sample(range(N), min(max(1, k // 4), N)))
        sub, sub_hint = sub_instance(instance, best, chosen, nf)
        step = budget.child(seconds=STEP_S if budget.deterministic else STEP_S * (1 + stale // 4))
        res = run_cpsat(sub, step, sub_hint)
        tried += 1
        improved = False
        if res.solution is not None and _vector(sub, res.solution) < _vector(sub, sub_hint):
            # only a sub-answer with fewer pending pods (lexicographically) can improve: check it whole
            cand = merge(instance, best, res.solution)
            ev = evaluate(instance, cand)
            if ev.feasible:
                best, best_obj = cand, ev.objective
                budget.report("lns", best_obj, None, best)
                improved = True
                accepted += 1
        if improved:
            stale = 0
        else:
            stale += 1
            if stale % 3 == 0:
                k = min(N, k + 2)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE,
        "lns",
        solution=best,
        limit=budget.limit_reason(),
        stats={"neighbourhoods": tried, "accepted": accepted, "time_s": round(time.perf_counter() - t0, 4)},
    )
