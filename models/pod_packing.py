"""Pod packing with Kubernetes semantics: place pending pods on nodes as kube-scheduler's filters allow.

Instance
--------
Nodes (allocatable resources, labels, taints, ``unschedulable``, optional GPU devices of one model with
1000 milli-GPU each, openb semantics), pending ``pods`` to place, ``running`` pods already bound (with
``node``, ``gpu_indices`` and ``evictable``) and ``options`` (``allow_evictions``, ``max_moves``,
``packing``, and ``scoring``: the scheduler profile's NodeResourcesFit strategy the kube replica
imitates, see :class:`Scoring`). Resources are integers: ``cpu`` in millicores,
``memory``/``ephemeral-storage`` in bytes, everything else in units. A resource absent from a node's
``allocatable`` has capacity 0, except ``pods``: when absent it is taken as 110 (the kubelet default),
for convenience. Every pod consumes one ``pods`` implicitly (``requests.pods`` is rejected).

Semantics (Kubernetes, v1.30-era default plugins)
--------------------------------------------------
* NodeUnschedulable: an ``unschedulable`` node takes no new (or moved) pod.
* TaintToleration: every ``NoSchedule``/``NoExecute`` taint must be tolerated; ``PreferNoSchedule``
  never filters. A toleration matches when its effect is empty or equal, its key is empty (only with
  ``Exists``, which then matches every key) or equal, and ``Exists`` or the values are equal.
* NodeAffinity: every ``node_selector`` pair must equal a node label; the required ``node_affinity``
  terms are ORed, a term's expressions ANDed (a term without expressions matches nothing); ``In``,
  ``NotIn`` (true when the label is absent), ``Exists``, ``DoesNotExist``, ``Gt``/``Lt`` (the label must
  exist and both it and the single value parse as integers).
* NodeResourcesFit: per node and resource, the sum of requests of the pods on it <= allocatable,
  checked (as the plugin does) for the resources a new pod there requests (``pods`` always).
* GPU (openb share semantics): a request ``{count, milli, models}`` takes ``count`` whole devices
  (``milli`` = 1000) or, with ``count`` 1, ``milli`` in 1..999 of one device; per device the milli of the
  pods on it sum to <= 1000 (so whole devices are exclusive); ``models`` non-empty restricts the node's
  GPU model.
* InterPodAffinity (required terms only): a term selects pods by ``label_selector`` in ``namespaces``
  (empty = the owner's namespace; ``namespaceSelector`` is not modelled). Anti-affinity is checked both
  ways: a pod with an anti-affinity term may not share a topology domain (same value of
  ``topology_key``; nodes without the label are in no domain) with a pod the term selects, whichever of
  the two is the new one. Affinity: the pod's node must carry every term's key and, for every term,
  some other pod matching *all* the pod's affinity terms must be in that term's domain; exception as in
  Kubernetes: if no other pod matching all terms sits on a node carrying any term's key and the pod
  matches its own terms, it may be first.
* PodTopologySpread (``DoNotSchedule`` only; ``ScheduleAnyway`` never filters): eligible nodes are those
  passing the pod's node selector/affinity (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore) and
  carrying the keys of all its DoNotSchedule constraints; counts are of pods in the pod's namespace
  matching the selector on eligible nodes;
  the pod's node must carry the key and ``count(its domain) + self_match - min over eligible domains``
  must be <= ``max_skew``. ``minDomains``/``matchLabelKeys`` are not modelled.
* Gangs: pending pods sharing ``gang`` are placed all or none.

Batch semantics (how a whole solution is judged)
------------------------------------------------
A solution is judged on the *final state* (running pods minus evictions, moved pods at their new node,
placed pods): every newly placed or moved pod must pass every filter against all *other* pods of the
final state. Running pods that stay put are not re-checked (Kubernetes' "IgnoredDuringExecution"), and
a node that receives no new or moved pod is never blamed for its given state (e.g. overcommitted);
on a receiving node a resource is checked when a new pod there requests it, a GPU device when a new
pod uses it.
Evictions need ``options.allow_evictions`` and an ``evictable`` pod, and (Kubernetes' preemption rule)
the evicted pod's node must receive a newly placed pod of strictly higher priority. Moves (delete and
recreate elsewhere) need an ``evictable`` pod; at most ``options.max_moves`` of them; a moved GPU pod
needs new ``gpu_indices``.

Objective (minimised, one integer, mixed radix)
-----------------------------------------------
Components, most important first:

1. ``unplaced_p<prio>`` for every distinct priority of pending pods, highest first: pods left pending;
   maximum = pods at that level.
2. ``evictions``: sum over evicted and moved pods of (rank + 1), rank = index of the pod's priority
   among the distinct priorities of running pods in ascending order (evicting important pods costs
   more); maximum = that sum over every evictable pod when evictions or moves are allowed, else 0.
3. ``packing`` by ``options.packing``: ``none`` = 0; ``fewest_nodes`` = nodes hosting at least one pod
   (max = nodes); ``spread`` = most pods on one node (max = all pods); ``least_fragmentation`` = stranded
   milli-GPU: the free milli of every GPU device whose free share is positive but smaller than the
   smallest pending GPU request (1000 if no pending pod asks for a GPU) (max = all milli-GPU).

objective = sum_i c_i * W_i with W_last = 1 and W_i = prod_{j > i} (max_j + 1), so one pod less pending
at a higher level outweighs any change below. The value is an exact Python int (Evaluation.objective
is its float, exact below 2**53: e.g. the full openb trace with four QoS levels and ``fewest_nodes``
stays near 1.5e13). See :func:`objective_weights`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from models.common import Checker, Evaluation, FieldViolation, InstanceError, check_problem_tag, join

PROBLEM = "pod_packing"
INTEGRAL_OBJECTIVE = True

DEFAULT_PODS = 110
GPU_MILLI = 1000
#: Largest resource quantity (requests, allocatable): 2**50 is a PiB of memory in bytes, or 10**15
#: millicores; sums over a cluster's pods then stay far inside the solvers' int64 arithmetic.
MAX_QUANTITY = 2**50
#: Pod priorities are int32 in Kubernetes.
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
PACKINGS = ("none", "fewest_nodes", "least_fragmentation", "spread")
SCORING_TYPES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")

Pairs = tuple[tuple[str, str], ...]


# ==================================================================================================
# Data types
# ==================================================================================================
@dataclass(frozen=True)
class Requirement:
    """One ``match_expressions`` entry (node selector requirement or label selector requirement)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "operator": self.operator, "values": list(self.values)}


@dataclass(frozen=True)
class LabelSelector:
    match_labels: Pairs = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for k, v in self.match_labels:
            if labels.get(k) != v:
                return False
        return all(_label_req_matches(r, labels) for r in self.match_expressions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "match_labels": dict(self.match_labels),
            "match_expressions": [r.to_dict() for r in self.match_expressions],
        }


@dataclass(frozen=True)
class PodAffinityTerm:
    label_selector: LabelSelector
    topology_key: str
    namespaces: tuple[str, ...] = ()

    def selects(self, owner: Pod, other: Pod) -> bool:
        """Does this term (belonging to ``owner``) select ``other``?"""
        ns = self.namespaces or (owner.namespace,)
        return other.namespace in ns and self.label_selector.matches(other.labels_map)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label_selector": self.label_selector.to_dict(),
            "topology_key": self.topology_key,
            "namespaces": list(self.namespaces),
        }


@dataclass(frozen=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_skew": self.max_skew,
            "topology_key": self.topology_key,
            "when_unsatisfiable": self.when_unsatisfiable,
            "label_selector": self.label_selector.to_dict(),
        }


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.value == taint.value

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "operator": self.operator, "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class GpuRequest:
    count: int
    milli: int
    models: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "milli": self.milli, "models": list(self.models)}


@dataclass(frozen=True)
class Gpus:
    count: int
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "model": self.model}


@dataclass(frozen=True)
class Node:
    name: str
    allocatable: tuple[tuple[str, int], ...] = ()
    labels: Pairs = ()
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    gpus: Gpus | None = None

    @cached_property
    def labels_map(self) -> dict[str, str]:
        return dict(self.labels)

    @cached_property
    def capacity(self) -> dict[str, int]:
        """Allocatable per resource, with ``pods`` defaulting to 110 (absent resources: 0)."""
        cap = {k: int(v) for k, v in self.allocatable}
        cap.setdefault("pods", DEFAULT_PODS)
        return cap

    @property
    def gpu_count(self) -> int:
        return self.gpus.count if self.gpus else 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "allocatable": dict(self.allocatable),
            "labels": dict(self.labels),
            "taints": [t.to_dict() for t in self.taints],
            "unschedulable": self.unschedulable,
        }
        if self.gpus is not None:
            d["gpus"] = self.gpus.to_dict()
        return d


@dataclass(frozen=True)
class Pod:
    """A pending pod, or (with ``node`` set) a running one."""

    name: str
    namespace: str = "default"
    labels: Pairs = ()
    priority: int = 0
    requests: tuple[tuple[str, int], ...] = ()
    gpu: GpuRequest | None = None
    node_selector: Pairs = ()
    node_affinity: tuple[tuple[Requirement, ...], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    pod_affinity: tuple[PodAffinityTerm, ...] = ()
    pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    topology_spread: tuple[SpreadConstraint, ...] = ()
    gang: str | None = None
    # running pods only
    node: str | None = None
    gpu_indices: tuple[int, ...] = ()
    evictable: bool = True

    @cached_property
    def labels_map(self) -> dict[str, str]:
        return dict(self.labels)

    @cached_property
    def request_map(self) -> dict[str, int]:
        """Requests including the implicit ``pods: 1``."""
        r = {k: int(v) for k, v in self.requests}
        r["pods"] = 1
        return r

    @property
    def hard_spread(self) -> tuple[SpreadConstraint, ...]:
        return tuple(c for c in self.topology_spread if c.when_unsatisfiable == "DoNotSchedule")

    def to_dict(self, running: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "priority": self.priority,
            "requests": dict(self.requests),
        }
        if self.gpu is not None:
            d["gpu"] = self.gpu.to_dict()
        if self.node_selector:
            d["node_selector"] = dict(self.node_selector)
        if self.node_affinity:
            d["node_affinity"] = [
                {"match_expressions": [r.to_dict() for r in term]} for term in self.node_affinity
            ]
        if self.tolerations:
            d["tolerations"] = [t.to_dict() for t in self.tolerations]
        if self.pod_affinity:
            d["pod_affinity"] = [t.to_dict() for t in self.pod_affinity]
        if self.pod_anti_affinity:
            d["pod_anti_affinity"] = [t.to_dict() for t in self.pod_anti_affinity]
        if self.topology_spread:
            d["topology_spread"] = [c.to_dict() for c in self.topology_spread]
        if self.gang is not None:
            d["gang"] = self.gang
        if running:
            d["node"] = self.node
            d["gpu_indices"] = list(self.gpu_indices)
            d["evictable"] = self.evictable
        return d


@dataclass(frozen=True)
class Scoring:
    """The NodeResourcesFit scoring strategy of the scheduler profile the kube replica imitates.

    Mirrors ``scoringStrategy`` of a KubeSchedulerConfiguration (``pluginConfig`` of NodeResourcesFit):
    ``type`` (``LeastAllocated``, the default, ``MostAllocated`` or ``RequestedToCapacityRatio``),
    ``resources`` as (name, weight 1..100) pairs (default cpu and memory with weight 1), and for
    ``RequestedToCapacityRatio`` the ``shape`` (``requestedToCapacityRatio.shape`` there): points
    (utilization 0..100 strictly increasing, score 0..10). The arithmetic is in
    :func:`solvers.pod_packing.kube.node_scores`. Only the replica reads this; Allotment's own
    solvers optimise the objective, not a score.
    """

    type: str = "LeastAllocated"
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    shape: tuple[tuple[int, int], ...] = ()

    def with_type(self, type_: str) -> Scoring:
        """The same resources and weights under another strategy (no shape unless ratio)."""
        return Scoring(type_, self.resources, self.shape if type_ == "RequestedToCapacityRatio" else ())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.type,
            "resources": [{"name": n, "weight": w} for n, w in self.resources],
        }
        if self.shape:
            d["shape"] = [{"utilization": u, "score": s} for u, s in self.shape]
        return d


DEFAULT_SCORING = Scoring()


@dataclass(frozen=True)
class Options:
    allow_evictions: bool = False
    max_moves: int = 0
    packing: str = "none"
    scoring: Scoring = DEFAULT_SCORING

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "allow_evictions": self.allow_evictions,
            "max_moves": self.max_moves,
            "packing": self.packing,
        }
        if self.scoring != DEFAULT_SCORING:
            d["scoring"] = self.scoring.to_dict()
        return d


def _bounded(chk: Checker, doc: Mapping[str, Any], key: str, path: str, lo: int, hi: int) -> int | None:
    """A required integer field in lo..hi (one violation when it is missing, not two)."""
    value = chk.field(doc, key, path)
    return None if value is None else chk.integer(value, join(path, key), minimum=lo, maximum=hi)


def _scoring(chk: Checker, value: Any, path: str) -> Scoring:
    """Validate ``options.scoring`` as kube-scheduler validates a scoringStrategy (every violation named)."""
    m = chk.mapping(value, path)
    if m is None:
        return DEFAULT_SCORING
    chk.unknown_keys(m, ("type", "resources", "shape"), path)
    type_ = chk.string(m.get("type", "LeastAllocated"), join(path, "type"), choices=SCORING_TYPES)
    resources: list[tuple[str, int]] = []
    if m.get("resources") is None:
        resources = list(DEFAULT_SCORING.resources)
    else:
        seen: dict[str, int] = {}
        for i, r in enumerate(chk.sequence(m["resources"], join(path, "resources"), min_len=1) or []):
            rp = join(join(path, "resources"), i)
            rm = chk.mapping(r, rp)
            if rm is None:
                continue
            chk.unknown_keys(rm, ("name", "weight"), rp)
            name = chk.string(chk.field(rm, "name", rp), join(rp, "name"))
            weight = _bounded(chk, rm, "weight", rp, 1, 100)
            if name is not None and name in seen:
                chk.add(join(rp, "name"), f"duplicate resource {name!r} (resources[{seen[name]}])")
            elif name is not None and weight is not None:
                seen[name] = i
                resources.append((name, weight))
    shape: list[tuple[int, int]] = []
    if m.get("shape") is not None:
        sp = join(path, "shape")
        if type_ is not None and type_ != "RequestedToCapacityRatio":
            chk.add(sp, f"is only used with type 'RequestedToCapacityRatio', not {type_!r}")
        for i, pt in enumerate(chk.sequence(m["shape"], sp, min_len=1) or []):
            pp = join(sp, i)
            pm = chk.mapping(pt, pp)
            if pm is None:
                continue
            chk.unknown_keys(pm, ("utilization", "score"), pp)
            u = _bounded(chk, pm, "utilization", pp, 0, 100)
            s = _bounded(chk, pm, "score", pp, 0, 10)
            if u is not None and shape and u <= shape[-1][0]:
                chk.add(join(pp, "utilization"), f"must be greater than the previous point's {shape[-1][0]}")
                continue
            if u is not None and s is not None:
                shape.append((u, s))
    elif type_ == "RequestedToCapacityRatio":
        chk.add(join(path, "shape"), "is required for type 'RequestedToCapacityRatio'")
    return Scoring(type_ or "LeastAllocated", tuple(resources), tuple(shape))


# ==================================================================================================
# Matching (Kubernetes semantics)
# ==================================================================================================
def _parse_int(s: str) -> int | None:
    try:
        return int(s.strip())
    except ValueError:
        return None


def _label_req_matches(r: Requirement, labels: Mapping[str, str]) -> bool:
    has = r.key in labels
    if r.operator == "In":
        return has and labels[r.key] in r.values
    if r.operator == "NotIn":
        return not has or labels[r.key] not in r.values
    if r.operator == "Exists":
        return has
    if r.operator == "DoesNotExist":
        return not has
    if r.operator in ("Gt", "Lt"):
        if not has or len(r.values) != 1:
            return False
        a, b = _parse_int(labels[r.key]), _parse_int(r.values[0])
        if a is None or b is None:
            return False
        return a > b if r.operator == "Gt" else a < b
    return False


def node_affinity_ok(pod: Pod, node: Node) -> bool:
    """nodeSelector and required nodeAffinity (terms ORed, expressions ANDed, empty term = no match)."""
    labels = node.labels_map
    for k, v in pod.node_selector:
        if labels.get(k) != v:
            return False
    if pod.node_affinity:
        return any(term and all(_label_req_matches(r, labels) for r in term) for term in pod.node_affinity)
    return True


def untolerated_taints(pod: Pod, node: Node) -> list[Taint]:
    """The NoSchedule/NoExecute taints of ``node`` that ``pod`` does not tolerate."""
    return [
        t
        for t in node.taints
        if t.effect != "PreferNoSchedule" and not any(tol.tolerates(t) for tol in pod.tolerations)
    ]


def gpu_model_ok(pod: Pod, node: Node) -> bool:
    """The node has enough GPU devices of an accepted model (True for pods without a GPU request)."""
    if pod.gpu is None:
        return True
    if node.gpus is None or node.gpus.count < pod.gpu.count:
        return False
    return not pod.gpu.models or node.gpus.model in pod.gpu.models


def node_filter_reasons(pod: Pod, node: Node) -> list[str]:
    """Node-level filters (independent of other pods): why ``pod`` may not go to ``node``."""
    out = []
    if node.unschedulable:
        out.append("node is unschedulable")
    bad = untolerated_taints(pod, node)
    if bad:
        out.append("untolerated taint(s) " + ", ".join(f"{t.key}={t.value}:{t.effect}" for t in bad))
    if not node_affinity_ok(pod, node):
        out.append("node selector/affinity does not match")
    if not gpu_model_ok(pod, node):
        out.append("no suitable GPU devices (count/model)")
    return out


def node_static_ok(pod: Pod, node: Node) -> bool:
    """Node-level filters plus 'fits the empty node' (requests <= allocatable)."""
    if node.unschedulable or untolerated_taints(pod, node) or not node_affinity_ok(pod, node):
        return False
    if not gpu_model_ok(pod, node):
        return False
    cap = node.capacity
    return all(v <= cap.get(k, 0) for k, v in pod.request_map.items())


def spread_eligible(pod: Pod, node: Node) -> bool:
    """PodTopologySpread counts a node when it carries every hard constraint's key and passes the pod's
    node selector/affinity (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore)."""
    labels = node.labels_map
    return all(c.topology_key in labels for c in pod.hard_spread) and node_affinity_ok(pod, node)


def spread_matches(owner: Pod, c: SpreadConstraint, other: Pod) -> bool:
    return other.namespace == owner.namespace and c.label_selector.matches(other.labels_map)


# ==================================================================================================
# Validation
# ==================================================================================================
def _labels(chk: Checker, v: Any, path: str) -> Pairs:
    if v is None:
        return ()
    m = chk.mapping(v, path)
    if m is None:
        return ()
    out = []
    for k, x in m.items():
        if chk.string(x, join(path, str(k))) is not None:
            out.append((str(k), x))
    return tuple(sorted(out))  # a map: canonical order, so equal maps compare equal


def _requirement(chk: Checker, v: Any, path: str, operators: Sequence[str]) -> Requirement | None:
    m = chk.mapping(v, path)
    if m is None:
        return None
    chk.unknown_keys(m, ("key", "operator", "values"), path)
    key = chk.string(chk.field(m, "key", path), join(path, "key"))
    op = chk.string(chk.field(m, "operator", path), join(path, "operator"), choices=operators)
    vals_raw = m.get("values") or []
    vals = chk.sequence(vals_raw, join(path, "values"))
    values: list[str] = []
    if vals is not None:
        for i, x in enumerate(vals):
            if chk.string(x, join(join(path, "values"), i)) is not None:
                values.append(x)
    if key is not None and key == "":
        chk.add(join(path, "key"), "must not be empty")
    if op in ("In", "NotIn") and not values:
        chk.add(join(path, "values"), f"must be non-empty for operator {op}")
    if op in ("Exists", "DoesNotExist") and values:
        chk.add(join(path, "values"), f"must be empty for operator {op}")
    if op in ("Gt", "Lt") and (len(values) != 1 or _parse_int(values[0]) is None):
        chk.add(join(path, "values"), f"must be a single integer for operator {op}")
    if key is None or op is None:
        return None
    return Requirement(key, op, tuple(values))


def _selector(chk: Checker, v: Any, path: str) -> LabelSelector | None:
    m = chk.mapping(v, path)
    if m is None:
        return None
    chk.unknown_keys(m, ("match_labels", "match_expressions"), path)
    labels = _labels(chk, m.get("match_labels"), join(path, "match_labels"))
    exprs: list[Requirement] = []
    seq = chk.sequence(m.get("match_expressions") or [], join(path, "match_expressions"))
    for i, x in enumerate(seq or []):
        r = _requirement(chk, x, join(join(path, "match_expressions"), i), LABEL_OPERATORS)
        if r is not None:
            exprs.append(r)
    return LabelSelector(labels, tuple(exprs))


def _affinity_terms(chk: Checker, v: Any, path: str) -> tuple[PodAffinityTerm, ...]:
    out = []
    for i, t in enumerate(chk.sequence(v, path) or [] if v is not None else []):
        p = join(path, i)
        m = chk.mapping(t, p)
        if m is None:
            continue
        chk.unknown_keys(m, ("label_selector", "topology_key", "namespaces"), p)
        sel = _selector(chk, chk.field(m, "label_selector", p), join(p, "label_selector"))
        key = chk.string(chk.field(m, "topology_key", p), join(p, "topology_key"))
        if key == "":
            chk.add(join(p, "topology_key"), "must not be empty")
        nss: list[str] = []
        for j, ns in enumerate(chk.sequence(m.get("namespaces") or [], join(p, "namespaces")) or []):
            if chk.string(ns, join(join(p, "namespaces"), j)) is not None:
                nss.append(ns)
        if sel is not None and key:
            out.append(PodAffinityTerm(sel, key, tuple(nss)))
    return tuple(out)


POD_KEYS = (
    "name",
    "namespace",
    "labels",
    "priority",
    "requests",
    "gpu",
    "node_selector",
    "node_affinity",
    "tolerations",
    "pod_affinity",
    "pod_anti_affinity",
    "topology_spread",
    "gang",
)
RUNNING_KEYS = (*POD_KEYS, "node", "gpu_indices", "evictable")


def _pod(chk: Checker, v: Any, path: str, running: bool) -> Pod | None:
    m = chk.mapping(v, path)
    if m is None:
        return None
    n0 = len(chk.violations)
    chk.unknown_keys(m, RUNNING_KEYS if running else POD_KEYS, path)
    name = chk.string(chk.field(m, "name", path), join(path, "name"))
    if name == "":
        chk.add(join(path, "name"), "must not be empty")
    ns = m.get("namespace")
    if ns is None:
        ns = name.split("/", 1)[0] if name and "/" in name else "default"
    else:
        ns = chk.string(ns, join(path, "namespace"))
    labels = _labels(chk, m.get("labels"), join(path, "labels"))
    prio = 0
    if m.get("priority") is not None:
        lo, hi = PRIORITY_RANGE
        prio = chk.integer(m["priority"], join(path, "priority"), minimum=lo, maximum=hi) or 0
    reqs: list[tuple[str, int]] = []
    rm = chk.mapping(m.get("requests") or {}, join(path, "requests"))
    for k, x in (rm or {}).items():
        p = join(join(path, "requests"), str(k))
        if k == "pods":
            chk.add(p, "is implicit (every pod consumes one 'pods'); do not request it")
            continue
        q = chk.integer(x, p, minimum=0, maximum=MAX_QUANTITY)
        if q is not None:
            reqs.append((str(k), q))
    gpu = None
    if m.get("gpu") is not None:
        p = join(path, "gpu")
        g = chk.mapping(m["gpu"], p)
        if g is not None:
            chk.unknown_keys(g, ("count", "milli", "models"), p)
            cnt = chk.integer(chk.field(g, "count", p), join(p, "count"), minimum=1)
            milli = chk.integer(g.get("milli", GPU_MILLI), join(p, "milli"), minimum=1, maximum=GPU_MILLI)
            models: list[str] = []
            for j, x in enumerate(chk.sequence(g.get("models") or [], join(p, "models")) or []):
                if chk.string(x, join(join(p, "models"), j)) is not None:
                    models.append(x)
            if cnt is not None and milli is not None:
                if cnt > 1 and milli != GPU_MILLI:
                    chk.add(join(p, "milli"), f"must be 1000 when count > 1 (got {milli})")
                gpu = GpuRequest(cnt, milli, tuple(models))
    node_sel = _labels(chk, m.get("node_selector"), join(path, "node_selector"))
    terms: list[tuple[Requirement, ...]] = []
    na = m.get("node_affinity")
    for i, t in enumerate(chk.sequence(na, join(path, "node_affinity")) or [] if na is not None else []):
        p = join(join(path, "node_affinity"), i)
        tm = chk.mapping(t, p)
        if tm is None:
            continue
        chk.unknown_keys(tm, ("match_expressions",), p)
        reqs_t: list[Requirement] = []
        seq = chk.sequence(tm.get("match_expressions") or [], join(p, "match_expressions"))
        for j, x in enumerate(seq or []):
            r = _requirement(chk, x, join(join(p, "match_expressions"), j), NODE_OPERATORS)
            if r is not None:
                reqs_t.append(r)
        terms.append(tuple(reqs_t))
    tols: list[Toleration] = []
    tv = m.get("tolerations")
    for i, t in enumerate(chk.sequence(tv, join(path, "tolerations")) or [] if tv is not None else []):
        p = join(join(path, "tolerations"), i)
        tm = chk.mapping(t, p)
        if tm is None:
            continue
        chk.unknown_keys(tm, ("key", "operator", "value", "effect"), p)
        key = chk.string(tm.get("key", ""), join(p, "key"))
        op = chk.string(tm.get("operator", "Equal"), join(p, "operator"), choices=("Equal", "Exists"))
        val = chk.string(tm.get("value", ""), join(p, "value"))
        eff = chk.string(tm.get("effect", ""), join(p, "effect"), choices=("", *TAINT_EFFECTS))
        if key == "" and op == "Equal":
            chk.add(join(p, "operator"), "must be Exists when key is empty")
        if op == "Exists" and val:
            chk.add(join(p, "value"), "must be empty when operator is Exists")
        if None not in (key, op, val, eff):
            tols.append(Toleration(key or "", op or "Equal", val or "", eff or ""))
    aff = _affinity_terms(chk, m.get("pod_affinity"), join(path, "pod_affinity"))
    anti = _affinity_terms(chk, m.get("pod_anti_affinity"), join(path, "pod_anti_affinity"))
    spreads: list[SpreadConstraint] = []
    sv = m.get("topology_spread")
    for i, t in enumerate(chk.sequence(sv, join(path, "topology_spread")) or [] if sv is not None else []):
        p = join(join(path, "topology_spread"), i)
        tm = chk.mapping(t, p)
        if tm is None:
            continue
        chk.unknown_keys(tm, ("max_skew", "topology_key", "when_unsatisfiable", "label_selector"), p)
        skew = chk.integer(chk.field(tm, "max_skew", p), join(p, "max_skew"), minimum=1)
        key = chk.string(chk.field(tm, "topology_key", p), join(p, "topology_key"))
        if key == "":
            chk.add(join(p, "topology_key"), "must not be empty")
        when = chk.string(
            tm.get("when_unsatisfiable", "DoNotSchedule"),
            join(p, "when_unsatisfiable"),
            choices=("DoNotSchedule", "ScheduleAnyway"),
        )
        sel = _selector(chk, chk.field(tm, "label_selector", p), join(p, "label_selector"))
        if skew is not None and key and when is not None and sel is not None:
            spreads.append(SpreadConstraint(skew, key, when, sel))
    gang = None
    if m.get("gang") is not None:
        gang = chk.string(m["gang"], join(path, "gang"))
        if gang == "":
            chk.add(join(path, "gang"), "must not be empty")
    node: str | None = None
    idx: tuple[int, ...] = ()
    evictable = True
    if running:
        node = chk.string(chk.field(m, "node", path), join(path, "node"))
        ids: list[int] = []
        for j, x in enumerate(chk.sequence(m.get("gpu_indices") or [], join(path, "gpu_indices")) or []):
            q = chk.integer(x, join(join(path, "gpu_indices"), j), minimum=0)
            if q is not None:
                ids.append(q)
        idx = tuple(ids)
        ev = m.get("evictable", True)
        if not isinstance(ev, bool):
            chk.add(join(path, "evictable"), f"must be a boolean, got {ev!r}")
        else:
            evictable = ev
    if len(chk.violations) > n0 or name is None or ns is None:
        return None
    return Pod(
        name=name,
        namespace=ns,
        labels=labels,
        priority=prio,
        requests=tuple(sorted(reqs)),
        gpu=gpu,
        node_selector=node_sel,
        node_affinity=tuple(terms),
        tolerations=tuple(tols),
        pod_affinity=aff,
        pod_anti_affinity=anti,
        topology_spread=tuple(spreads),
        gang=gang,
        node=node,
        gpu_indices=idx,
        evictable=evictable,
    )


def _node(chk: Checker, v: Any, path: str) -> Node | None:
    m = chk.mapping(v, path)
    if m is None:
        return None
    n0 = len(chk.violations)
    chk.unknown_keys(m, ("name", "allocatable", "labels", "taints", "unschedulable", "gpus"), path)
    name = chk.string(chk.field(m, "name", path), join(path, "name"))
    if name == "":
        chk.add(join(path, "name"), "must not be empty")
    alloc: list[tuple[str, int]] = []
    am = chk.mapping(m.get("allocatable") or {}, join(path, "allocatable"))
    for k, x in (am or {}).items():
        q = chk.integer(x, join(join(path, "allocatable"), str(k)), minimum=0, maximum=MAX_QUANTITY)
        if q is not None:
            alloc.append((str(k), q))
    labels = _labels(chk, m.get("labels"), join(path, "labels"))
    alloc.sort()  # a map: canonical order
    taints: list[Taint] = []
    tv = m.get("taints")
    for i, t in enumerate(chk.sequence(tv, join(path, "taints")) or [] if tv is not None else []):
        p = join(join(path, "taints"), i)
        tm = chk.mapping(t, p)
        if tm is None:
            continue
        chk.unknown_keys(tm, ("key", "value", "effect"), p)
        key = chk.string(chk.field(tm, "key", p), join(p, "key"))
        if key == "":
            chk.add(join(p, "key"), "must not be empty")
        val = chk.string(tm.get("value", ""), join(p, "value"))
        eff = chk.string(chk.field(tm, "effect", p), join(p, "effect"), choices=TAINT_EFFECTS)
        if key and val is not None and eff is not None:
            taints.append(Taint(key, val, eff))
    unsched = m.get("unschedulable", False)
    if not isinstance(unsched, bool):
        chk.add(join(path, "unschedulable"), f"must be a boolean, got {unsched!r}")
        unsched = False
    gpus = None
    if m.get("gpus") is not None:
        p = join(path, "gpus")
        g = chk.mapping(m["gpus"], p)
        if g is not None:
            chk.unknown_keys(g, ("count", "model"), p)
            cnt = chk.integer(chk.field(g, "count", p), join(p, "count"), minimum=0)
            model = chk.string(g.get("model", ""), join(p, "model"))
            if cnt is not None and model is not None:
                gpus = Gpus(cnt, model)
    if len(chk.violations) > n0 or name is None:
        return None
    return Node(name, tuple(alloc), labels, tuple(taints), unsched, gpus)


@dataclass(frozen=True)
class Instance:
    PROBLEM = PROBLEM

    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    running: tuple[Pod, ...] = ()
    options: Options = field(default_factory=Options)
    name: str = ""

    # -- lookups ------------------------------------------------------------------------------------
    @cached_property
    def node_index(self) -> dict[str, int]:
        return {n.name: i for i, n in enumerate(self.nodes)}

    @cached_property
    def pod_index(self) -> dict[str, int]:
        return {p.name: i for i, p in enumerate(self.pods)}

    @cached_property
    def running_index(self) -> dict[str, int]:
        return {p.name: i for i, p in enumerate(self.running)}

    @cached_property
    def resources(self) -> tuple[str, ...]:
        """Every resource named by a request (and ``pods``), in first-seen order."""
        seen: dict[str, None] = {"pods": None}
        for p in (*self.pods, *self.running):
            for k, _ in p.requests:
                seen.setdefault(k, None)
        return tuple(seen)

    @cached_property
    def gangs(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.pods):
            if p.gang is not None:
                out.setdefault(p.gang, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, doc: Any) -> Instance:
        chk = Checker()
        d = chk.document(doc)
        check_problem_tag(chk, d, PROBLEM)
        chk.unknown_keys(d, ("problem", "name", "nodes", "pods", "running", "options"), "")
        name = d.get("name", "")
        if not isinstance(name, str):
            chk.add("name", f"must be a string, got {name!r}")
            name = ""
        nodes = []
        for i, x in enumerate(chk.sequence(chk.field(d, "nodes", ""), "nodes") or []):
            n = _node(chk, x, join("nodes", i))
            if n is not None:
                nodes.append(n)
        pods = []
        for i, x in enumerate(chk.sequence(d.get("pods") or [], "pods") or []):
            p = _pod(chk, x, join("pods", i), False)
            if p is not None:
                pods.append(p)
        running = []
        for i, x in enumerate(chk.sequence(d.get("running") or [], "running") or []):
            p = _pod(chk, x, join("running", i), True)
            if p is not None:
                running.append(p)
        opts = Options()
        if d.get("options") is not None:
            om = chk.mapping(d["options"], "options")
            if om is not None:
                chk.unknown_keys(om, ("allow_evictions", "max_moves", "packing", "scoring"), "options")
                ae = om.get("allow_evictions", False)
                if not isinstance(ae, bool):
                    chk.add("options.allow_evictions", f"must be a boolean, got {ae!r}")
                    ae = False
                mm = chk.integer(om.get("max_moves", 0), "options.max_moves", minimum=0)
                pk = chk.string(om.get("packing", "none"), "options.packing", choices=PACKINGS)
                sc = DEFAULT_SCORING
                if om.get("scoring") is not None:
                    sc = _scoring(chk, om["scoring"], "options.scoring")
                opts = Options(ae, mm or 0, pk or "none", sc)
        # cross-references (positions refer to the raw lists; only checked when those parsed cleanly)
        raw_nodes: list[Any] = d["nodes"] if isinstance(d.get("nodes"), list) else []
        raw_pods: list[Any] = d["pods"] if isinstance(d.get("pods"), list) else []
        raw_running: list[Any] = d["running"] if isinstance(d.get("running"), list) else []
        seen_nodes: dict[str, int] = {}
        for i, x in enumerate(raw_nodes):
            nm = x.get("name") if isinstance(x, Mapping) else None
            if isinstance(nm, str):
                if nm in seen_nodes:
                    chk.add(
                        join(join("nodes", i), "name"),
                        f"duplicate node name {nm!r} (nodes[{seen_nodes[nm]}])",
                    )
                else:
                    seen_nodes[nm] = i
        node_by_name = {n.name: n for n in nodes}
        seen_pods: dict[str, str] = {}
        for lst, raw in (("pods", raw_pods), ("running", raw_running)):
            for i, x in enumerate(raw):
                nm = x.get("name") if isinstance(x, Mapping) else None
                if isinstance(nm, str):
                    if nm in seen_pods:
                        chk.add(join(join(lst, i), "name"), f"duplicate pod name {nm!r} ({seen_pods[nm]})")
                    else:
                        seen_pods[nm] = f"{lst}[{i}]"
        for i, x in enumerate(raw_running):
            if not isinstance(x, Mapping):
                continue
            nn = x.get("node")
            rpath = join("running", i)
            if isinstance(nn, str) and nn not in seen_nodes:
                chk.add(join(rpath, "node"), f"unknown node {nn!r}")
                continue
            rp = next((r for r in running if r.name == x.get("name")), None)
            if rp is None or not isinstance(nn, str):
                continue
            node = node_by_name.get(nn)
            ngpu = node.gpu_count if node else 0
            want = rp.gpu.count if rp.gpu else 0
            if len(rp.gpu_indices) != want:
                chk.add(join(rpath, "gpu_indices"), f"must list {want} device(s), got {len(rp.gpu_indices)}")
            if len(set(rp.gpu_indices)) != len(rp.gpu_indices):
                chk.add(join(rpath, "gpu_indices"), "devices must be distinct")
            for j, g in enumerate(rp.gpu_indices):
                if g >= ngpu:
                    chk.add(
                        join(join(rpath, "gpu_indices"), j), f"node {nn!r} has {ngpu} GPU(s), not index {g}"
                    )
        chk.raise_if_any()
        return cls(tuple(nodes), tuple(pods), tuple(running), opts, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": PROBLEM,
            "name": self.name,
            "nodes": [n.to_dict() for n in self.nodes],
            "pods": [p.to_dict() for p in self.pods],
            "running": [p.to_dict(running=True) for p in self.running],
            "options": self.options.to_dict(),
        }


# ==================================================================================================
# Solution
# ==================================================================================================
@dataclass(frozen=True)
class Solution:
    placements: tuple[tuple[str, str | None], ...]
    evictions: tuple[str, ...] = ()
    moves: tuple[tuple[str, str], ...] = ()
    gpu_indices: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @classmethod
    def from_dict(cls, doc: Any) -> Solution:
        chk = Checker()
        d = chk.document(doc)
        chk.unknown_keys(d, ("placements", "evictions", "moves", "gpu_indices"), "")
        pl: list[tuple[str, str | None]] = []
        pm = chk.mapping(chk.field(d, "placements", ""), "placements") if "placements" in d else None
        if "placements" not in d:
            chk.add("placements", "is required")
        for k, v in (pm or {}).items():
            if v is not None and chk.string(v, join("placements", str(k))) is None:
                continue
            pl.append((str(k), v))
        ev: list[str] = []
        for i, x in enumerate(chk.sequence(d.get("evictions") or [], "evictions") or []):
            if chk.string(x, join("evictions", i)) is not None:
                ev.append(x)
        mv: list[tuple[str, str]] = []
        for k, v in (chk.mapping(d.get("moves") or {}, "moves") or {}).items():
            if chk.string(v, join("moves", str(k))) is not None:
                mv.append((str(k), v))
        gi: list[tuple[str, tuple[int, ...]]] = []
        for k, v in (chk.mapping(d.get("gpu_indices") or {}, "gpu_indices") or {}).items():
            p = join("gpu_indices", str(k))
            seq = chk.sequence(v, p)
            if seq is None:
                continue
            ids = [chk.integer(x, join(p, j), minimum=0) for j, x in enumerate(seq)]
            if all(x is not None for x in ids):
                gi.append((str(k), tuple(int(x) for x in ids if x is not None)))
        chk.raise_if_any()
        return cls(tuple(pl), tuple(ev), tuple(mv), tuple(gi))

    def to_dict(self) -> dict[str, Any]:
        return {
            "placements": dict(self.placements),
            "evictions": list(self.evictions),
            "moves": dict(self.moves),
            "gpu_indices": {k: list(v) for k, v in self.gpu_indices},
        }


# ==================================================================================================
# Objective encoding
# ==================================================================================================
def priority_levels(instance: Instance) -> tuple[int, ...]:
    """Distinct priorities of pending pods, highest first (one objective component each)."""
    return tuple(sorted({p.priority for p in instance.pods}, reverse=True))


def running_rank(instance: Instance) -> dict[int, int]:
    """Rank of each running pod's priority among running priorities (ascending, from 0)."""
    return {pr: i for i, pr in enumerate(sorted({p.priority for p in instance.running}))}


def component_maxima(instance: Instance) -> list[tuple[str, int]]:
    """(term name, maximum value) of every objective component, most important first."""
    comps: list[tuple[str, int]] = []
    for pr in priority_levels(instance):
        comps.append((f"unplaced_p{pr}", sum(1 for p in instance.pods if p.priority == pr)))
    rank = running_rank(instance)
    o = instance.options
    disrupt = 0
    if o.allow_evictions or o.max_moves > 0:
        disrupt = sum(rank[p.priority] + 1 for p in instance.running if p.evictable)
    comps.append(("evictions", disrupt))
    if o.packing == "fewest_nodes":
        pmax = len(instance.nodes)
    elif o.packing == "spread":
        pmax = len(instance.pods) + len(instance.running)
    elif o.packing == "least_fragmentation":
        pmax = sum(n.gpu_count for n in instance.nodes) * GPU_MILLI
    else:
        pmax = 0
    comps.append(("packing", pmax))
    return comps


def objective_weights(instance: Instance) -> list[tuple[str, int]]:
    """(term name, mixed-radix weight): weight_i = prod over less important j of (max_j + 1)."""
    comps = component_maxima(instance)
    out: list[tuple[str, int]] = []
    w = 1
    for nm, mx in reversed(comps):
        out.append((nm, w))
        w *= mx + 1
    return list(reversed(out))


def smallest_gpu_request(instance: Instance) -> int:
    """Smallest milli-GPU a pending pod asks of one device (1000 when none asks for a GPU)."""
    return min((p.gpu.milli for p in instance.pods if p.gpu is not None), default=GPU_MILLI)


def fragmentation(instance: Instance, device_used: Mapping[tuple[int, int], int]) -> int:
    """Stranded milli-GPU: free milli of devices with 0 < free < the smallest pending GPU request."""
    m = smallest_gpu_request(instance)
    total = 0
    for ni, n in enumerate(instance.nodes):
        for d in range(n.gpu_count):
            free = GPU_MILLI - device_used.get((ni, d), 0)
            if 0 < free < m:
                total += free
    return total


def encode(instance: Instance, terms: Mapping[str, int]) -> int:
    return sum(w * int(terms.get(nm, 0)) for nm, w in objective_weights(instance))


# ==================================================================================================
# Evaluation
# ==================================================================================================
def evaluate(instance: Instance, solution: Solution) -> Evaluation:
    """Check every constraint on the final state (see module docstring) and recompute the objective."""
    inst = instance
    viol: list[str] = []
    nodes = inst.nodes
    nidx = inst.node_index
    o = inst.options

    # -- names ----------------------------------------------------------------------------------------
    placed: dict[str, int | None] = {}
    for pn, nn in solution.placements:
        if pn not in inst.pod_index:
            if pn in inst.running_index:
                viol.append(f"placements: {pn!r} is a running pod (use moves)")
            else:
                viol.append(f"placements: unknown pod {pn!r}")
            continue
        if pn in placed:
            viol.append(f"placements: pod {pn!r} listed twice")
        if nn is not None and nn not in nidx:
            viol.append(f"placements: pod {pn!r} on unknown node {nn!r}")
            placed[pn] = None
            continue
        placed[pn] = None if nn is None else nidx[nn]
    for p in inst.pods:
        if p.name not in placed:
            viol.append(f"placements: pending pod {p.name!r} is missing (use null to leave it pending)")
    evicted: set[str] = set()
    for en in solution.evictions:
        if en not in inst.running_index:
            viol.append(f"evictions: unknown running pod {en!r}")
            continue
        if en in evicted:
            viol.append(f"evictions: {en!r} listed twice")
        evicted.add(en)
        rp = inst.running[inst.running_index[en]]
        if not o.allow_evictions:
            viol.append(f"evictions: {en!r} evicted but options.allow_evictions is false")
        if not rp.evictable:
            viol.append(f"evictions: {en!r} is not evictable")
    moved: dict[str, int] = {}
    for mn, nn in solution.moves:
        if mn not in inst.running_index:
            viol.append(f"moves: unknown running pod {mn!r}")
            continue
        if nn not in nidx:
            viol.append(f"moves: {mn!r} to unknown node {nn!r}")
            continue
        rp = inst.running[inst.running_index[mn]]
        if not rp.evictable:
            viol.append(f"moves: {mn!r} is not evictable, so it cannot be moved")
        if mn in evicted:
            viol.append(f"moves: {mn!r} is both evicted and moved")
        if nn == rp.node:
            viol.append(f"moves: {mn!r} 'moved' to its own node {nn!r}")
        moved[mn] = nidx[nn]
    if len(moved) > o.max_moves:
        viol.append(f"moves: {len(moved)} moves exceed options.max_moves = {o.max_moves}")
    gpu_sol: dict[str, tuple[int, ...]] = {}
    for gn, ids in solution.gpu_indices:
        if gn not in inst.pod_index and gn not in inst.running_index:
            viol.append(f"gpu_indices: unknown pod {gn!r}")
            continue
        gpu_sol[gn] = ids

    # -- final state ------------------------------------------------------------------------------------
    # entries: (pod, node index, is_new, gpu devices)
    final: list[tuple[Pod, int, bool, tuple[int, ...]]] = []
    for rp in inst.running:
        if rp.name in evicted:
            continue
        if rp.name in moved:
            final.append((rp, moved[rp.name], True, gpu_sol.get(rp.name, ())))
        else:
            assert rp.node is not None
            final.append((rp, nidx[rp.node], False, rp.gpu_indices))
    for p in inst.pods:
        ni = placed.get(p.name)
        if ni is not None:
            final.append((p, ni, True, gpu_sol.get(p.name, ())))
    for gn in gpu_sol:
        if gn in inst.pod_index and placed.get(gn) is None:
            viol.append(f"gpu_indices: pod {gn!r} is not placed")
        elif gn in inst.running_index and gn not in moved:
            viol.append(f"gpu_indices: running pod {gn!r} is not moved (its devices are given)")
        else:
            pod = (
                inst.pods[inst.pod_index[gn]]
                if gn in inst.pod_index
                else inst.running[inst.running_index[gn]]
            )
            if pod.gpu is None:
                viol.append(f"gpu_indices: pod {gn!r} requests no GPU")

    receiving = {ni for _, ni, new, _ in final if new}
    on_node: dict[int, list[int]] = {}
    for k, (_, ni, _, _) in enumerate(final):
        on_node.setdefault(ni, []).append(k)

    # -- node-level filters and GPU devices of new pods -----------------------------------------------
    for pod, ni, new, devs in final:
        if not new:
            continue
        node = nodes[ni]
        for why in node_filter_reasons(pod, node):
            viol.append(f"pod {pod.name!r} on node {node.name!r}: {why}")
        if pod.gpu is not None:
            if len(devs) != pod.gpu.count:
                viol.append(
                    f"pod {pod.name!r}: gpu_indices lists {len(devs)} device(s), it requests {pod.gpu.count}"
                )
            if len(set(devs)) != len(devs):
                viol.append(f"pod {pod.name!r}: gpu_indices repeats a device")
            for g in devs:
                if g >= node.gpu_count:
                    viol.append(f"pod {pod.name!r}: node {node.name!r} has no GPU index {g}")

    # -- capacity per resource and per GPU device (nodes receiving new pods) ---------------------------
    device_used: dict[tuple[int, int], int] = {}
    for pod, ni, _, devs in final:
        if pod.gpu is not None:
            for g in set(devs):
                device_used[(ni, g)] = device_used.get((ni, g), 0) + pod.gpu.milli
    for ni in sorted(receiving):
        node = nodes[ni]
        cap = node.capacity
        used: dict[str, int] = {}
        asked: set[str] = set()  # resources some new pod on the node requests (NodeResourcesFit)
        new_devs: set[int] = set()
        for k in on_node[ni]:
            pod, _, new, devs = final[k]
            for r, q in pod.request_map.items():
                used[r] = used.get(r, 0) + q
                if new and q > 0:
                    asked.add(r)
            if new:
                new_devs.update(devs)
        for r, q in used.items():
            if r in asked and q > cap.get(r, 0):
                viol.append(f"node {node.name!r}: {r} requested {q} > allocatable {cap.get(r, 0)}")
        for g in range(node.gpu_count):
            u = device_used.get((ni, g), 0)
            if g in new_devs and u > GPU_MILLI:
                viol.append(f"node {node.name!r}: GPU {g} shared beyond capacity ({u} milli > 1000)")

    # -- inter-pod affinity / anti-affinity ------------------------------------------------------------
    def domain(ni: int, key: str) -> str | None:
        return nodes[ni].labels_map.get(key)

    for a, (pa, na, newa, _) in enumerate(final):
        for t in pa.pod_anti_affinity:
            va = domain(na, t.topology_key)
            if va is None:
                continue
            for b, (pb, nb, newb, _) in enumerate(final):
                if a == b or not (newa or newb) or not t.selects(pa, pb):
                    continue
                if domain(nb, t.topology_key) == va:
                    viol.append(
                        f"anti-affinity: pod {pa.name!r} (node {nodes[na].name!r}) and pod {pb.name!r} "
                        f"(node {nodes[nb].name!r}) share {t.topology_key}={va}"
                    )
    for a, (pa, na, newa, _) in enumerate(final):
        if not newa or not pa.pod_affinity:
            continue
        aterms = pa.pod_affinity
        keys = [t.topology_key for t in aterms]
        missing = [k for k in keys if domain(na, k) is None]
        if missing:
            viol.append(
                f"pod affinity: pod {pa.name!r} on node {nodes[na].name!r} lacking label(s) {missing}"
            )
            continue
        partners = [
            (pb, nb)
            for b, (pb, nb, _, _) in enumerate(final)
            if b != a and all(t.selects(pa, pb) for t in aterms)
        ]
        ok = all(
            any(domain(nb, t.topology_key) == domain(na, t.topology_key) for _, nb in partners)
            for t in aterms
        )
        if not ok:
            anywhere = any(domain(nb, k) is not None for _, nb in partners for k in keys)
            self_ok = all(t.selects(pa, pa) for t in aterms)
            if anywhere or not self_ok:
                viol.append(
                    f"pod affinity: pod {pa.name!r} on node {nodes[na].name!r} has no matching pod "
                    f"in its topology domain(s)"
                )

    # -- topology spread (DoNotSchedule) -----------------------------------------------------------------
    for a, (pa, na, newa, _) in enumerate(final):
        if not newa:
            continue
        for c in pa.hard_spread:
            key = c.topology_key
            mine = domain(na, key)
            if mine is None:
                viol.append(
                    f"topology spread: pod {pa.name!r} on node {nodes[na].name!r} lacking label {key!r}"
                )
                continue
            eligible = [ni for ni, n in enumerate(nodes) if spread_eligible(pa, n)]
            counts = {nodes[ni].labels_map[key]: 0 for ni in eligible}
            elig = set(eligible)
            for b, (pb, nb, _, _) in enumerate(final):
                if b != a and nb in elig and spread_matches(pa, c, pb):
                    counts[nodes[nb].labels_map[key]] += 1
            self_match = 1 if spread_matches(pa, c, pa) else 0
            lo = min(counts.values()) if counts else 0
            skew = counts.get(mine, 0) + self_match - lo
            if skew > c.max_skew:
                viol.append(
                    f"topology spread: pod {pa.name!r} in {key}={mine} gives skew {skew}"
                    f" > max_skew {c.max_skew}"
                )

    # -- gangs -------------------------------------------------------------------------------------------
    for gname, members in inst.gangs.items():
        n_placed = sum(1 for i in members if placed.get(inst.pods[i].name) is not None)
        if 0 < n_placed < len(members):
            viol.append(f"gang {gname!r}: {n_placed} of {len(members)} pods placed (all or none)")

    # -- eviction rule (preemption: a strictly higher-priority new pod on the victim's node) -----------
    for en in sorted(evicted):
        rp = inst.running[inst.running_index[en]]
        assert rp.node is not None
        ni = nidx[rp.node]
        if not any(placed.get(p.name) == ni and p.priority > rp.priority for p in inst.pods):
            viol.append(
                f"evictions: {en!r} (priority {rp.priority}) evicted but no placed pod of higher priority "
                f"lands on its node {rp.node!r}"
            )

    # -- objective -----------------------------------------------------------------------------------------
    terms: dict[str, int] = {}
    for pr in priority_levels(inst):
        terms[f"unplaced_p{pr}"] = sum(
            1 for p in inst.pods if p.priority == pr and placed.get(p.name) is None
        )
    rank = running_rank(inst)
    terms["evictions"] = sum(
        rank[inst.running[inst.running_index[nm]].priority] + 1 for nm in (evicted | set(moved))
    )
    if o.packing == "fewest_nodes":
        terms["packing"] = len(on_node)
    elif o.packing == "spread":
        terms["packing"] = max((len(v) for v in on_node.values()), default=0)
    elif o.packing == "least_fragmentation":
        used_ok = {k: min(v, GPU_MILLI) for k, v in device_used.items()}
        terms["packing"] = fragmentation(inst, used_ok)
    else:
        terms["packing"] = 0
    maxima = dict(component_maxima(inst))
    terms = {k: min(v, maxima[k]) if k in maxima else v for k, v in terms.items()}
    obj = encode(inst, terms)
    return Evaluation(float(obj), tuple(viol), {k: float(v) for k, v in terms.items()})


# ==================================================================================================
# Readers
# ==================================================================================================
QOS_PRIORITY = {"LS": 3, "Guaranteed": 2, "Burstable": 1, "BE": 0}
"""openb QoS -> priority: Alibaba's latency-sensitive (LS) first, then Kubernetes' QoS classes
Guaranteed > Burstable > BestEffort (BE), the order in which the kubelet protects pods."""

_OPENB_NODE_COLS = ("sn", "cpu_milli", "memory_mib", "gpu")
_OPENB_POD_COLS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
"""Required pod columns; ``gpu_spec``, ``qos`` and ``creation_time`` are used when present (the
``multigpu50`` variant has only the required five)"""


def _read_text(src: str) -> tuple[str, str]:
    """A CSV argument is a path, or the CSV text itself when it contains a newline."""
    if "\n" in src:
        return src, "<text>"
    with open(src, encoding="utf-8") as f:
        return f.read(), src


def _csv_rows(src: str, cols: Sequence[str]) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """Rows as dicts by header name; the columns ``cols`` are required, others optional ("" if absent)."""
    text, fname = _read_text(src)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"{fname}: empty file")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in cols if c not in header]
    if missing:
        raise ValueError(f"{fname}:1: header lacks column(s) {','.join(missing)}; got {','.join(header)}")
    out = []
    for ln, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{fname}:{ln}: expected {len(header)} columns, got {len(row)}")
        out.append((ln, {c: row[k].strip() for k, c in enumerate(header)}))
    return fname, out


def _csv_int(fname: str, ln: int, col: str, s: str, *, default: int | None = None) -> int:
    if s in ("", "nan") and default is not None:
        return default
    try:
        v = float(s)
        if not math.isfinite(v) or v != int(v) or v < 0:
            raise ValueError
        return int(v)
    except ValueError:
        raise ValueError(
            f"{fname}:{ln}: column {col!r}: expected a non-negative integer, got {s!r}"
        ) from None


def read_openb(nodes_csv: str, pods_csv: str, *, name: str = "", limit_pods: int | None = None) -> Instance:
    """Alibaba openb traces (paths or CSV text) -> instance with every trace pod pending.

    Nodes: ``cpu_milli`` -> cpu, ``memory_mib`` -> memory bytes, ``gpu``/``model`` -> GPU devices, label
    ``kubernetes.io/hostname``; pods 110. Pods are taken in creation order (stable for ties), all rows
    regardless of ``pod_phase`` (the simulator replays the whole trace), the first ``limit_pods`` kept;
    GPU request from ``num_gpu``/``gpu_milli``, accepted models from ``gpu_spec`` split on ``|``;
    priority from ``qos`` by :data:`QOS_PRIORITY` (unknown QoS: 0).
    """
    nf, nrows = _csv_rows(nodes_csv, _OPENB_NODE_COLS)
    nodes = []
    for ln, r in nrows:
        gcount = _csv_int(nf, ln, "gpu", r["gpu"], default=0)
        model = "" if r.get("model", "") in ("", "nan") else r["model"]
        nodes.append(
            Node(
                name=r["sn"],
                allocatable=(
                    ("cpu", _csv_int(nf, ln, "cpu_milli", r["cpu_milli"])),
                    ("memory", _csv_int(nf, ln, "memory_mib", r["memory_mib"]) * 2**20),
                    ("pods", DEFAULT_PODS),
                ),
                labels=(("kubernetes.io/hostname", r["sn"]),),
                gpus=Gpus(gcount, model) if gcount > 0 else None,
            )
        )
    pf, prows = _csv_rows(pods_csv, _OPENB_POD_COLS)
    staged: list[tuple[int, int, Pod]] = []
    for ln, r in prows:
        ct = _csv_int(pf, ln, "creation_time", r.get("creation_time", ""), default=0)
        ng = _csv_int(pf, ln, "num_gpu", r["num_gpu"], default=0)
        gm = _csv_int(pf, ln, "gpu_milli", r["gpu_milli"], default=0)
        gpu = None
        if ng > 0:
            if ng > 1 and gm != GPU_MILLI:
                raise ValueError(f"{pf}:{ln}: column 'gpu_milli': must be 1000 when num_gpu > 1, got {gm}")
            if not 1 <= gm <= GPU_MILLI:
                raise ValueError(f"{pf}:{ln}: column 'gpu_milli': must be in 1..1000, got {gm}")
            spec = r.get("gpu_spec", "")
            models = () if spec in ("", "nan") else tuple(s for s in spec.split("|") if s)
            gpu = GpuRequest(ng, gm, models)
        pod = Pod(
            name=r["name"],
            namespace="default",
            priority=QOS_PRIORITY.get(r.get("qos", ""), 0),
            requests=(
                ("cpu", _csv_int(pf, ln, "cpu_milli", r["cpu_milli"])),
                ("memory", _csv_int(pf, ln, "memory_mib", r["memory_mib"]) * 2**20),
            ),
            gpu=gpu,
        )
        staged.append((ct, len(staged), pod))
    staged.sort(key=lambda x: (x[0], x[1]))
    pods = [p for _, _, p in staged]
    if limit_pods is not None:
        pods = pods[:limit_pods]
    doc = Instance(tuple(nodes), tuple(pods), (), Options(), name)
    # run the cross-checks (duplicate names etc.) of from_dict
    return Instance.from_dict(doc.to_dict())


def read_kubectl(doc: Mapping[str, Any], *, name: str = "") -> Instance:
    """``kubectl get nodes,pods -A -o json`` (a v1 List) -> instance.

    Nodes: ``status.allocatable`` (cpu in millicores rounded up as Quantity.MilliValue does, others
    rounded up to integers), labels, taints, ``spec.unschedulable``. Pods: Succeeded/Failed ones are
    ignored; a pod without ``spec.nodeName`` in phase Pending is pending, one with a node in phase
    Running/Pending is running. Requests = max(sum over containers, max over initContainers) plus
    ``spec.overhead`` (restartable sidecar init containers are treated as plain init containers).
    Affinity: required terms only; ``namespaceSelector`` and ``matchFields`` are rejected as
    unsupported. Running pods are not evictable when their ``priority`` >= 2000000000 (system pods).
    Other fields of the objects are ignored. Errors name ``items[i]`` and the field path.
    """
    from kubernetes.utils.quantity import parse_quantity

    chk = Checker()
    items = chk.sequence(doc.get("items") if isinstance(doc, Mapping) else None, "items") or []
    nodes: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    running: list[dict[str, Any]] = []
    origin: dict[str, list[int]] = {"nodes": [], "pods": [], "running": []}

    def qty(v: Any, path: str, milli: bool) -> int | None:
        try:
            q = parse_quantity(v)
            return math.ceil(q * 1000) if milli else math.ceil(q)
        except (ValueError, TypeError, ArithmeticError):  # ArithmeticError: Infinity, NaN (JSON allows them)
            chk.add(path, f"invalid quantity {v!r}")
            return None

    def resources(m: Any, path: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for k, v in (chk.mapping(m, path) or {}).items() if m is not None else []:
            q = qty(v, join(path, str(k)), k == "cpu")
            if q is not None:
                out[str(k)] = q
        return out

    def selector(s: Any, path: str) -> dict[str, Any]:
        if s is None:
            return {
                "match_labels": {},
                "match_expressions": [{"key": "__none__", "operator": "In", "values": ["__none__"]}],
            }
        m = chk.mapping(s, path) or {}
        return {
            "match_labels": dict(m.get("matchLabels") or {}),
            "match_expressions": [
                {"key": e.get("key"), "operator": e.get("operator"), "values": list(e.get("values") or [])}
                for e in (m.get("matchExpressions") or [])
                if isinstance(e, Mapping)
            ],
        }

    def pod_terms(lst: Any, path: str) -> list[dict[str, Any]]:
        out = []
        for j, t in enumerate(chk.sequence(lst, path) or [] if lst is not None else []):
            p = join(path, j)
            tm = chk.mapping(t, p)
            if tm is None:
                continue
            if tm.get("namespaceSelector"):
                chk.add(join(p, "namespaceSelector"), "is not supported")
            out.append(
                {
                    "label_selector": selector(tm.get("labelSelector"), join(p, "labelSelector")),
                    "topology_key": tm.get("topologyKey"),
                    "namespaces": list(tm.get("namespaces") or []),
                }
            )
        return out

    def item(i: int, it: Any) -> None:
        base = join("items", i)
        m = chk.mapping(it, base)
        if m is None:
            return
        kind = m.get("kind")
        meta = m.get("metadata") or {}
        spec = m.get("spec") or {}
        status = m.get("status") or {}
        if kind == "Node":
            nd: dict[str, Any] = {
                "name": meta.get("name"),
                "allocatable": resources(status.get("allocatable") or {}, join(base, "status.allocatable")),
                "labels": dict(meta.get("labels") or {}),
                "taints": [
                    {"key": t.get("key"), "value": t.get("value", ""), "effect": t.get("effect")}
                    for t in (spec.get("taints") or [])
                    if isinstance(t, Mapping)
                ],
                "unschedulable": bool(spec.get("unschedulable", False)),
            }
            nodes.append(nd)
            origin["nodes"].append(i)
        elif kind == "Pod":
            phase = status.get("phase")
            if phase in ("Succeeded", "Failed"):
                return
            sp = join(base, "spec")
            total: dict[str, int] = {}
            for j, c in enumerate(spec.get("containers") or []):
                req = resources(
                    ((c or {}).get("resources") or {}).get("requests"),
                    join(sp, f"containers[{j}].resources.requests"),
                )
                for k, v in req.items():
                    total[k] = total.get(k, 0) + v
            for j, c in enumerate(spec.get("initContainers") or []):
                req = resources(
                    ((c or {}).get("resources") or {}).get("requests"),
                    join(sp, f"initContainers[{j}].resources.requests"),
                )
                for k, v in req.items():
                    total[k] = max(total.get(k, 0), v)
            for k, v in resources(spec.get("overhead"), join(sp, "overhead")).items():
                total[k] = total.get(k, 0) + v
            total.pop("pods", None)
            ns = meta.get("namespace") or "default"
            pd: dict[str, Any] = {
                "name": f"{ns}/{meta.get('name')}",
                "namespace": ns,
                "labels": dict(meta.get("labels") or {}),
                "priority": spec.get("priority") or 0,
                "requests": total,
                "node_selector": dict(spec.get("nodeSelector") or {}),
            }
            tols = []
            for t in spec.get("tolerations") or []:
                if isinstance(t, Mapping):
                    tol = {"key": t.get("key") or "", "operator": t.get("operator") or "Equal"}
                    tol["value"] = t.get("value") or ""
                    tol["effect"] = t.get("effect") or ""
                    tols.append(tol)
            if tols:
                pd["tolerations"] = tols
            aff = spec.get("affinity") or {}
            na = ((aff.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
            terms = []
            for j, t in enumerate(na.get("nodeSelectorTerms") or []):
                p = join(
                    sp,
                    f"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{j}]",
                )
                if (t or {}).get("matchFields"):
                    chk.add(join(p, "matchFields"), "is not supported")
                terms.append(
                    {
                        "match_expressions": [
                            {
                                "key": e.get("key"),
                                "operator": e.get("operator"),
                                "values": list(e.get("values") or []),
                            }
                            for e in ((t or {}).get("matchExpressions") or [])
                        ]
                    }
                )
            if terms:
                pd["node_affinity"] = terms
            for kk, nk in (("podAffinity", "pod_affinity"), ("podAntiAffinity", "pod_anti_affinity")):
                rq = "requiredDuringSchedulingIgnoredDuringExecution"
                rterms = (aff.get(kk) or {}).get(rq)
                tl = pod_terms(
                    rterms, join(sp, f"affinity.{kk}.requiredDuringSchedulingIgnoredDuringExecution")
                )
                if tl:
                    pd[nk] = tl
            spreads = []
            for j, c in enumerate(spec.get("topologySpreadConstraints") or []):
                p = join(sp, f"topologySpreadConstraints[{j}]")
                if not isinstance(c, Mapping):
                    chk.add(p, "must be an object")
                    continue
                if c.get("minDomains") is not None:
                    chk.add(join(p, "minDomains"), "is not supported")
                spreads.append(
                    {
                        "max_skew": c.get("maxSkew"),
                        "topology_key": c.get("topologyKey"),
                        "when_unsatisfiable": c.get("whenUnsatisfiable", "DoNotSchedule"),
                        "label_selector": selector(c.get("labelSelector"), join(p, "labelSelector")),
                    }
                )
            if spreads:
                pd["topology_spread"] = spreads
            node_name = spec.get("nodeName")
            if node_name:
                pd["node"] = node_name
                pd["evictable"] = int(pd["priority"]) < 2_000_000_000
                running.append(pd)
                origin["running"].append(i)
            elif phase == "Pending":
                pods.append(pd)
                origin["pods"].append(i)
        elif kind is None:
            chk.add(join(base, "kind"), "is required")

    for i, it in enumerate(items):
        n_nodes, n_pods, n_running = len(nodes), len(pods), len(running)
        try:
            item(i, it)
        except (AttributeError, TypeError, ValueError, ArithmeticError) as exc:
            # a field of the wrong JSON type deep inside the object (a list where Kubernetes has a
            # map, a number where it has a string...): name the object rather than fail with a traceback
            del nodes[n_nodes:], pods[n_pods:], running[n_running:]
            for key, kept in (("nodes", n_nodes), ("pods", n_pods), ("running", n_running)):
                del origin[key][kept:]
            chk.add(join("items", i), f"is not a valid Kubernetes object: {type(exc).__name__}: {exc}")
    chk.raise_if_any()
    native = {"problem": PROBLEM, "name": name, "nodes": nodes, "pods": pods, "running": running}
    try:
        return Instance.from_dict(native)
    except InstanceError as exc:
        raise InstanceError([_kubectl_path(v, origin) for v in exc.violations]) from None


def _kubectl_path(v: FieldViolation, origin: Mapping[str, list[int]]) -> FieldViolation:
    """Map a converted document's path (``pods[2].tolerations[0].operator``) back to its List item."""
    import re

    m = re.match(r"(nodes|pods|running)\[(\d+)\](.*)", v.path)
    if m and int(m.group(2)) < len(origin[m.group(1)]):
        item = origin[m.group(1)][int(m.group(2))]
        return FieldViolation(
            f"items[{item}]", f"(as native {m.group(1)}[{m.group(2)}]{m.group(3)}) {v.message}"
        )
    return v


def pods_by_name(instance: Instance) -> dict[str, Pod]:
    return {p.name: p for p in (*instance.pods, *instance.running)}


def iter_all_pods(instance: Instance) -> Iterable[Pod]:
    yield from instance.pods
    yield from instance.running
