"""Pod packing readers: Alibaba openb CSVs and ``kubectl get nodes,pods -A -o json`` Lists."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from models.common import InstanceError
from models.pod_packing import Instance, Solution, evaluate, read_kubectl, read_openb

GIB = 2**30


def test_openb_first_50_pods_on_gpu_nodes(shared_data: Path) -> None:
    """The first 50 pods by creation time map cpu/memory/GPU share/models/QoS as documented."""
    d = shared_data / "kubernetes"
    i = read_openb(
        str(d / "openb_node_list_gpu_node.csv"), str(d / "openb_pod_list_gpuspec33.csv"), limit_pods=50
    )
    assert len(i.nodes) == 1213 and len(i.pods) == 50
    n0 = i.nodes[0]
    assert n0.name == "openb-node-0000"
    assert n0.capacity == {"cpu": 64000, "memory": 262144 * 2**20, "pods": 110}
    assert n0.gpus is not None and (n0.gpus.count, n0.gpus.model) == (2, "P100")
    p0, p1 = i.pods[0], i.pods[1]
    assert p0.name == "openb-pod-0000" and p0.request_map["cpu"] == 12000
    assert p0.request_map["memory"] == 16384 * 2**20
    assert p0.gpu is not None and (p0.gpu.count, p0.gpu.milli) == (1, 1000) and p0.priority == 3  # LS
    assert p1.gpu is not None and p1.gpu.milli == 460
    assert any(p.gpu is not None and p.gpu.models for p in i.pods), "gpuspec33 has model constraints"
    assert all(p.gpu is None or p.gpu.count > 1 or 1 <= p.gpu.milli <= 1000 for p in i.pods)
    assert Instance.from_dict(i.to_dict()) == i
    # leaving every pod pending is feasible and costs exactly the encoded sum of level weights
    ev = evaluate(i, Solution(tuple((p.name, None) for p in i.pods)))
    assert ev.feasible and sum(v for k, v in ev.terms.items() if k.startswith("unplaced")) == 50


def test_openb_pods_in_creation_order() -> None:
    """Pods are sorted by creation_time (stable), with models split on '|'."""
    nodes = "sn,cpu_milli,memory_mib,gpu,model\nn1,8000,1024,0,\n"
    pods = (
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
        "late,1000,10,0,0,,BE,Running,50,60,50\n"
        "early,1000,10,2,1000,V100M16|V100M32,LS,Pending,10,,\n"
    )
    i = read_openb(nodes, pods)
    assert [p.name for p in i.pods] == ["early", "late"]
    assert i.pods[0].gpu is not None and i.pods[0].gpu.models == ("V100M16", "V100M32")
    assert i.nodes[0].gpus is None


def test_openb_errors_name_line_and_column() -> None:
    """A malformed CSV value is reported with its line number and column name."""
    nodes = "sn,cpu_milli,memory_mib,gpu,model\nn1,8000,1024,0,\nn2,lots,1024,0,\n"
    with pytest.raises(ValueError, match=r":3: column 'cpu_milli'"):
        read_openb(
            nodes,
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n",
        )
    pods = (
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
        "p,1000,10,2,500,,LS,Pending,1,,\n"
    )
    with pytest.raises(ValueError, match=r":2: column 'gpu_milli'"):
        read_openb("sn,cpu_milli,memory_mib,gpu,model\nn1,8000,1024,0,\n", pods)
    with pytest.raises(ValueError, match=r":1: header lacks column"):
        read_openb("name,cpu\n", pods)


KUBECTL: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "kind": "Node",
            "metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a", "zone": "a"}},
            "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "3900m", "memory": "15Gi", "pods": "110", "nvidia.com/gpu": "2"}
            },
        },
        {
            "kind": "Node",
            "metadata": {"name": "node-b", "labels": {"kubernetes.io/hostname": "node-b", "zone": "b"}},
            "spec": {"unschedulable": True},
            "status": {"allocatable": {"cpu": "1.5", "memory": "2Gi", "pods": "10"}},
        },
        {
            "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {
                "priority": 100,
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}},
                ],
                "initContainers": [
                    {"name": "init", "resources": {"requests": {"cpu": "1", "memory": "100Mi"}}}
                ],
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
                ],
                "nodeSelector": {"zone": "a"},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "zone", "operator": "In", "values": ["a", "b"]}
                                    ]
                                }
                            ]
                        }
                    },
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "labelSelector": {"matchLabels": {"app": "web"}},
                                "topologyKey": "kubernetes.io/hostname",
                            }
                        ]
                    },
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app": "web"}},
                    }
                ],
            },
            "status": {"phase": "Pending"},
        },
        {
            "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": "shop", "labels": {"app": "db"}},
            "spec": {
                "nodeName": "node-a",
                "containers": [
                    {"name": "db", "resources": {"requests": {"cpu": "2", "nvidia.com/gpu": "1"}}}
                ],
            },
            "status": {"phase": "Running"},
        },
        {
            "kind": "Pod",
            "metadata": {"name": "done", "namespace": "shop"},
            "spec": {"containers": [{"name": "x"}]},
            "status": {"phase": "Succeeded"},
        },
    ],
}


def test_kubectl_list_conversion() -> None:
    """Quantities, init-container max, taints, selectors, affinity, spread and running pods convert."""
    i = read_kubectl(KUBECTL)
    a, b = i.nodes
    assert a.capacity == {"cpu": 3900, "memory": 15 * GIB, "pods": 110, "nvidia.com/gpu": 2}
    assert b.capacity["cpu"] == 1500 and b.unschedulable
    assert a.taints[0].effect == "NoSchedule"
    (web,) = i.pods
    assert web.name == "shop/web-1" and web.namespace == "shop" and web.priority == 100
    # containers sum to 750m / 1.5Gi; the init container's 1 cpu dominates cpu only
    assert web.request_map == {"cpu": 1000, "memory": GIB + 512 * 2**20, "pods": 1}
    assert web.node_selector == (("zone", "a"),) and web.node_affinity[0][0].values == ("a", "b")
    assert web.pod_anti_affinity[0].topology_key == "kubernetes.io/hostname"
    assert web.hard_spread[0].max_skew == 1
    (db,) = i.running
    assert db.node == "node-a" and db.request_map["nvidia.com/gpu"] == 1
    ok = evaluate(i, Solution((("shop/web-1", "node-a"),)))
    assert ok.feasible, ok.violations
    assert not evaluate(i, Solution((("shop/web-1", "node-b"),))).feasible


def test_kubectl_errors_carry_item_paths() -> None:
    """A bad quantity and an unsupported field are both reported with items[i] paths."""
    doc = copy.deepcopy(KUBECTL)
    doc["items"][2]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "abc"
    doc["items"][2]["spec"]["topologySpreadConstraints"][0]["minDomains"] = 2
    with pytest.raises(InstanceError) as exc:
        read_kubectl(doc)
    paths = {v.path for v in exc.value.violations}
    assert "items[2].spec.containers[0].resources.requests.cpu" in paths
    assert "items[2].spec.topologySpreadConstraints[0].minDomains" in paths
    assert "invalid quantity 'abc'" in str(exc.value)


def test_kubectl_converted_field_errors_point_to_items() -> None:
    """A value valid JSON but invalid Kubernetes (bad operator) is reported on its List item."""
    doc = copy.deepcopy(KUBECTL)
    doc["items"][2]["spec"]["tolerations"][0]["operator"] = "Maybe"
    with pytest.raises(InstanceError) as exc:
        read_kubectl(doc)
    assert [v.path for v in exc.value.violations] == ["items[2]"]
    assert "tolerations[0].operator" in str(exc.value)


def test_openb_reduced_columns_like_multigpu50() -> None:
    """A pod list with only the five required columns reads with priority 0 and any GPU model."""
    pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,10,4,1000\np2,500,10,0,0\n"
    i = read_openb("sn,cpu_milli,memory_mib,gpu,model\nn1,8000,1024,8,V100M32\n", pods)
    assert [p.name for p in i.pods] == ["p1", "p2"]
    assert i.pods[0].gpu is not None and (i.pods[0].gpu.count, i.pods[0].gpu.models) == (4, ())
    assert all(p.priority == 0 for p in i.pods)
    with pytest.raises(ValueError, match=r":4: expected 5 columns, got 4"):
        read_openb("sn,cpu_milli,memory_mib,gpu\nn1,8000,1024,8\n", pods + "p3,1,1,0\n")
