"""Pod packing: failing-scenario generator, capacity bound, cpsat-lex, greedy, LNS and the openb replay."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pod_packing_solvers import brute_force

from instances.pod_packing import generate
from instances.pod_packing_failing import draw_scenario, generate_failing, kube_pending
from models.pod_packing import GPU_MILLI, Instance, evaluate, read_openb
from solvers.budget import Budget
from solvers.pod_packing.bench import main as bench_main
from solvers.pod_packing.bench import pending_vector
from solvers.pod_packing.common import lex_lower_bound
from solvers.pod_packing.lns import merge, sub_instance
from solvers.pod_packing.replan import first_failure
from solvers.registry import solve
from solvers.result import Status

GIB = 2**30


def node(name: str, cpu: int, zone: str = "z0", gpus: int = 0) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": name,
        "allocatable": {"cpu": cpu, "memory": 64 * GIB},
        "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone},
    }
    if gpus:
        d["gpus"] = {"count": gpus, "model": "A"}
    return d


def pod(name: str, cpu: int, prio: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "priority": prio, "requests": {"cpu": cpu, "memory": GIB}, **extra}


def inst_of(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], **doc: Any) -> Instance:
    return Instance.from_dict({"problem": "pod_packing", "nodes": nodes, "pods": pods, **doc})


# -- generator ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_failing_generator_keeps_only_failing_scenarios(seed: int) -> None:
    """Every generated scenario leaves a pod pending under kube, has 2-4 levels and sizes in range."""
    inst = generate_failing(seed, nodes=(4, 16), pods=(20, 80))
    assert kube_pending(inst) >= 1
    assert 4 <= len(inst.nodes) <= 16 and 20 <= len(inst.pods) <= 80
    assert 2 <= len({p.priority for p in inst.pods}) <= 4 or len({p.priority for p in inst.pods}) == 1
    assert generate_failing(seed, nodes=(4, 16), pods=(20, 80)) == inst  # deterministic


def test_failing_generator_rejects_unknown_parameters() -> None:
    """A misspelt generator parameter is an error, not silently ignored."""
    with pytest.raises(TypeError, match="nodez"):
        draw_scenario(0, nodez=3)


# -- capacity bound -----------------------------------------------------------------------------------
def test_capacity_bound_counts_smallest_pods_first() -> None:
    """10 cpu on one node, pods of 4, 4, 3, 3, 3 cpu (one level): at most 3 fit, so >= 2 pending."""
    inst = inst_of(
        [node("a", 10_000)],
        [pod(f"p{i}", c) for i, c in enumerate((4000, 4000, 3000, 3000, 3000))],
    )
    per_level, total = lex_lower_bound(inst)
    assert per_level == {0: 2} and total == 2


def test_capacity_bound_uses_eligible_nodes_and_anti_affinity_domains() -> None:
    """GPU pods only use GPU nodes' cpu; self anti-affinity places at most one pod per hostname."""
    anti = [{"label_selector": {"match_labels": {"app": "w"}}, "topology_key": "kubernetes.io/hostname"}]
    gpu = {"count": 1, "milli": GPU_MILLI, "models": []}
    inst = inst_of(
        [node("g", 4000, gpus=4), node("c1", 64_000), node("c2", 64_000)],
        [pod(f"g{i}", 3000, 1, gpu=gpu) for i in range(3)]
        + [pod(f"w{i}", 100, 0, labels={"app": "w"}, pod_anti_affinity=anti) for i in range(5)],
    )
    per_level, _ = lex_lower_bound(inst)
    # one 3-cpu GPU pod fits the 4-cpu GPU node; 5 anti-affine replicas on 3 hostnames
    assert per_level == {1: 2, 0: 2}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_capacity_bound_below_brute_force(seed: int) -> None:
    """On tiny random instances the capacity bound never exceeds the brute-force optimum."""
    inst = generate(
        seed, nodes=2, pods=4, running=1, gpus_per_node=2, anti=0.4, spread=0.3, cpu_choices=(3000,)
    )
    _, total = lex_lower_bound(inst)
    assert total <= brute_force(inst)


# -- cpsat-lex, greedy, lns ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"priorities": (0, 10, 100)},
        {"priorities": (0, 100), "packing": "fewest_nodes", "allow_evictions": True, "running": 2},
        {"priorities": (0, 5), "anti": 0.6, "spread": 0.4, "affinity": 0.3},
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_lex_exact_against_brute_force(seed: int, params: dict[str, Any]) -> None:
    """cpsat-lex and greedy on tiny instances: bound <= optimum <= objective, and cpsat-lex is OPTIMAL."""
    base = {"nodes": 3, "pods": 4, "running": 1, "gpus_per_node": 2, "cpu_choices": (4000, 6000)}
    inst = generate(seed, **{**base, **params})
    opt = brute_force(inst)
    for name in ("greedy", "cpsat-lex", "lns"):
        res = solve(inst, name, Budget(10))
        assert res.solution is not None and evaluate(inst, res.solution).feasible, name
        assert res.objective is not None and opt <= res.objective, name
        assert res.bound is None or res.bound <= opt, name
    res = solve(inst, "cpsat-lex", Budget(10))
    assert res.status is Status.OPTIMAL and res.objective == opt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_never_worse_than_kube_on_failing_scenarios(seed: int) -> None:
    """On failing scenarios auto (1 s) is feasible, at least as good as the replica, bound <= objective."""
    inst = generate_failing(seed, nodes=(4, 20), pods=(20, 120))
    kube = solve(inst, "kube")
    res = solve(inst, "auto", Budget(1.0, workers=1))
    assert res.solution is not None and evaluate(inst, res.solution).feasible
    assert kube.solution is not None and kube.objective is not None and res.objective is not None
    assert pending_vector(inst, res.solution) <= pending_vector(inst, kube.solution)
    assert res.objective <= kube.objective
    assert res.bound is not None and res.bound <= res.objective


def test_lex_certifies_by_capacity_without_a_model() -> None:
    """When the incumbent meets the capacity bound, cpsat-lex proves it optimal at once."""
    inst = inst_of([node("a", 10_000)], [pod(f"p{i}", 4000) for i in range(3)])
    res = solve(inst, "auto", Budget(5))
    assert res.status is Status.OPTIMAL and res.objective == 1


def test_lns_subproblem_merge_roundtrip() -> None:
    """A neighbourhood's incumbent merged back gives the incumbent; fixed pods keep their nodes."""
    inst = generate_failing(2, nodes=(6, 12), pods=(20, 60))
    sol = solve(inst, "kube").solution
    assert sol is not None
    sub, hint, _ = sub_instance(inst, sol, {0, 1})
    assert {p.name for p in sub.pods}.isdisjoint({r.name for r in sub.running})
    assert merge(inst, sol, hint) == sol
    placed = dict(sol.placements)
    names = {inst.nodes[0].name, inst.nodes[1].name}
    for r in sub.running:
        if r.name in placed:
            assert r.node == placed[r.name] and r.node not in names


@pytest.mark.parametrize("name", ["lns", "cpsat-lex", "greedy"])
def test_new_solvers_honour_budget(name: str) -> None:
    """Given 0.3 s on a 64-node / ~300-pod failing scenario, each returns within ~0.3 s + overhead."""
    inst = generate_failing(5, nodes=(60, 64), pods=(250, 500))
    hint = solve(inst, "kube").solution
    t = time.perf_counter()
    res = solve(inst, name, Budget(0.3, workers=1), hint=hint)
    assert time.perf_counter() - t < 0.3 + 0.9
    assert res.solution is None or evaluate(inst, res.solution).feasible


def test_lns_deterministic_for_a_seed() -> None:
    """Deterministic budget + seed: the same answer twice."""
    inst = generate_failing(1, nodes=(6, 10), pods=(20, 50))
    hint = solve(inst, "kube").solution
    a = solve(inst, "lns", Budget(4, deterministic=True, seed=3), hint=hint)
    b = solve(inst, "lns", Budget(4, deterministic=True, seed=3), hint=hint)
    assert a.solution is not None and evaluate(inst, a.solution).feasible
    kube_obj = solve(inst, "kube").objective
    assert a.objective is not None and kube_obj is not None and a.objective <= kube_obj
    assert a.solution == b.solution and a.stats["neighbourhoods"] == b.stats["neighbourhoods"]


# -- openb replay ---------------------------------------------------------------------------------------
def test_first_failure_replay_on_openb_slice(shared_data: Path) -> None:
    """Replay of 400 openb pods onto 40 GPU nodes: every policy stops at a pod it cannot place, the
    re-planned placement passes evaluate and the GPU ratio matches the placed pods' GPU milli."""
    d = shared_data / "kubernetes"
    full = read_openb(
        str(d / "openb_node_list_gpu_node.csv"), str(d / "openb_pod_list_default.csv"), limit_pods=400
    )
    inst = Instance(full.nodes[:40], full.pods, name="openb-400x40")
    total = sum(n.gpu_count for n in inst.nodes) * GPU_MILLI
    policies = ("kube", "kube-most", "fgd", "bfd", "allotment", "allotment-packer")
    outs = {pol: first_failure(inst, pol) for pol in policies}
    for pol, out in outs.items():
        assert 0 < out["placed"] < len(inst.pods), pol
        want = sum(p.gpu.count * p.gpu.milli for p in inst.pods[: out["placed"]] if p.gpu is not None)
        assert out["gpu_ratio"] == pytest.approx(want / total), pol
    for pol in ("fgd", "bfd", "allotment", "allotment-packer"):
        sol = outs[pol]["solution"]
        assert evaluate(inst, sol).feasible, pol
        placed = dict(sol.placements)
        assert all(placed[p.name] is not None for p in inst.pods[: outs[pol]["placed"]]), pol
        assert all(placed[p.name] is None for p in inst.pods[outs[pol]["placed"] :]), pol


def test_bench_failing_table(capsys: pytest.CaptureFixture[str]) -> None:
    """allot bench pods failing prints one row per budget whose shares add up to 100%."""
    rc = bench_main(["failing", "--count", "2", "--budgets", "0.3", "--seed", "4"])
    assert rc == 0
    out = capsys.readouterr().out
    row = [ln for ln in out.splitlines() if ln.strip().startswith("0.3s")]
    assert len(row) == 1
    parts = row[0].split()
    assert parts[1] == "2"
    improved, certified, unresolved = (float(parts[i].rstrip("%")) for i in (2, 3, 5))
    assert improved + certified + unresolved == pytest.approx(100.0)


# -- DefaultPreemption in the replica ------------------------------------------------------------------
def preemption_instance(allow: bool) -> Instance:
    """Two 4-cpu nodes, each 3 cpu used by lower-priority evictable pods; a 2-cpu pod of priority 100."""
    running = [
        pod("r-a1", 1000, 1, node="a", evictable=True),
        pod("r-a2", 2000, 5, node="a", evictable=True),
        pod("r-b1", 3000, 50, node="b", evictable=True),
    ]
    return inst_of(
        [node("a", 4000), node("b", 4000)],
        [pod("p", 2000, 100)],
        running=running,
        options={"allow_evictions": allow, "max_moves": 0, "packing": "none"},
    )


def test_kube_preempts_least_important_victims_and_reprieves() -> None:
    """The pod fits nowhere; on node a evicting only r-a1 (priority 1) suffices (r-a2 is reprieved),
    which beats node b whose victim has priority 50; the answer passes evaluate."""
    inst = preemption_instance(True)
    res = solve(inst, "kube")
    assert res.solution is not None and evaluate(inst, res.solution).feasible
    assert dict(res.solution.placements) == {"p": "a"}
    assert res.solution.evictions == ("r-a1",)


def test_kube_does_not_preempt_without_permission() -> None:
    """Without allow_evictions the replica leaves the pod pending and evicts nothing."""
    inst = preemption_instance(False)
    res = solve(inst, "kube")
    assert res.solution is not None and dict(res.solution.placements) == {"p": None}
    assert res.solution.evictions == ()


def test_kube_never_preempts_equal_or_higher_priority() -> None:
    """Running pods of priority >= the pending pod's are never victims."""
    running = [pod("r", 3000, 100, node="a", evictable=True)]
    inst = inst_of(
        [node("a", 4000)],
        [pod("p", 2000, 100)],
        running=running,
        options={"allow_evictions": True, "max_moves": 0, "packing": "none"},
    )
    res = solve(inst, "kube")
    assert res.solution is not None and dict(res.solution.placements) == {"p": None}
    assert res.solution.evictions == ()
