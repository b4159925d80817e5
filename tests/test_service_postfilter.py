"""The PostFilter RPC's mapping (service/postfilter.py): Kubernetes objects in, field-named errors, and the
plugin's view of a verified plan. The RPC end to end is in test_service_grpc.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models import pod_packing
from models.common import InstanceError
from service import postfilter, wire
from service._proto.allot.v1 import allot_pb2 as pb
from solvers import Budget, solve
from solvers.pod_packing.bench import k8s_node, k8s_pod


def cluster() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two 4-cpu nodes, each 3 cpu full: a low-priority pod on n0, a high-priority one on n1; a pending
    pod of priority 100 needs 2 cpu, so it fits only by evicting the low-priority pod on n0."""
    nodes = [k8s_node(f"n{i}", cpu="4", memory="16Gi") for i in range(2)]
    low = k8s_pod("default/r-low", "3", "1Gi", node="n0", priority=10)
    high = k8s_pod("default/r-high", "3", "1Gi", node="n1", priority=1000)
    pending = k8s_pod("default/p", "2", "1Gi", priority=100)
    return nodes, [low, high, pending]


def request(nodes: list[Any], pods: list[Any], **kw: Any) -> pb.PostFilterRequest:
    as_json = [json.dumps(n) for n in nodes], [json.dumps(p) for p in pods]
    return pb.PostFilterRequest(nodes=as_json[0], pods=as_json[1], **kw)


def test_objects_become_the_instance_kubectl_would_give() -> None:
    """Typed client-go objects (empty kind) read exactly as `kubectl get -o json` output, with the
    request's packing options applied."""
    nodes, pods = cluster()
    req = request(nodes, pods, options=pb.PackingOptions(allow_evictions=True, packing="fewest_nodes"))
    inst = postfilter.instance_from_request(req)
    items = [{**n, "kind": "Node"} for n in nodes] + [{**p, "kind": "Pod"} for p in pods]
    ref = pod_packing.read_kubectl({"kind": "List", "items": items})
    assert inst.nodes == ref.nodes and inst.pods == ref.pods and inst.running == ref.running
    assert inst.options.allow_evictions and inst.options.packing == "fewest_nodes"
    assert [p.name for p in inst.pods] == ["default/p"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda n, p: n.__setitem__(0, "{not json"), "nodes[0]"),
        (lambda n, p: p.__setitem__(1, "[1, 2]"), "pods[1]"),
        (lambda n, p: n.__setitem__(1, json.dumps({**json.loads(n[1]), "kind": "Pod"})), "nodes[1].kind"),
        (lambda n, p: p.__setitem__(2, json.dumps(_with_cpu(json.loads(p[2]), "lots"))), "pods[2]"),
    ],
    ids=["bad-json", "not-object", "wrong-kind", "bad-quantity"],
)
def test_bad_objects_are_named_by_request_field(mutate: Any, field: str) -> None:
    nodes, pods = cluster()
    n, p = [json.dumps(x) for x in nodes], [json.dumps(x) for x in pods]
    mutate(n, p)
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(pb.PostFilterRequest(nodes=n, pods=p))
    assert any(v.path.startswith(field) for v in info.value.violations), info.value.violations


def _with_cpu(pod: dict[str, Any], cpu: str) -> dict[str, Any]:
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return pod


def test_bad_options_and_unknown_pod_are_named() -> None:
    nodes, pods = cluster()
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request(nodes, pods, options=pb.PackingOptions(packing="tight")))
    assert [v.path for v in info.value.violations] == ["options.packing"]
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request(nodes, pods, pod="default/nope"))
    assert [v.path for v in info.value.violations] == ["pod"]
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request([], pods))
    assert "nodes" in [v.path for v in info.value.violations]
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request(nodes, pods[:2]))
    assert [v.path for v in info.value.violations] == ["pods"]


def test_response_nominates_and_names_victims_on_that_node() -> None:
    """With evictions allowed the plan places the pending pod on n0 by evicting the low-priority pod; the
    response nominates n0 and lists that victim (and only pods on n0 as victims)."""
    nodes, pods = cluster()
    inst = postfilter.instance_from_request(
        request(nodes, pods, pod="default/p", options=pb.PackingOptions(allow_evictions=True))
    )
    res = solve(inst, "auto", Budget(5))
    assert res.solution is not None
    out = postfilter.response(inst, "default/p", wire.result_to_pb(res), res.solution)
    assert out.nominated_node == "n0"
    assert [(v.pod, v.node) for v in out.victims] == [("default/r-low", "n0")]
    assert dict(out.nominations) == {"default/p": "n0"}
    assert pod_packing.evaluate(inst, res.solution).feasible


def test_without_evictions_the_pod_stays_pending() -> None:
    nodes, pods = cluster()
    inst = postfilter.instance_from_request(request(nodes, pods, pod="default/p"))
    res = solve(inst, "auto", Budget(5))
    out = postfilter.response(inst, "default/p", wire.result_to_pb(res), res.solution)
    assert out.nominated_node == "" and not out.victims and not out.evictions
    assert out.result.status == pb.OPTIMAL  # nothing fits without evictions, and the bound proves it


def test_objects_with_fields_of_the_wrong_type_are_named_not_crashed() -> None:
    """A Kubernetes object whose fields have the wrong JSON types (labels as a list, containers as a
    string) is an InstanceError naming that object, not a TypeError (found by tests/test_fuzz_grpc.py)."""
    nodes, pods = cluster()
    nodes[1]["metadata"]["labels"] = [["zone", "a"], 3]
    pods[2]["spec"]["containers"] = "c"
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request(nodes, pods))
    assert {v.path for v in info.value.violations} >= {"nodes[1]", "pods[2]"}


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e400, "1e400Gi"])
def test_non_finite_quantities_are_named(value: Any) -> None:
    """JSON lets a client send Infinity/NaN where Kubernetes has a quantity; found by the 100k fuzz run
    (an OverflowError escaped as UNKNOWN): now the field is named."""
    nodes, pods = cluster()
    nodes[0]["status"]["allocatable"]["memory"] = value
    with pytest.raises(InstanceError) as info:
        postfilter.instance_from_request(request(nodes, pods))
    assert any(v.path.startswith("nodes[0]") for v in info.value.violations), info.value.violations
