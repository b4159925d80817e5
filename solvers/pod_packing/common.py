"""What the pod packing solvers share: node-level pre-filtering and the cheap lower bound.

The cheap bound (registered for the family): a pending pod that passes no node's node-level filters
(unschedulable, taints, selector/affinity, GPU count/model) or whose requests exceed every such node's
*empty* allocatable can never be placed, and neither can the rest of its gang; nor can a gang with
more mutually anti-affine members than the domains their nodes form (:func:`_gang_exceeds_domains`).
Those pods are unplaced in every feasible solution, so ``sum over levels of weight_level *
forced_level`` is a proved lower bound on the encoded objective (the other components are bounded
below by 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from models.common import Evaluation
from models.pod_packing import (
    GPU_MILLI,
    Instance,
    Pod,
    Solution,
    evaluate,
    node_filter_reasons,
    objective_weights,
    spread_matches,
)
from solvers.registry import register_bound

T = TypeVar("T")

_CHECKED: dict[tuple[int, int], tuple[Instance, Solution, Evaluation]] = {}
_CHECKED_MAX = 32


def checked(instance: Instance, sol: Solution) -> Evaluation:
    """``evaluate(instance, sol)``, remembered for the last few (instance, solution) objects.

    Solvers hand their answers down the chain (kube -> greedy -> lns -> cpsat-lex, each answer the next
    one's hint), and the checker costs tens of milliseconds on a few hundred pods, so each solution
    object is checked once. Both objects are kept alive with their result, so an ``id`` is never
    reused for another object while its entry exists; instances and solutions are immutable.
    """
    key = (id(instance), id(sol))
    hit = _CHECKED.get(key)
    if hit is not None and hit[0] is instance and hit[1] is sol:
        return hit[2]
    t0 = time.perf_counter()
    ev = evaluate(instance, sol)
    costs = per_instance(instance, "check_s", list)
    costs.append(time.perf_counter() - t0)
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.pop(next(iter(_CHECKED)))
    _CHECKED[key] = (instance, sol, ev)
    return ev


_MEMO: dict[int, tuple[Instance, dict[str, Any]]] = {}
_MEMO_MAX = 16


def per_instance(instance: Instance, kind: str, make: Callable[[], T]) -> T:
    """``make()``, computed once per instance object (least recently used of ``_MEMO_MAX`` kept).

    The chain's solvers each need the same filters, masks and bounds of one immutable instance; the
    instance is kept alive with its entries, so its ``id`` cannot be reused while they exist.
    """
    key = id(instance)
    hit = _MEMO.pop(key, None)
    if hit is None or hit[0] is not instance:
        hit = (instance, {})
        while len(_MEMO) >= _MEMO_MAX:
            _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = hit
    store = hit[1]
    if kind not in store:
        store[kind] = make()
    return store[kind]


def per_instance_peek(instance: Instance, kind: str) -> Any:
    """What :func:`per_instance` holds for ``kind`` on this instance, or None (nothing computed)."""
    hit = _MEMO.get(id(instance))
    if hit is None or hit[0] is not instance:
        return None
    return hit[1].get(kind)


def check_cost(instance: Instance) -> float:
    """The longest wall time a whole check (``evaluate``) of this instance has taken so far (0 before
    the first): what a solver keeps in hand so that its last check ends within the budget."""
    return max(per_instance(instance, "check_s", list), default=0.0)


def static_masks(instance: Instance) -> np.ndarray:
    """:meth:`NodeFilter.static` of every pending pod (rows), once per instance (read-only)."""

    def make() -> np.ndarray:
        m = node_filter(instance).static_all(instance.pods)
        m.setflags(write=False)
        return m

    return per_instance(instance, "static", make)


def node_filter(instance: Instance) -> NodeFilter:
    """The instance's shared :class:`NodeFilter` (its mask caches are filled once)."""
    return per_instance(instance, "node_filter", lambda: NodeFilter(instance))


def pending_vector(instance: Instance, sol: Solution) -> tuple[int, ...]:
    """Pending pods per priority level, highest first (the objective's leading components)."""
    placed = dict(sol.placements)
    levels = sorted({p.priority for p in instance.pods}, reverse=True)
    pos = {lv: k for k, lv in enumerate(levels)}
    out = [0] * len(levels)
    for p in instance.pods:
        if placed.get(p.name) is None:
            out[pos[p.priority]] += 1
    return tuple(out)


def worth_checking(instance: Instance, sol: Solution, best: Solution | None) -> bool:
    """Can ``sol`` have a smaller objective than ``best``? Without checking either: the pending vector
    leads the mixed-radix objective, so a lexicographically larger one is worse whatever follows, and
    with default options (no evictions, no moves, packing ``none``) an equal one is equal."""
    if best is None:
        return True
    v, b = pending_vector(instance, sol), pending_vector(instance, best)
    if v != b:
        return v < b
    o = instance.options
    return o.allow_evictions or o.max_moves > 0 or o.packing != "none"


class NodeFilter:
    """Vectorised node-level filtering for one instance, cached by the pod's filter signature."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.resources = instance.resources
        self.cap = np.array(
            [[n.capacity.get(r, 0) for r in self.resources] for n in instance.nodes], dtype=np.int64
        ).reshape(len(instance.nodes), len(self.resources))
        self._cache: dict[tuple[object, ...], np.ndarray] = {}

    def request_vector(self, pod: Pod) -> np.ndarray:
        rm = pod.request_map
        return np.array([rm.get(r, 0) for r in self.resources], dtype=np.int64)

    def node_level(self, pod: Pod) -> np.ndarray:
        """Unschedulable, taints, selector/affinity, GPU count/model (no resources)."""
        key = (pod.node_selector, pod.node_affinity, pod.tolerations, pod.gpu)
        arr = self._cache.get(key)
        if arr is None:
            arr = np.fromiter(
                (not node_filter_reasons(pod, n) for n in self.instance.nodes),
                dtype=bool,
                count=len(self.instance.nodes),
            )
            self._cache[key] = arr
        return arr

    def static(self, pod: Pod) -> np.ndarray:
        """Node-level filters pass and the requests fit the empty node."""
        return self.node_level(pod) & (self.cap >= self.request_vector(pod)).all(axis=1)

    def static_all(self, pods: tuple[Pod, ...]) -> np.ndarray:
        """:meth:`static` of every pod as one (pods x nodes) matrix, vectorised in blocks of pods."""
        P, N = len(pods), len(self.instance.nodes)
        out = np.zeros((P, N), dtype=bool)
        if P == 0:
            return out
        req = np.array([self.request_vector(p) for p in pods], dtype=np.int64).reshape(P, -1)
        block = max(1, 4_000_000 // max(1, N * max(1, req.shape[1])))
        for a in range(0, P, block):
            out[a : a + block] = (self.cap[None, :, :] >= req[a : a + block, None, :]).all(axis=2)
        for i, p in enumerate(pods):
            out[i] &= self.node_level(p)
        return out


def interacting(instance: Instance) -> tuple[list[bool], list[bool]]:
    """Per pending pod and per running pod: does it have inter-pod terms or hard spread, or is it
    selected by some pod's term or counted by some pod's spread constraint? (once per instance)"""
    a, b = per_instance(instance, "interacting", lambda: _interacting(instance))
    return list(a), list(b)


def _interacting(instance: Instance) -> tuple[list[bool], list[bool]]:
    """Per pending pod and per running pod: does it have inter-pod terms or hard spread, or is it
    selected by some pod's term or counted by some pod's spread constraint?"""
    everyone = [*instance.pods, *instance.running]
    owners: dict[tuple[Any, ...], tuple[Pod, Any, bool]] = {}
    for p in everyone:
        for t in (*p.pod_affinity, *p.pod_anti_affinity):
            owners.setdefault((p.namespace, "t", t), (p, t, True))
        for c in p.hard_spread:
            owners.setdefault((p.namespace, "s", c), (p, c, False))
    sig_cache: dict[tuple[Any, ...], bool] = {}
    out: list[bool] = []
    for p in everyone:
        if p.pod_affinity or p.pod_anti_affinity or p.hard_spread:
            out.append(True)
            continue
        sig = (p.namespace, p.labels)
        hit = sig_cache.get(sig)
        if hit is None:
            hit = any(
                (t.selects(o, p) if is_term else spread_matches(o, t, p)) for o, t, is_term in owners.values()
            )
            sig_cache[sig] = hit
        out.append(hit)
    P = len(instance.pods)
    return out[:P], out[P:]


def forced_unplaced(instance: Instance) -> list[bool]:
    """Per pending pod: True when it can be placed in no feasible solution (see module doc)."""
    return list(per_instance(instance, "forced", lambda: _forced_unplaced(instance)))


def _forced_unplaced(instance: Instance) -> list[bool]:
    masks = list(static_masks(instance))
    forced = [not m.any() for m in masks]
    labels = [nd.labels_map for nd in instance.nodes]
    pods = instance.pods
    for members in instance.gangs.values():
        if any(forced[i] for i in members) or _gang_exceeds_domains(pods, members, masks, labels):
            for i in members:
                forced[i] = True
    return forced


def _gang_exceeds_domains(
    pods: tuple[Pod, ...], members: tuple[int, ...], masks: list[np.ndarray], labels: list[dict[str, str]]
) -> bool:
    """Can the gang never be placed whole because some of its members exclude each other?

    Members identical in namespace, labels and anti-affinity, whose term ``t`` selects their own kind,
    pairwise share no domain of ``t``'s key; if every node any of them may use carries that key and
    there are fewer domains than such members, they cannot all be placed, so (all or nothing) none of
    the gang can."""
    kinds: dict[tuple[Any, ...], list[int]] = {}
    for i in members:
        p = pods[i]
        if p.pod_anti_affinity:
            kinds.setdefault((p.namespace, p.labels, p.pod_anti_affinity), []).append(i)
    for idx in kinds.values():
        p = pods[idx[0]]
        union = np.logical_or.reduce([masks[i] for i in idx])
        nodes = np.flatnonzero(union)
        for t in p.pod_anti_affinity:
            if not t.selects(p, p) or not all(t.topology_key in labels[n] for n in nodes):
                continue
            if len(idx) > len({labels[n][t.topology_key] for n in nodes}):
                return True
    return False


def level_lower_bounds(instance: Instance) -> tuple[list[int], dict[int, int], dict[int, int]]:
    """:func:`capacity_levels`, computed once per instance (copies returned), with the LP relaxation's
    cumulative counts (:mod:`.lpbound`) folded in where they are larger, once they have been computed."""
    levels, forced, cumulative = per_instance(instance, "levels", lambda: capacity_levels(instance))
    cumulative = dict(cumulative)
    lp = per_instance_peek(instance, "lp_levels")
    if lp:
        for lv, c in lp.items():
            cumulative[lv] = max(cumulative[lv], c)
    return list(levels), dict(forced), cumulative


@dataclass(frozen=True)
class Relaxation:
    """What the capacity and LP bounds relax the instance to (once per instance, :func:`relaxation`).

    ``free[n]``: allocatable per resource of ``nf.resources`` and free milli-GPU (last column) of
    schedulable node n, less the running pods that must stay (evictable ones count as free when
    evictions are allowed; unschedulable nodes have nothing free); ``demand[i]``: pending pod i's
    requests in the same columns (milli-GPU = count x milli); ``masks[i]``: the nodes pod i passes
    node-level filters on and fits empty; ``anti_dom[i] = (group key, domains, topology key)`` when pod
    i has an anti-affinity term selecting its own kind whose key every eligible node carries.
    """

    levels: list[int]
    forced: list[bool]
    free: np.ndarray
    whole_free: np.ndarray
    demand: np.ndarray
    masks: list[np.ndarray]
    anti_dom: dict[int, tuple[Any, int, str]]


def relaxation(instance: Instance) -> Relaxation:
    return per_instance(instance, "relaxation", lambda: _relaxation(instance))


def _relaxation(instance: Instance) -> Relaxation:
    nf = node_filter(instance)
    forced_list = forced_unplaced(instance)
    levels = sorted({p.priority for p in instance.pods}, reverse=True)
    o = instance.options
    res = list(nf.resources)
    N = len(instance.nodes)
    free = np.zeros((N, len(res) + 1), dtype=np.int64)
    whole_free = np.zeros(N, dtype=np.int64)
    stuck: dict[str, list[Pod]] = {}
    for rp in instance.running:
        if not (o.allow_evictions and rp.evictable):
            stuck.setdefault(rp.node or "", []).append(rp)
    for n, nd in enumerate(instance.nodes):
        if nd.unschedulable:
            continue
        here = stuck.get(nd.name, [])
        for k, r in enumerate(res):
            free[n, k] = max(0, nd.capacity.get(r, 0) - sum(p.request_map.get(r, 0) for p in here))
        dev = [GPU_MILLI] * nd.gpu_count
        for p in here:
            if p.gpu is not None:
                for g in p.gpu_indices:
                    if 0 <= g < len(dev):
                        dev[g] -= p.gpu.milli
        free[n, -1] = sum(max(0, d) for d in dev)
        whole_free[n] = sum(1 for d in dev if d == GPU_MILLI)
    pods = instance.pods
    demand = np.zeros((len(pods), len(res) + 1), dtype=np.int64)
    for i, p in enumerate(pods):
        demand[i, :-1] = nf.request_vector(p)
        if p.gpu is not None:
            demand[i, -1] = p.gpu.count * p.gpu.milli
    masks = list(static_masks(instance))
    labels = [nd.labels_map for nd in instance.nodes]
    # per pod: (group key, domain count) when it belongs to a self-selecting anti-affinity group
    anti_dom: dict[int, tuple[Any, int, str]] = {}
    for i, p in enumerate(pods):
        for t in p.pod_anti_affinity:
            if not t.selects(p, p):
                continue
            elig = np.flatnonzero(masks[i])
            if all(t.topology_key in labels[n] for n in elig):
                doms = len({labels[n][t.topology_key] for n in elig})
                key = (p.namespace, p.labels, p.pod_anti_affinity, masks[i].tobytes(), t.topology_key)
                if i not in anti_dom or doms < anti_dom[i][1]:
                    anti_dom[i] = (key, doms, t.topology_key)

    return Relaxation(levels, forced_list, free, whole_free, demand, masks, anti_dom)


def capacity_levels(instance: Instance) -> tuple[list[int], dict[int, int], dict[int, int]]:
    """Capacity bound by priority level (highest first).

    Returns ``(levels, forced, cumulative)``: ``forced[lv]`` pods of level ``lv`` can never be placed
    and at least ``cumulative[lv]`` pods of the levels >= ``lv`` together stay pending in every feasible
    solution.

    Proof. ``cap_ub(Q, M)``: pods of a set Q that can only go to nodes M share M's free capacity, so for
    every resource r (cpu, memory, ..., ``pods``, milli-GPU) the requests of the placed pods of Q that ask
    for r sum to at most ``free_r(M)`` = sum over schedulable nodes of M of allocatable minus the
    requests of running pods that must stay (evictable ones are not counted when evictions are
    allowed; a moved pod only takes capacity, which this relaxation ignores in the optimistic
    direction). Taking the smallest requests first maximises how many fit, so at most ``zero_r +
    greedy_r`` pods of Q are placed. The pods of a level set S (forced ones removed) are split into
    *parts* by eligible-node mask (node-level filters and empty-node fit) and, for pods identical in
    namespace, labels and anti-affinity whose term selects their own kind with every eligible node
    carrying the term's key, by that group: such a part places at most one pod per domain. Each part
    P has ``ub(P) = min(|P|, cap_ub(P, mask), domains)``. For any node set M (each part's mask, and
    all nodes), the parts whose mask lies inside M can place at most ``min(cap_ub(their pods, M), sum
    of their ub)`` and every other part at most its ub; the placed count of S is at most the minimum
    over M of that sum.
    """
    rx = relaxation(instance)
    levels, forced_list, free, demand, masks, anti_dom = (
        rx.levels,
        rx.forced,
        rx.free,
        rx.demand,
        rx.masks,
        rx.anti_dom,
    )
    pods = instance.pods
    N = len(instance.nodes)

    def cap_ub(idx: list[int], node_mask: np.ndarray) -> int:
        if not idx:
            return 0
        cap = free[node_mask].sum(axis=0)
        d = demand[idx]
        best = len(idx)
        for k in range(d.shape[1]):
            col = d[:, k]
            pos = np.sort(col[col > 0])
            fit = int(np.searchsorted(np.cumsum(pos), cap[k], side="right"))
            best = min(best, len(idx) - len(pos) + fit)
        return best

    forced: dict[int, int] = dict.fromkeys(levels, 0)
    cumulative: dict[int, int] = {}
    chosen: list[int] = []
    for lv in levels:
        for i, p in enumerate(pods):
            if p.priority == lv:
                if forced_list[i]:
                    forced[lv] += 1
                else:
                    chosen.append(i)
        parts: dict[Any, list[int]] = {}
        for i in chosen:
            pkey = (masks[i].tobytes(), anti_dom[i][0] if i in anti_dom else None)
            parts.setdefault(pkey, []).append(i)
        part_list = []
        for (_mb, gkey), idx in parts.items():
            mask = masks[idx[0]]
            ub = min(len(idx), cap_ub(idx, mask))
            if gkey is not None:
                ub = min(ub, anti_dom[idx[0]][1])
            part_list.append((mask, idx, ub))
        total = sum(ub for _, _, ub in part_list)
        best = min(total, cap_ub(chosen, np.ones(N, dtype=bool)))
        seen: set[bytes] = set()
        for mask, _, _ in part_list:
            mb = mask.tobytes()
            if mb in seen:
                continue
            seen.add(mb)
            inside = [(idx, ub) for m2, idx, ub in part_list if not (m2 & ~mask).any()]
            pods_in = [i for idx, _ in inside for i in idx]
            ub_in = min(cap_ub(pods_in, mask), sum(ub for _, ub in inside))
            best = min(best, ub_in + total - sum(ub for _, ub in inside))
        size = sum(1 for p in pods if p.priority >= lv)
        cumulative[lv] = size - best
    return levels, forced, cumulative


def level_bound_source(instance: Instance) -> str:
    """``lp`` when the LP relaxation has raised some level's count above the capacity bound's."""
    _, _, cap = per_instance(instance, "levels", lambda: capacity_levels(instance))
    lp = per_instance_peek(instance, "lp_levels") or {}
    return "lp" if any(c > cap[lv] for lv, c in lp.items()) else "capacity"


def lex_lower_bound(instance: Instance, fixed: dict[int, int] | None = None) -> tuple[dict[int, int], int]:
    """Lower bound per level on pods left pending and the encoded objective bound it implies.

    ``u_lv >= max(forced_lv, cumulative_lv - sum of u above)`` level by level (``fixed`` overrides a
    level's value with a proved optimum). Minimising ``sum W_lv u_lv`` under the cumulative constraints
    (without the upper limits ``u <= size``, a relaxation) is done by this greedy: with weights
    decreasing down the levels, any excess at a level can move to the next one at lower cost. Each u is
    then capped at its level's size (lowering a relaxation's value keeps it a lower bound), which keeps
    the mixed-radix argument of :mod:`solvers.pod_packing.lex` valid when levels above are fixed.
    """
    levels, forced, cumulative = level_lower_bounds(instance)
    weights = dict(objective_weights(instance))
    out: dict[int, int] = {}
    above = 0
    total = 0
    for lv in levels:
        size = sum(1 for p in instance.pods if p.priority == lv)
        u = min(size, max(forced[lv], cumulative[lv] - above))
        if fixed is not None and lv in fixed:
            u = fixed[lv]
        out[lv] = u
        above += u
        total += weights[f"unplaced_p{lv}"] * u
    return out, total


@register_bound("pod_packing")
def cheap_bound(instance: Instance) -> tuple[float, str]:
    _, total = lex_lower_bound(instance)
    return float(total), "capacity"
