"""The ``PostFilter`` RPC's mapping: Kubernetes objects in, a pod-packing instance; a verified plan out.

A kube-scheduler PostFilter plugin runs when a pod fits no node. It holds the cluster state as typed
client-go objects, so the request carries them as JSON (``json.Marshal`` of a ``v1.Node`` / ``v1.Pod``,
or what the API server returns), one string per object, and the plugin does not have to learn
Allotment's model. Objects marshalled from typed structs have an empty ``kind``: it is taken from the
list the object came in; a ``kind`` that contradicts the list is an error.

The objects are read by :func:`models.pod_packing.read_kubectl` exactly as ``allot solve`` reads a
``kubectl get nodes,pods -A -o json`` document (same Kubernetes semantics, same quantity parsing), and
every violation names the request field: ``nodes[3]``, ``pods[12]``, ``options.packing``, ``pod``.

The answer is the whole plan (``result``, verified by the pod-packing checker like every Solve answer)
plus what the plugin acts on: the node for the pod the call is for (its ``nominatedNodeName``), the
victims on that node, every pending pod's node, and every eviction of the plan.
"""

from __future__ import annotations

import json
from typing import Any

from models import pod_packing
from models.common import FieldViolation, InstanceError
from service import wire
from service._proto.allot.v1 import allot_pb2 as pb

#: A PostFilter call sits on the scheduling path: answer within a second unless the client asks more.
DEFAULT_TIME_LIMIT_S = 1.0


def _objects(raw: Any, field: str, kind: str, violations: list[FieldViolation]) -> list[dict[str, Any]]:
    out = []
    for i, text in enumerate(raw):
        path = f"{field}[{i}]"
        try:
            obj = json.loads(text)
        except ValueError as exc:
            violations.append(FieldViolation(path, f"is not valid JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            violations.append(FieldViolation(path, f"must be a JSON object (a v1.{kind})"))
            continue
        if obj.get("kind") not in (None, "", kind):
            message = f"must be {kind!r} (or empty), got {obj['kind']!r}"
            violations.append(FieldViolation(f"{path}.kind", message))
            continue
        out.append({**obj, "kind": kind})
    return out


def _request_path(v: FieldViolation, num_nodes: int) -> FieldViolation:
    """``items[k]...`` of the assembled List -> ``nodes[i]...`` / ``pods[j]...`` of the request."""
    if v.path.startswith("items["):
        k, _, rest = v.path[len("items[") :].partition("]")
        if k.isdigit():
            i = int(k)
            name = f"nodes[{i}]" if i < num_nodes else f"pods[{i - num_nodes}]"
            return FieldViolation(name + rest, v.message)
    if v.path.startswith("options"):
        return v
    return FieldViolation(f"pods.{v.path}" if v.path else "pods", v.message)


def instance_from_request(request: pb.PostFilterRequest) -> pod_packing.Instance:
    """The pod-packing instance the request describes; InstanceError naming request fields otherwise."""
    violations: list[FieldViolation] = []
    nodes = _objects(request.nodes, "nodes", "Node", violations)
    pods = _objects(request.pods, "pods", "Pod", violations)
    if not request.nodes:
        violations.append(FieldViolation("nodes", "at least one v1.Node is required"))
    if violations:
        raise InstanceError(violations)
    try:
        inst = pod_packing.read_kubectl({"kind": "List", "items": nodes + pods}, name=request.request_id)
        doc = inst.to_dict()
        opts = request.options
        doc["options"] = {
            "allow_evictions": opts.allow_evictions,
            "max_moves": opts.max_moves,
            "packing": opts.packing or "none",
        }
        if opts.HasField("scoring"):
            doc["options"]["scoring"] = wire.message_to_native(opts.scoring)
        inst = pod_packing.Instance.from_dict(doc)
    except InstanceError as exc:
        raise InstanceError([_request_path(v, len(nodes)) for v in exc.violations]) from None
    if request.pod and request.pod not in {p.name for p in inst.pods}:
        pending = ", ".join(p.name for p in inst.pods[:5]) or "none"
        message = f"{request.pod!r} is not a pending pod of the request (pending: {pending})"
        raise InstanceError([FieldViolation("pod", message)])
    if not inst.pods:
        message = "no pending pod (phase Pending, no spec.nodeName) to place"
        raise InstanceError([FieldViolation("pods", message)])
    return inst


def response(
    instance: pod_packing.Instance, pod: str, result: pb.SolveResponse, solution: Any
) -> pb.PostFilterResponse:
    """What the plugin acts on, derived from the verified plan (``solution`` is None without one)."""
    out = pb.PostFilterResponse(result=result)
    if solution is None:
        return out
    node_of = {p.name: p.node for p in instance.running}
    for name, node in solution.placements:
        if node is not None:
            out.nominations[name] = node
    for name in solution.evictions:
        out.evictions.add(pod=name, node=node_of.get(name) or "")
    out.nominated_node = out.nominations.get(pod, "") if pod else ""
    if out.nominated_node:
        out.victims.extend(v for v in out.evictions if v.node == out.nominated_node)
    return out
