"""What the pod packing solvers share: node-level pre-filtering and the cheap lower bound.

The cheap bound (registered for the family): a pending pod that passes no node's node-level filters
(unschedulable, taints, selector/affinity, GPU count/model) or whose requests exceed every such node's
*empty* allocatable can never be placed, and neither can the rest of its gang. Those pods are unplaced
in every feasible solution, so ``sum over levels of weight_level * forced_level`` is a proved lower bound
on the encoded objective (the other components are bounded below by 0).
"""

from __future__ import annotations

import numpy as np

from models.pod_packing import GPU_MILLI, Instance, Pod, node_filter_reasons, objective_weights
from solvers.registry import register_bound


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


def forced_unplaced(instance: Instance) -> list[bool]:
    """Per pending pod: True when it can be placed in no feasible solution (see module doc)."""
    nf = NodeFilter(instance)
    forced = [not nf.static(p).any() for p in instance.pods]
    for members in instance.gangs.values():
        if any(forced[i] for i in members):
            for i in members:
                forced[i] = True
    return forced


def level_lower_bounds(instance: Instance) -> tuple[list[int], dict[int, int], dict[int, int]]:
    """Per-resource capacity bound, by priority level (highest first).

    Returns ``(levels, forced, cumulative)``: ``forced[lv]`` pods of level ``lv`` can never be placed
    and at least ``cumulative[lv]`` pods of the levels >= ``lv`` together stay pending in every feasible
    solution. Proof: the pods placed from a set S share the cluster's free capacity, so for every
    resource r (cpu, memory, ..., ``pods``, milli-GPU) the requests of the placed pods of S that ask
    for r sum to at most ``free_r`` = sum over schedulable nodes of allocatable minus the requests of
    running pods that must stay there (evictable ones are not counted when evictions are allowed; a
    moved pod only takes capacity elsewhere, which this relaxation ignores in the optimistic
    direction). Taking the smallest requests first maximises how many fit, so at most
    ``zero_r + greedy_r`` pods of S (those not asking for r, plus the greedy count) are placed; the
    minimum over r, and over "pods not forced", bounds the placed count.
    """
    forced_list = forced_unplaced(instance)
    levels = sorted({p.priority for p in instance.pods}, reverse=True)
    o = instance.options
    res = list(instance.resources)
    free = dict.fromkeys(res, 0)
    free_gpu = 0
    stuck: dict[str, list[Pod]] = {}
    for rp in instance.running:
        if not (o.allow_evictions and rp.evictable):
            stuck.setdefault(rp.node or "", []).append(rp)
    for nd in instance.nodes:
        if nd.unschedulable:
            continue
        here = stuck.get(nd.name, [])
        for r in res:
            free[r] += max(0, nd.capacity.get(r, 0) - sum(p.request_map.get(r, 0) for p in here))
        dev = [GPU_MILLI] * nd.gpu_count
        for p in here:
            if p.gpu is not None:
                for g in p.gpu_indices:
                    if 0 <= g < len(dev):
                        dev[g] -= p.gpu.milli
        free_gpu += sum(max(0, d) for d in dev)
    forced: dict[int, int] = dict.fromkeys(levels, 0)
    cumulative: dict[int, int] = {}
    chosen: list[int] = []
    for lv in levels:
        for i, p in enumerate(instance.pods):
            if p.priority == lv:
                if forced_list[i]:
                    forced[lv] += 1
                else:
                    chosen.append(i)
        ub = len(chosen)
        demands = [[instance.pods[i].request_map.get(r, 0) for i in chosen] for r in res]
        demands.append(
            [(gr.count * gr.milli if (gr := instance.pods[i].gpu) is not None else 0) for i in chosen]
        )
        for dem, cap in zip(demands, [*(free[r] for r in res), free_gpu], strict=True):
            pos = sorted(q for q in dem if q > 0)
            acc, k = 0, 0
            for q in pos:
                if acc + q > cap:
                    break
                acc += q
                k += 1
            ub = min(ub, len(dem) - len(pos) + k)
        size = sum(1 for p in instance.pods if p.priority >= lv)
        cumulative[lv] = size - ub
    return levels, forced, cumulative


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
