"""Mapping between the gRPC messages of ``allot.v1`` and the native models. No algorithm lives here.

Instances: a typed instance message mirrors the family's native JSON, so one generic walk turns it into
the native document (``message_to_native``) and the family's ``Instance.from_dict`` validates it with the
same field paths a JSON client sees. The walk

* keeps only fields that are set (proto3 scalars at their default count as absent, like a missing key);
* turns ``IntRow`` messages into plain lists (matrix rows) and map keys into strings;
* keeps 64-bit integers as Python ints (``json_format.MessageToDict`` would turn them into strings).

Two family-specific touches: a ``CostModel`` with only ``preset`` set becomes the preset name, and a pod
packing solution's ``unplaced`` list becomes ``null`` placements.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

import models
from models.common import FieldViolation, InstanceError
from service._proto.allot.v1 import allot_pb2 as pb
from solvers.result import Limit, Result, Status, gap

_ROW_TYPES = {"allot.v1.IntRow"}
_INT_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
}

STATUS_TO_PB = {
    Status.OPTIMAL: pb.OPTIMAL,
    Status.FEASIBLE: pb.FEASIBLE,
    Status.INFEASIBLE: pb.INFEASIBLE,
    Status.NO_SOLUTION: pb.NO_SOLUTION,
    Status.INVALID: pb.INVALID,
    Status.ERROR: pb.ERROR,
}
LIMIT_TO_PB = {
    Limit.NONE: pb.LIMIT_NONE,
    Limit.TIME: pb.LIMIT_TIME,
    Limit.CANCELLED: pb.LIMIT_CANCELLED,
    Limit.GAP_TARGET: pb.LIMIT_GAP_TARGET,
}


def message_to_native(msg: Message) -> Any:
    if msg.DESCRIPTOR.full_name in _ROW_TYPES:
        return [int(v) for v in msg.values]
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        out[fd.name] = _field_to_native(fd, value)
    return out


def _field_to_native(fd: FieldDescriptor, value: Any) -> Any:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        vfd = fd.message_type.fields_by_name["value"]
        return {str(k): _scalar_or_message(vfd, v) for k, v in value.items()}
    if fd.is_repeated:
        return [_scalar_or_message(fd, v) for v in value]
    return _scalar_or_message(fd, value)


def _scalar_or_message(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return message_to_native(value)
    return value


def native_to_message(doc: Any, msg: Message, path: str = "") -> Message:
    """Fill ``msg`` from a native document (the inverse of :func:`message_to_native`), for clients.

    Raises ValueError naming the field when the document does not fit the message.
    """
    if msg.DESCRIPTOR.full_name in _ROW_TYPES:
        msg.values.extend(int(v) for v in doc)
        return msg
    if not isinstance(doc, dict):
        raise ValueError(f"{path or 'document'}: expected an object")
    for key, value in doc.items():
        if value is None:
            continue
        fd = msg.DESCRIPTOR.fields_by_name.get(key)
        here = f"{path}.{key}" if path else key
        if fd is None:
            raise ValueError(f"{here}: no such field in {msg.DESCRIPTOR.full_name}")
        target = getattr(msg, key)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            kfd = fd.message_type.fields_by_name["key"]
            vfd = fd.message_type.fields_by_name["value"]
            for k, v in value.items():
                kk = int(k) if kfd.type in _INT_TYPES else k
                if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                    native_to_message(v, target[kk], f"{here}[{k}]")
                else:
                    target[kk] = v
        elif fd.is_repeated:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                for i, item in enumerate(value):
                    native_to_message(item, target.add(), f"{here}[{i}]")
            else:
                target.extend(value)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.message_type.full_name == "allot.v1.CostModel" and isinstance(value, str):
                target.preset = value
            else:
                native_to_message(value, target, here)
        else:
            setattr(msg, key, value)
    return msg


def instance_to_pb(doc: dict[str, Any]) -> pb.Instance:
    """A typed ``Instance`` message from a native document (its ``problem`` picks the message)."""
    out = pb.Instance()
    body = {k: v for k, v in doc.items() if k != "problem"}
    native_to_message(body, getattr(out, doc["problem"]))
    return out


def instance_to_native(inst: pb.Instance) -> dict[str, Any]:
    """The native JSON document of an ``Instance`` message (raises InstanceError when it is empty/bad)."""
    kind = inst.WhichOneof("kind")
    if kind is None:
        raise InstanceError(
            [FieldViolation("instance", "is required: set one of the family messages or json")]
        )
    if kind == "json":
        try:
            doc = json.loads(inst.json)
        except json.JSONDecodeError as exc:
            raise InstanceError([FieldViolation("instance.json", f"is not valid JSON: {exc}")]) from None
        if not isinstance(doc, dict):
            raise InstanceError([FieldViolation("instance.json", "must be a JSON object")])
        return doc
    doc = message_to_native(getattr(inst, kind))
    if kind == "seq_parallel" and isinstance(doc.get("cost_model"), dict):
        cm = doc["cost_model"]
        if set(cm) == {"preset"}:
            doc["cost_model"] = cm["preset"]
    return {"problem": kind, **doc}


def instance_from_pb(inst: pb.Instance) -> Any:
    """A validated model instance, or InstanceError with every field violation."""
    return models.instance_from_dict(instance_to_native(inst))


def solution_to_pb(problem: str, solution: Any) -> pb.Solution:
    out = pb.Solution()
    if solution is None:
        return out
    doc = solution.to_dict()
    if problem == "smtt":
        out.smtt.sequence.extend(int(j) for j in doc["sequence"])
    elif problem == "task_allocation":
        out.task_allocation.assignment.extend(int(a) for a in doc["assignment"])
    elif problem == "pod_packing":
        pp = out.pod_packing
        for pod, node in doc.get("placements", {}).items():
            if node is None:
                pp.unplaced.append(pod)
            else:
                pp.placements[pod] = node
        pp.evictions.extend(doc.get("evictions", []))
        pp.moves.update(doc.get("moves", {}) or {})
        for pod, idx in (doc.get("gpu_indices") or {}).items():
            pp.gpu_indices[pod].values.extend(int(i) for i in idx)
    elif problem == "seq_parallel":
        for mb in doc["microbatches"]:
            m = out.seq_parallel.microbatches.add()
            for g in mb["groups"]:
                m.groups.add(gpus=[int(x) for x in g["gpus"]], sequences=[int(s) for s in g["sequences"]])
    else:  # pragma: no cover - a new family without a typed message
        out.json = json.dumps(doc)
    return out


def solution_from_pb(problem: str, sol: pb.Solution) -> Any:
    """The family's Solution from a message (InstanceError naming the field when it does not fit)."""
    kind = sol.WhichOneof("kind")
    model = models.family(problem)
    if kind is None:
        raise InstanceError([FieldViolation("solution", "is empty")])
    if kind == "json":
        try:
            doc = json.loads(sol.json)
        except json.JSONDecodeError as exc:
            raise InstanceError([FieldViolation("solution.json", f"is not valid JSON: {exc}")]) from None
    elif kind != problem:
        raise InstanceError(
            [FieldViolation(f"solution.{kind}", f"does not match the instance's problem {problem}")]
        )
    else:
        doc = message_to_native(getattr(sol, kind))
        if kind == "pod_packing":
            placements: dict[str, Any] = dict(doc.get("placements", {}))
            for pod in doc.pop("unplaced", []):
                placements[pod] = None
            doc["placements"] = placements
    return model.Solution.from_dict(doc)


def _opt(x: float | None) -> float | None:
    return None if x is None else float(x)


def result_to_pb(res: Result) -> pb.SolveResponse:
    out = pb.SolveResponse(
        problem=res.problem,
        instance_name=res.instance,
        status=STATUS_TO_PB[res.status],
        limit=LIMIT_TO_PB[res.limit],
        solver=res.solver,
        bound_source=res.bound_source,
        wall_time_s=res.wall_time_s,
        message=res.message,
    )
    if res.objective is not None:
        out.objective = float(res.objective)
    if res.bound is not None and not math.isinf(res.bound):
        out.bound = float(res.bound)
    if res.gap is not None:
        out.gap = float(res.gap)
    if res.solution is not None:
        out.solution.CopyFrom(solution_to_pb(res.problem, res.solution))
    for k, v in res.terms.items():
        out.terms[k] = float(v)
    for k, v in res.stats.items():
        if k != "traceback":
            out.stats[k] = str(v)
    return out


def progress_to_pb(problem: str, p: Any) -> pb.Progress:
    """A worker's ProgressMsg (its solution already verified in the worker) as a Progress message."""
    out = pb.Progress(elapsed_s=p.elapsed_s, solver=p.solver)
    if p.objective is not None:
        out.objective = float(p.objective)
    if p.bound is not None and math.isfinite(p.bound):
        out.bound = float(p.bound)
    g = gap(p.objective, p.bound)
    if g is not None:
        out.gap = g
    if p.solution is not None:
        out.solution.CopyFrom(solution_to_pb(problem, p.solution))
    return out
