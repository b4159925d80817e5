"""Large-neighbourhood search around CP-SAT (``lns``) for clusters too big to solve whole.

A neighbourhood is a handful of nodes chosen around a pending pod ``u`` of the highest level that
still has pending pods: ``K`` of the nodes its node-level filters accept — alternately at random and
the ones where ``u`` is closest to fitting (smallest largest shortfall over its requested resources,
relative to the request); all of them when there are at most ``SMALL_ELIGIBLE`` (a scarce node kind
such as GPU nodes) — plus a few of the nodes with the most free capacity, where pods moved off the
first ones can go.

The sub-problem keeps every node (so topology domains, spread eligibility and counts stay exact) but
its model (:class:`.cpsat.PodModel` with ``candidates``) places pods only on the chosen ones; pods keep
their own selectors. Its pending pods are the batch pods the incumbent put on those nodes plus the
pending pods that may go there (at most ``PENDING_PER_KIND`` identical copies). With ``PIN``, batch
pods placed elsewhere that carry pod affinity or a hard spread constraint counting (or partnering) a
pod the sub-problem may move are in the model too, *pinned* to their node (one candidate), so a move
that would break their constraint is excluded by the model rather than by the checker; measured on
the failing scenarios this doubles crowded sub-models while the checker rejects few sub-answers, so
it is off and such moves are caught by the check after every improvement. Every other placed
pod becomes a fixed running pod where the incumbent put it — but only if it can matter: it sits on a
chosen node or next to a pinned GPU pod, or it *interacts* (it has
inter-pod affinity, anti-affinity or a hard spread constraint, or some pod's term or spread selector
selects it). A pod that does neither on another node constrains nothing a sub-problem pod can do (no
resource of a chosen node, no selector counts it), so leaving it out keeps the sub-model small.
Evicted running pods are left out, moved ones sit at their new node. Placed gangs stay fixed; a
pending gang of at most ``GANG_MAX`` pods enters whole (the model keeps it all or nothing) when each
member may use a chosen node.

The sub-problem is solved by the exact model (:mod:`.cpsat`) warm-started from the incumbent, without
presolve (these models are small; presolve costs more than it saves), and stopped at its first answer
with fewer pending pods (lexicographically), which is merged back. Soundness does not rest on the
sub-model: the whole placement is checked by the family's ``evaluate`` at least every ``VERIFY_S``
seconds (after every improvement in deterministic mode) and before returning, and an answer that
fails falls back to the last checked one (the check costs tens of milliseconds on a few hundred pods,
more than most sub-solves).

Each neighbourhood gets at most ``STEP_S`` seconds (more after several fruitless ones); the
neighbourhood size grows when several in a row bring nothing. The search stops when the incumbent
meets the capacity bound (:func:`.common.lex_lower_bound`) or when neighbourhoods as big as the
cluster keep failing. Deterministic mode uses ``budget.seed`` for the random choices and a fixed
number of neighbourhoods (budget / ``STEP_S``) of fixed length, so the same input and seed give the
same answer unless the wall clock cuts the run short. LNS proves nothing: it reports no bound.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import numpy as np

from models.pod_packing import (
    Instance,
    Options,
    Pod,
    Solution,
    objective_weights,
    spread_matches,
)
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.pod_packing.common import (
    NodeFilter,
    check_cost,
    checked,
    forced_unplaced,
    interacting,
    lex_lower_bound,
    node_filter,
    static_masks,
)
from solvers.pod_packing.cpsat import BuildStopped, PodModel, key_mask
from solvers.registry import register
from solvers.result import Result, Status

STEP_S = 0.1
#: at most this many identical pending pods enter one neighbourhood
PENDING_PER_KIND = 2
#: a pending pod with at most this many candidate nodes gets all of them in its neighbourhood
SMALL_ELIGIBLE = 8
#: pending gangs of at most this many pods enter a neighbourhood whole (bigger ones swamp the model)
GANG_MAX = 3
#: improvements are checked whole (``evaluate``) at most this often, and at the end (0: every one)
VERIFY_S = 0.0
#: pin placed affinity/spread pods a move could affect (exact sub-models, but measured slower: on
#: crowded clusters they double the model, while the checker rejects few sub-answers)
PIN = False
#: CP-SAT parameters of the sub-models (small: presolve would cost more than it saves)
SUB_PARAMS = {"cp_model_presolve": False}


class Neighbourhoods:
    """What every neighbourhood of one instance shares (filters, masks, memoised pod copies)."""

    def __init__(self, instance: Instance, nf: NodeFilter | None = None):
        self.inst = instance
        self.nf = nf or node_filter(instance)
        self.static = list(static_masks(instance))
        labels = [nd.labels_map for nd in instance.nodes]
        #: the model's candidate nodes per pending pod (node-level filters, empty fit, topology keys)
        self.cand = [m & key_mask(p, labels) for m, p in zip(self.static, instance.pods, strict=True)]
        self.forced = forced_unplaced(instance)
        self.inter_pods, self.inter_running = interacting(instance)
        self.req = np.array([self.nf.request_vector(p) for p in instance.pods], dtype=np.int64).reshape(
            len(instance.pods), len(self.nf.resources)
        )
        #: identical pending pods (same requests, labels, priority and constraints) share a class
        kinds: dict[tuple[Any, ...], int] = {}
        self.kind = [
            kinds.setdefault(
                (
                    p.namespace,
                    p.labels,
                    p.priority,
                    p.requests,
                    p.gpu,
                    p.node_selector,
                    p.node_affinity,
                    p.tolerations,
                    p.pod_affinity,
                    p.pod_anti_affinity,
                    p.topology_spread,
                ),
                len(kinds),
            )
            for p in instance.pods
        ]
        self._fixed: dict[tuple[int, str, tuple[int, ...]], Pod] = {}
        self._running: dict[tuple[int, str], Pod] = {}

    def fixed(self, i: int, node: str, gidx: tuple[int, ...]) -> Pod:
        key = (i, node, gidx)
        p = self._fixed.get(key)
        if p is None:
            p = dataclasses.replace(self.inst.pods[i], node=node, gpu_indices=gidx, evictable=False)
            self._fixed[key] = p
        return p

    def running(self, r: int, node: str) -> Pod:
        key = (r, node)
        p = self._running.get(key)
        if p is None:
            p = dataclasses.replace(self.inst.running[r], node=node, evictable=False)
            self._running[key] = p
        return p

    def used(self, sol: Solution) -> np.ndarray:
        """Requested resources per node in ``sol`` (running pods that stay included)."""
        inst, nf = self.inst, self.nf
        used = np.zeros_like(nf.cap)
        placed = dict(sol.placements)
        for i, p in enumerate(inst.pods):
            where = placed.get(p.name)
            if where is not None:
                used[inst.node_index[where]] += self.req[i]
        evicted = set(sol.evictions)
        moved = dict(sol.moves)
        for rp in inst.running:
            if rp.name in evicted:
                continue
            where = moved.get(rp.name, rp.node)
            if where is not None:
                used[inst.node_index[where]] += nf.request_vector(rp)
        return used


def sub_instance(
    instance: Instance, sol: Solution, chosen: set[int], ctx: Neighbourhoods | None = None
) -> tuple[Instance, Solution, list[np.ndarray]]:
    """The neighbourhood problem over ``chosen`` node indices, the incumbent restricted to it and the
    candidate nodes of its pods (restricted to ``chosen``; pass them to :class:`.cpsat.PodModel`)."""
    ctx = ctx or Neighbourhoods(instance)
    placed = dict(sol.placements)
    gidx = dict(sol.gpu_indices)
    allowed = np.zeros(len(instance.nodes), dtype=bool)
    allowed[sorted(chosen)] = True
    names = {instance.nodes[i].name for i in chosen}
    free_pods: list[Pod] = []
    cands: list[np.ndarray] = []
    pending_of_kind: dict[int, int] = {}
    fixed: list[Pod] = []
    # placed batch pods elsewhere whose own affinity / hard spread a move could break stay in the model,
    # pinned to their node (placed or not is then the model's choice), so their constraints are enforced:
    # those whose spread counts or affinity partners include a pod the sub-problem may move
    movable: dict[tuple[Any, ...], Pod] = {}
    for i, p in enumerate(instance.pods):
        where = placed.get(p.name)
        if where in names or (where is None and not ctx.forced[i] and (ctx.cand[i] & allowed).any()):
            movable.setdefault((p.namespace, p.labels), p)

    def affected(w: Pod) -> bool:
        for q in movable.values():
            if any(spread_matches(w, c, q) for c in w.hard_spread):
                return True
            if w.pod_affinity and all(t.selects(w, q) for t in w.pod_affinity):
                return True
        return False

    pinned = {
        i
        for i, p in enumerate(instance.pods)
        if PIN
        and p.gang is None
        and (p.pod_affinity or p.hard_spread)
        and placed.get(p.name) is not None
        and placed.get(p.name) not in names
        and affected(p)
    }
    # every pod on a node that hosts a pinned GPU pod is kept too (the model may renumber its devices)
    kept = names | {placed[instance.pods[i].name] for i in pinned if instance.pods[i].gpu is not None}
    gang_ok = {
        g: len(members) <= GANG_MAX
        and all(
            placed.get(instance.pods[i].name) is None and not ctx.forced[i] and (ctx.cand[i] & allowed).any()
            for i in members
        )
        for g, members in instance.gangs.items()
    }
    index = instance.node_index
    for i, p in enumerate(instance.pods):
        where = placed.get(p.name)
        if i in pinned:
            assert where is not None
            one = np.zeros(len(instance.nodes), dtype=bool)
            one[index[where]] = True
            free_pods.append(p)
            cands.append(ctx.cand[i] & one)
            continue
        if where is not None and (p.gang is not None or where not in names):
            if where in kept or ctx.inter_pods[i]:
                fixed.append(ctx.fixed(i, where, gidx.get(p.name, ())))
            continue
        if p.gang is not None:
            if where is None and gang_ok.get(p.gang, False):
                free_pods.append(p)  # a pending gang that may go here whole enters whole
                cands.append(ctx.cand[i] & allowed)
            continue
        if where is None:
            if ctx.forced[i] or not (ctx.cand[i] & allowed).any():
                continue
            seen = pending_of_kind.get(ctx.kind[i], 0)
            if seen >= PENDING_PER_KIND:
                continue  # more identical pending copies only enlarge the model
            pending_of_kind[ctx.kind[i]] = seen + 1
        free_pods.append(p)
        cands.append(ctx.cand[i] & allowed)
    evicted = set(sol.evictions)
    moved = dict(sol.moves)
    running: list[Pod] = []
    for r, rp in enumerate(instance.running):
        if rp.name in evicted:
            continue
        where = moved.get(rp.name, rp.node)
        assert where is not None
        if where in kept or ctx.inter_running[r]:
            running.append(ctx.running(r, where))
    sub = Instance(instance.nodes, tuple(free_pods), (*running, *fixed), Options(), instance.name + "-lns")
    hint = Solution(
        tuple((p.name, placed.get(p.name)) for p in free_pods),
        (),
        (),
        tuple((p.name, gidx[p.name]) for p in free_pods if p.name in gidx and placed.get(p.name)),
    )
    return sub, hint, cands


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


def _hint_objective(sub: Instance, hint: Solution) -> float:
    """The sub-model's objective of the hint (default options: only the pending pods per level count)."""
    weights = dict(objective_weights(sub))
    placed = dict(hint.placements)
    return float(sum(weights[f"unplaced_p{p.priority}"] for p in sub.pods if placed.get(p.name) is None))


def choose_nodes(
    ctx: Neighbourhoods, u: int, used: np.ndarray, k: int, rng: random.Random, closest: bool
) -> set[int]:
    """Nodes of one neighbourhood around pending pod ``u`` (see the module doc)."""
    N = len(ctx.inst.nodes)
    elig = np.flatnonzero(ctx.static[u])
    free = ctx.nf.cap - used
    if len(elig) <= SMALL_ELIGIBLE:
        chosen = {int(n) for n in elig}  # a scarce node kind (e.g. GPU nodes): take all of it at once
    elif closest and len(elig) > k:
        req = ctx.req[u]
        asked = req > 0
        short = np.maximum(req[asked] - free[elig][:, asked], 0) / np.maximum(req[asked], 1)
        worst = short.max(axis=1) if short.size else np.zeros(len(elig))
        order = np.lexsort((np.array([rng.random() for _ in elig]), worst))
        chosen = {int(elig[j]) for j in order[: max(1, k // 2)]}
        rest = [int(n) for n in elig if int(n) not in chosen]
        chosen.update(rng.sample(rest, min(k - len(chosen), len(rest))))
    else:
        chosen = {int(n) for n in rng.sample([int(n) for n in elig], min(k, len(elig)))}
    # roomy nodes (largest free share of their dominant resource) take the pods pushed off the others
    extra = max(1, k // 4)
    cap = np.maximum(ctx.nf.cap, 1)
    room = (free / cap).min(axis=1) + np.array([1e-6 * rng.random() for _ in range(N)])
    for n in np.argsort(-room)[: 2 * extra]:
        if len(chosen) >= k + extra:
            break
        chosen.add(int(n))
    chosen.update(rng.sample(range(N), min(1, N)))
    return chosen


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
    ctx = Neighbourhoods(instance)
    N = len(instance.nodes)
    k = 4
    stale = 0
    tried = accepted = 0
    floor_levels, floor = lex_lower_bound(instance)
    floor_vec = tuple(floor_levels[lv] for lv in sorted(floor_levels, reverse=True))
    # deterministic mode: a fixed number of neighbourhoods (the wall clock only as a hard stop)
    max_tries = max(1, int(budget.time_limit() / STEP_S)) if budget.deterministic else 1 << 30
    used = ctx.used(best)
    gang_size = {g: len(m) for g, m in instance.gangs.items()}
    verified, verified_at, rejected = best, time.perf_counter(), 0

    def verify(sol: Solution) -> Solution:
        """The whole check: ``sol`` if feasible (it becomes the fallback), else the last verified one."""
        nonlocal verified, verified_at, best_obj, rejected
        verified_at = time.perf_counter()
        if sol is verified:
            return sol
        ev = checked(instance, sol)
        if not ev.feasible:
            rejected += 1
            return verified
        verified, best_obj = sol, ev.objective
        budget.report("lns", best_obj, None, sol)
        return sol

    while not budget.should_stop(best_obj, floor) and tried < max_tries:
        if not budget.deterministic and budget.remaining() <= check_cost(instance):
            break  # the final check must end within the budget
        if _vector(instance, best) <= floor_vec or (k >= N and stale >= 3):
            break  # proved optimal by the capacity bound, or neighbourhoods as big as the cluster fail
        placed = dict(best.placements)
        pending = [
            i
            for i, p in enumerate(instance.pods)
            if placed.get(p.name) is None
            and not ctx.forced[i]
            and (p.gang is None or gang_size[p.gang] <= GANG_MAX)
        ]
        if not pending:
            break
        top = max(instance.pods[i].priority for i in pending)
        u = rng.choice([i for i in pending if instance.pods[i].priority == top])
        chosen = choose_nodes(ctx, u, used, k, rng, closest=tried % 2 == 0)
        sub, sub_hint, cands = sub_instance(instance, best, chosen, ctx)
        seconds = STEP_S if budget.deterministic else STEP_S * (1 + stale // 4)
        tried += 1
        try:
            # deterministic mode: the build is cut only by the whole budget, never by its own clock
            pm = PodModel(sub, budget if budget.deterministic else budget.child(seconds=4 * seconds), cands)
        except BuildStopped:
            stale += 1  # too big for its step: the next neighbourhood gets a longer one
            continue
        pm.add_hint(sub_hint)
        step = budget.child(seconds=seconds)
        target = _hint_objective(sub, sub_hint)

        def first_better(cb: Any, target: float = target) -> None:
            if cb.objective_value < target - 0.5:
                cb.stop_search()  # the first improving answer is taken: the next neighbourhood starts sooner

        out = solve_cpsat(pm.m, step, params=SUB_PARAMS, on_solution=first_better)
        improved = False
        if out.has_solution:
            part = pm.extract(out.solver.boolean_value)
            if _vector(sub, part) < _vector(sub, sub_hint):
                # only a sub-answer with fewer pending pods (lexicographically) can improve
                best = merge(instance, best, part)
                improved = True
                accepted += 1
                if budget.deterministic or time.perf_counter() - verified_at >= VERIFY_S:
                    best = verify(best)
                used = ctx.used(best)
        if improved:
            stale = 0
        else:
            stale += 1
            if stale % 3 == 0:
                k = min(N, k + 2)
    best = verify(best)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE,
        "lns",
        solution=best,
        limit=budget.limit_reason(),
        stats={
            "neighbourhoods": tried,
            "accepted": accepted,
            "rejected": rejected,
            "time_s": round(time.perf_counter() - t0, 4),
        },
    )
