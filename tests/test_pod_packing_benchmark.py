"""Wider checks on the openb traces (``pytest -m slow``): every variant, replicas vs the portfolio."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from models.pod_packing import Instance, evaluate, read_openb
from solvers.budget import Budget
from solvers.registry import solve
from solvers.result import Status

VARIANTS = ("default", "cpu050", "gpushare40", "multigpu50", "gpuspec33")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_auto_never_worse_than_the_replicas(shared_data: Path, variant: str) -> None:
    """On an overloaded slice (80 pods, 12 GPU nodes) auto's verified objective <= both replicas'."""
    d = shared_data / "kubernetes"
    full = read_openb(
        str(d / "openb_node_list_gpu_node.csv"), str(d / f"openb_pod_list_{variant}.csv"), limit_pods=80
    )
    inst = Instance(full.nodes[:12], full.pods, name=f"openb-{variant}-80x12")
    objs = {}
    for name in ("kube", "kube-most"):
        res = solve(inst, name)
        assert res.status in (Status.FEASIBLE, Status.OPTIMAL) and res.objective is not None
        objs[name] = res.objective
    t = time.perf_counter()
    auto = solve(inst, "auto", Budget(8))
    assert time.perf_counter() - t < 8 + 2
    assert auto.solution is not None and evaluate(inst, auto.solution).feasible
    assert auto.objective is not None and auto.objective <= min(objs.values())
    assert auto.bound is not None and auto.bound <= auto.objective


@pytest.mark.slow
def test_kube_whole_default_trace(shared_data: Path) -> None:
    """The replica schedules the whole default trace (8,152 pods, 1,213 GPU nodes) to a feasible answer."""
    d = shared_data / "kubernetes"
    inst = read_openb(str(d / "openb_node_list_gpu_node.csv"), str(d / "openb_pod_list_default.csv"))
    for name in ("kube", "kube-most"):
        res = solve(inst, name, Budget(120))
        assert res.solution is not None and not res.stats["stopped_early"], res.stats
        assert evaluate(inst, res.solution).feasible
