"""Seeded generator of task-allocation instances (Chu & Beasley style GAP, multi-resource, makespan).

``generate(seed=0, **params)`` parameters (defaults in brackets):

``num_agents`` [5], ``num_tasks`` [15]
``kind`` ["C"]        Chu-Beasley type: "C" demands U[5,25], costs U[10,50]; "D" demands U[1,100],
                      costs 111 - demand + U[-10,10] (costs inversely correlated: the hard type)
``tightness`` [0.8]   capacity of agent i = tightness * Σ_j demand[i][j] / num_agents (as in types C, D)
``num_resources`` [1] resource dimensions, each drawn the same way
``objective`` ["cost"] or "makespan" (then resource 0 is the load and, unless ``capacitated`` is true,
                      the instance is plain R||Cmax: no capacities)
``capacitated`` [None] force capacities on/off (default: on for cost, off for makespan)
``forbidden_fraction`` [0.0] share of (agent, task) pairs forbidden (each task keeps >= 1 agent)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.task_allocation import PROBLEM, Instance


def generate(
    seed: int = 0,
    *,
    num_agents: int = 5,
    num_tasks: int = 15,
    kind: str = "C",
    tightness: float = 0.8,
    num_resources: int = 1,
    objective: str = "cost",
    capacitated: bool | None = None,
    forbidden_fraction: float = 0.0,
    name: str = "",
) -> Instance:
    if kind not in ("C", "D"):
        raise ValueError(f"kind must be 'C' or 'D', got {kind!r}")
    rng = np.random.default_rng(seed)
    m, n = num_agents, num_tasks
    if capacitated is None:
        capacitated = objective == "cost"
    resources: list[dict[str, Any]] = []
    first = None
    for r in range(num_resources):
        dem = rng.integers(5, 26, size=(m, n)) if kind == "C" else rng.integers(1, 101, size=(m, n))
        if first is None:
            first = dem
        caps = None
        if capacitated:
            caps = [int(max(dem[:, :].max(axis=0).min(), tightness * dem[i].sum() / m)) for i in range(m)]
        resources.append({"name": f"r{r}", "capacities": caps, "demands": dem.tolist()})
    assert first is not None
    if kind == "C":
        costs = rng.integers(10, 51, size=(m, n))
    else:
        costs = 111 - first + rng.integers(-10, 11, size=(m, n))
    forbidden: list[list[int]] = []
    if forbidden_fraction > 0:
        mask = rng.random((m, n)) < forbidden_fraction
        for j in range(n):
            if mask[:, j].all():
                mask[rng.integers(m), j] = False
        forbidden = [[int(i), int(j)] for i, j in zip(*np.nonzero(mask), strict=True)]
    doc: dict[str, Any] = {
        "problem": PROBLEM,
        "name": name or f"gen-{kind.lower()}{m}x{n}-s{seed}",
        "objective": objective,
        "num_agents": m,
        "num_tasks": n,
        "resources": resources,
    }
    if objective == "cost":
        doc["costs"] = costs.tolist()
    if forbidden:
        doc["forbidden"] = forbidden
    return Instance.from_dict(doc)
