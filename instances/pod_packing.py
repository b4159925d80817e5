"""Seeded generator of pod packing instances exercising every constraint kind.

``generate(seed=0, **params)`` parameters (defaults in brackets):

* ``nodes`` [4]: nodes ``node-<i>`` spread round-robin over ``zones`` [2] zones (label
  ``topology.kubernetes.io/zone`` = ``z<k>``, plus ``kubernetes.io/hostname``); cpu drawn from
  ``cpu_choices`` [(4000, 8000)] millicores, memory 4-16 GiB, pods 110;
* ``gpu_nodes`` [1]: the first nodes carry ``gpus_per_node`` [2] GPUs of model ``A`` or ``B``;
* ``tainted`` [0.25]: probability that a node has the taint ``dedicated=infra:NoSchedule``;
* ``pods`` [8]: pending pods ``default/p<i>`` with cpu 250-3000m, memory 0.5-6 GiB, priority from
  ``priorities`` [(0, 100)], app label from ``apps`` [("web", "db", "batch")];
* ``gpu_share`` [0.25]: probability that a pod asks for a GPU (half of them a share 100-900 milli, half
  one whole GPU, models any or one of A/B);
* ``tolerate`` [0.3]: probability that a pod tolerates the taint;
* ``anti`` [0.2], ``affinity`` [0.1], ``spread`` [0.2]: probabilities that a pod carries a hostname
  anti-affinity to its own app, a zone affinity to its app, a zone topology spread (max_skew 1,
  DoNotSchedule) over its app;
* ``gangs`` [1]: number of gangs of 2 consecutive pods;
* ``running`` [2]: running pods ``default/r<i>`` on random nodes (fitting there, GPU devices chosen
  first fit), evictable with probability 0.7;
* ``allow_evictions`` [False], ``max_moves`` [0], ``packing`` ["none"]: the options.
"""

from __future__ import annotations

import random
from typing import Any

from models.pod_packing import GPU_MILLI, Instance

GIB = 2**30


def generate(seed: int = 0, **params: Any) -> Instance:
    p: dict[str, Any] = {
        "nodes": 4,
        "zones": 2,
        "cpu_choices": (4000, 8000),
        "gpu_nodes": 1,
        "gpus_per_node": 2,
        "tainted": 0.25,
        "pods": 8,
        "priorities": (0, 100),
        "apps": ("web", "db", "batch"),
        "gpu_share": 0.25,
        "tolerate": 0.3,
        "anti": 0.2,
        "affinity": 0.1,
        "spread": 0.2,
        "gangs": 1,
        "running": 2,
        "allow_evictions": False,
        "max_moves": 0,
        "packing": "none",
    }
    unknown = set(params) - set(p)
    if unknown:
        raise TypeError(f"unknown generator parameter(s): {', '.join(sorted(unknown))}")
    p.update(params)
    rng = random.Random(seed)
    nodes: list[dict[str, Any]] = []
    for i in range(p["nodes"]):
        name = f"node-{i}"
        nd: dict[str, Any] = {
            "name": name,
            "allocatable": {
                "cpu": rng.choice(p["cpu_choices"]),
                "memory": rng.randint(4, 16) * GIB,
                "pods": 110,
            },
            "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": f"z{i % p['zones']}"},
            "taints": [],
        }
        if i < p["gpu_nodes"]:
            nd["gpus"] = {"count": p["gpus_per_node"], "model": rng.choice("AB")}
        if rng.random() < p["tainted"]:
            nd["taints"].append({"key": "dedicated", "value": "infra", "effect": "NoSchedule"})
        nodes.append(nd)

    def make_pod(name: str) -> dict[str, Any]:
        app = rng.choice(p["apps"])
        pod: dict[str, Any] = {
            "name": name,
            "namespace": "default",
            "labels": {"app": app},
            "priority": rng.choice(p["priorities"]),
            "requests": {"cpu": rng.randint(1, 12) * 250, "memory": rng.randint(1, 12) * GIB // 2},
        }
        if rng.random() < p["gpu_share"] and p["gpu_nodes"] > 0:
            models = rng.choice([[], ["A"], ["B"]])
            if rng.random() < 0.5:
                pod["gpu"] = {"count": 1, "milli": rng.randint(1, 9) * 100, "models": models}
            else:
                pod["gpu"] = {"count": 1, "milli": GPU_MILLI, "models": models}
        if rng.random() < p["tolerate"]:
            pod["tolerations"] = [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]
        sel = {"match_labels": {"app": app}}
        if rng.random() < p["anti"]:
            pod["pod_anti_affinity"] = [{"label_selector": sel, "topology_key": "kubernetes.io/hostname"}]
        if rng.random() < p["affinity"]:
            pod["pod_affinity"] = [{"label_selector": sel, "topology_key": "topology.kubernetes.io/zone"}]
        if rng.random() < p["spread"]:
            pod["topology_spread"] = [
                {
                    "max_skew": 1,
                    "topology_key": "topology.kubernetes.io/zone",
                    "when_unsatisfiable": "DoNotSchedule",
                    "label_selector": sel,
                }
            ]
        return pod

    pods = [make_pod(f"default/p{i}") for i in range(p["pods"])]
    for g in range(p["gangs"]):
        if 2 * g + 1 < len(pods):
            pods[2 * g]["gang"] = pods[2 * g + 1]["gang"] = f"job-{g}"
    running: list[dict[str, Any]] = []
    load = [[0, 0] for _ in nodes]
    gpu_used = [[0] * (nd.get("gpus", {}).get("count", 0)) for nd in nodes]
    for i in range(p["running"]):
        r = make_pod(f"default/r{i}")
        for key in ("pod_affinity", "topology_spread", "gang"):
            r.pop(key, None)
        ni = rng.randrange(len(nodes))
        alloc = nodes[ni]["allocatable"]
        if (
            load[ni][0] + r["requests"]["cpu"] > alloc["cpu"]
            or load[ni][1] + r["requests"]["memory"] > alloc["memory"]
        ):
            continue
        r["gpu_indices"] = []
        if "gpu" in r:
            g = r["gpu"]
            devs = [d for d, u in enumerate(gpu_used[ni]) if u + g["milli"] <= GPU_MILLI]
            model = nodes[ni].get("gpus", {}).get("model")
            if not devs or (g["models"] and model not in g["models"]):
                continue
            gpu_used[ni][devs[0]] += g["milli"]
            r["gpu_indices"] = [devs[0]]
        load[ni][0] += r["requests"]["cpu"]
        load[ni][1] += r["requests"]["memory"]
        r["node"] = nodes[ni]["name"]
        r["evictable"] = rng.random() < 0.7
        running.append(r)
    doc = {
        "problem": "pod_packing",
        "name": f"gen-{seed}",
        "nodes": nodes,
        "pods": pods,
        "running": running,
        "options": {
            "allow_evictions": p["allow_evictions"],
            "max_moves": p["max_moves"],
            "packing": p["packing"],
        },
    }
    return Instance.from_dict(doc)
