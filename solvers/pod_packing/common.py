"""What the pod packing solvers share: node-level pre-filtering and the cheap lower bound.

The cheap bound (registered for the family): a pending pod that passes no node's node-level filters
(unschedulable, taints, selector/affinity, GPU count/model) or whose requests exceed every such node's
*empty* allocatable can never be placed, and neither can the rest of its gang. Those pods are unplaced
in every feasible solution, so ``sum over levels of weight_level * forced_level`` is a proved lower bound
on the encoded objective (the other components are bounded below by 0).
"""

from __future__ import annotations

import numpy as np

from models.pod_packing import Instance, Pod, node_filter_reasons, objective_weights
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


@register_bound("pod_packing")
def cheap_bound(instance: Instance) -> tuple[float, str]:
    forced = forced_unplaced(instance)
    weights = dict(objective_weights(instance))
    total = 0
    for i, p in enumerate(instance.pods):
        if forced[i]:
            total += weights[f"unplaced_p{p.priority}"]
    return float(total), "unplaceable-pods"
