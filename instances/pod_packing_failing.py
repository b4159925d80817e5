"""Failing scenarios: clusters where the kube-scheduler replica leaves at least one pending pod.

This is the benchmark population of issue 4 (after "Priority Matters", arXiv 2511.08373: CP-SAT is
called only when the default scheduler fails). :func:`generate_failing` draws random scenarios with
:func:`draw_scenario` and keeps the first one (seed, seed + 10_000, ...) on which the ``kube`` replica
(LeastAllocated) leaves a pod pending; :func:`failing_set` returns ``count`` of them.

``draw_scenario(seed, **params)`` parameters (defaults in brackets):

* ``nodes`` [(4, 64)]: node count range; each node takes one of three shapes (cpu/memory
  4 cores/16 GiB, 8/32, 16/64), so many nodes are identical (symmetry); ``zones`` [(2, 3)];
  ``tainted`` [0.15]: share of nodes with ``dedicated=batch:NoSchedule``; ``gpu_nodes`` [0.15]: share
  of nodes carrying 4 GPUs of model ``A`` or ``B``;
* ``pods`` [(20, 500)]: pending pods range; the actual count is the cluster's cpu capacity times a
  load factor drawn in ``load`` [(0.85, 1.25)] divided by the mean request, clamped to the range;
* pods come from deployments of 2-12 replicas (identical requests and labels); cpu in 250-4000m,
  memory 0.5-4 GiB per core-ish; ``priorities`` [(2, 4)]: number of priority classes (values
  0, 1000, 10000, 100000); a deployment carries a hostname anti-affinity to itself with probability
  ``anti`` [0.15], a zone topology spread (max_skew 1..2, DoNotSchedule) with ``spread`` [0.1], a zone
  affinity to itself with ``affinity`` [0.05] (only without a spread: zone self-affinity and zone
  spread together leave all but a few replicas unplaceable whatever the scheduler), tolerates the
  taint with ``tolerate`` [0.3], asks for a GPU share (100-1000 milli) with ``gpu_share`` [0.1];
  ``gangs`` [0.05]: share of deployments that are gangs (all replicas or none);
* ``running`` [(0.1, 0.4)]: fraction of the cpu capacity already used by running pods (not evictable,
  placed first fit), the background the batch is placed onto.

Options are the defaults (no evictions, no moves, packing ``none``): a scenario is *improved* when a
solver places more pods at some priority level with no fewer above it than the replica.
"""

from __future__ import annotations

import random
from typing import Any

from models.pod_packing import GPU_MILLI, Instance

GIB = 2**30
SHAPES = ((4000, 16 * GIB), (8000, 32 * GIB), (16000, 64 * GIB))
PRIORITY_VALUES = (0, 1000, 10000, 100000)

DEFAULTS: dict[str, Any] = {
    "nodes": (4, 64),
    "zones": (2, 3),
    "tainted": 0.15,
    "gpu_nodes": 0.15,
    "pods": (20, 500),
    "load": (0.85, 1.25),
    "priorities": (2, 4),
    "anti": 0.15,
    "spread": 0.1,
    "affinity": 0.05,
    "tolerate": 0.3,
    "gpu_share": 0.1,
    "gangs": 0.05,
    "running": (0.1, 0.4),
}


def draw_scenario(seed: int = 0, **params: Any) -> Instance:
    """One random scenario (failing or not); see the module doc for the parameters."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown generator parameter(s): {', '.join(sorted(unknown))}")
    p = {**DEFAULTS, **params}
    rng = random.Random(seed)
    n_nodes = rng.randint(*p["nodes"])
    zones = rng.randint(*p["zones"])
    shape_weights = [rng.random() + 0.2 for _ in SHAPES]
    nodes: list[dict[str, Any]] = []
    for i in range(n_nodes):
        cpu, mem = rng.choices(SHAPES, weights=shape_weights)[0]
        name = f"node-{i}"
        nd: dict[str, Any] = {
            "name": name,
            "allocatable": {"cpu": cpu, "memory": mem, "pods": 110},
            "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": f"z{i % zones}"},
            "taints": [],
        }
        if rng.random() < p["tainted"]:
            nd["taints"].append({"key": "dedicated", "value": "batch", "effect": "NoSchedule"})
        if rng.random() < p["gpu_nodes"]:
            nd["gpus"] = {"count": 4, "model": rng.choice("AB")}
        nodes.append(nd)
    total_cpu = sum(nd["allocatable"]["cpu"] for nd in nodes)
    levels = PRIORITY_VALUES[: rng.randint(*p["priorities"])]

    def deployment(d: int) -> dict[str, Any]:
        cores = rng.choice((250, 500, 750, 1000, 1500, 2000, 3000, 4000))
        mem_per_core = rng.choice((GIB // 2, GIB, 2 * GIB, 4 * GIB))
        app = f"app{d}"
        t: dict[str, Any] = {
            "labels": {"app": app},
            "priority": rng.choice(levels),
            "requests": {"cpu": cores, "memory": max(GIB // 4, cores * mem_per_core // 1000)},
        }
        sel = {"match_labels": {"app": app}}
        if rng.random() < p["anti"]:
            t["pod_anti_affinity"] = [{"label_selector": sel, "topology_key": "kubernetes.io/hostname"}]
        if rng.random() < p["spread"]:
            t["topology_spread"] = [
                {
                    "max_skew": rng.randint(1, 2),
                    "topology_key": "topology.kubernetes.io/zone",
                    "when_unsatisfiable": "DoNotSchedule",
                    "label_selector": sel,
                }
            ]
        if rng.random() < p["affinity"] and "topology_spread" not in t:  # both together contradict
            t["pod_affinity"] = [{"label_selector": sel, "topology_key": "topology.kubernetes.io/zone"}]
        if rng.random() < p["tolerate"]:
            t["tolerations"] = [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]
        if rng.random() < p["gpu_share"] and any("gpus" in nd for nd in nodes):
            t["gpu"] = {"count": 1, "milli": rng.choice((100, 250, 300, 500, 700, 1000)), "models": []}
        return t

    # running background: non-evictable pods placed first fit up to a share of the cpu capacity
    running: list[dict[str, Any]] = []
    used = [[0, 0] for _ in nodes]
    target = rng.uniform(*p["running"]) * total_cpu
    filled = 0
    r = 0
    while filled < target and r < 10 * n_nodes:
        cpu = rng.choice((250, 500, 1000, 2000))
        mem = cpu * rng.choice((GIB // 2, GIB, 2 * GIB)) // 1000
        start = rng.randrange(n_nodes)
        for k in range(n_nodes):
            ni = (start + k) % n_nodes
            a = nodes[ni]["allocatable"]
            if used[ni][0] + cpu <= a["cpu"] and used[ni][1] + mem <= a["memory"]:
                used[ni][0] += cpu
                used[ni][1] += mem
                running.append(
                    {
                        "name": f"kube-system/bg{r}",
                        "namespace": "kube-system",
                        "labels": {"app": "background"},
                        "priority": rng.choice(levels),
                        "requests": {"cpu": cpu, "memory": mem},
                        "node": nodes[ni]["name"],
                        "gpu_indices": [],
                        "evictable": False,
                    }
                )
                filled += cpu
                break
        r += 1
    free_cpu = total_cpu - filled
    load = rng.uniform(*p["load"])
    lo, hi = p["pods"]
    pods: list[dict[str, Any]] = []
    d = 0
    demand = 0.0
    while len(pods) < hi and (demand < load * free_cpu or len(pods) < lo):
        t = deployment(d)
        replicas = rng.randint(2, 12)
        gang = rng.random() < p["gangs"]
        for k in range(min(replicas, hi - len(pods))):
            pod = {"name": f"default/app{d}-{k}", "namespace": "default", **t}
            if gang:
                pod["gang"] = f"app{d}"
            pods.append(pod)
            demand += t["requests"]["cpu"]
            if "gpu" in t:
                demand += 0  # GPU demand is bounded separately by the GPU nodes
        d += 1
    # shuffle arrival order across deployments (the queue is FIFO within a priority)
    rng.shuffle(pods)
    doc = {
        "problem": "pod_packing",
        "name": f"failing-{seed}",
        "nodes": nodes,
        "pods": pods,
        "running": running,
        "options": {"allow_evictions": False, "max_moves": 0, "packing": "none"},
    }
    assert all(0 < pd.get("gpu", {"milli": 1})["milli"] <= GPU_MILLI for pd in pods)
    return Instance.from_dict(doc)


def kube_pending(instance: Instance) -> int:
    """Pods the kube replica (the instance's scoring, LeastAllocated by default) leaves pending."""
    from solvers.budget import Budget
    from solvers.pod_packing.kube import schedule

    sol, _ = schedule(instance, Budget(None), instance.options.scoring)
    return sum(1 for _, n in sol.placements if n is None)


def generate_failing(seed: int = 0, max_tries: int = 200, **params: Any) -> Instance:
    """The first scenario drawn from seeds ``seed, seed + 10_000, ...`` on which kube leaves a pod pending."""
    for k in range(max_tries):
        inst = draw_scenario(seed + 10_000 * k, **params)
        if kube_pending(inst) > 0:
            return inst
    raise RuntimeError(f"no failing scenario in {max_tries} draws from seed {seed}")


def failing_set(count: int, seed: int = 0, **params: Any) -> list[Instance]:
    """``count`` failing scenarios with seeds ``seed .. seed + count - 1`` (deterministic)."""
    return [generate_failing(seed + i, **params) for i in range(count)]
