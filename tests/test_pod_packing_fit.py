"""Pod packing: the Numba packers (bfd, fgd, fit), auto's checks, LNS neighbourhoods, shared memos."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pod_packing_solvers import brute_force

from instances.pod_packing import generate
from instances.pod_packing_failing import draw_scenario, generate_failing
from models.pod_packing import GPU_MILLI, Instance, Options, evaluate
from solvers.budget import Budget
from solvers.pod_packing import fit
from solvers.pod_packing.common import checked, forced_unplaced, interacting, worth_checking
from solvers.pod_packing.lns import Neighbourhoods, sub_instance
from solvers.registry import solve
from solvers.result import Status

PACKERS = ("bfd", "fgd", "fit")

HEAVY = {"anti": 0.5, "spread": 0.4, "affinity": 0.3, "gangs": 0.2, "gpu_share": 0.4}


def heavy_scenario(seed: int, evictions: bool = False) -> Instance:
    """A failing-generator scenario with every constraint kind frequent (optionally evictable)."""
    inst = draw_scenario(seed, nodes=(6, 20), pods=(20, 120), **HEAVY)
    if evictions:
        running = tuple(dataclasses.replace(r, evictable=True) for r in inst.running)
        inst = dataclasses.replace(inst, running=running, options=Options(allow_evictions=True))
    return inst


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", PACKERS)
def test_packers_answers_pass_the_checker(name: str, seed: int) -> None:
    """bfd / fgd / fit on instances with every constraint kind: feasible, bound <= objective."""
    for inst in (
        generate(seed, nodes=6, pods=16, gangs=2, anti=0.4, spread=0.3, affinity=0.2),
        heavy_scenario(seed),
        heavy_scenario(seed + 100, evictions=True),
    ):
        res = solve(inst, name, Budget(10))
        assert res.status in (Status.FEASIBLE, Status.OPTIMAL), res.message
        assert res.solution is not None and evaluate(inst, res.solution).feasible
        assert res.objective is not None and res.bound is not None and res.bound <= res.objective


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_packers_and_auto_against_brute_force(seed: int) -> None:
    """Tiny instances: optimum <= every objective, every bound <= optimum, OPTIMAL only at the optimum."""
    inst = generate(
        seed, nodes=2, pods=4, running=1, gpus_per_node=2, anti=0.4, spread=0.3, cpu_choices=(3000, 5000)
    )
    opt = brute_force(inst)
    for name in (*PACKERS, "auto"):
        res = solve(inst, name, Budget(5, workers=1))
        assert res.solution is not None and res.objective is not None, name
        assert opt <= res.objective, name
        assert res.bound is not None and res.bound <= opt, name
        if res.status is Status.OPTIMAL:
            assert res.objective == opt == res.bound, name


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", ("bfd", "fgd"))
def test_pending_plain_pods_fit_nowhere_in_the_final_state(name: str, seed: int) -> None:
    """A pending pod the kernel handled (no inter-pod constraint, no gang) fits on no node at the end:
    later placements only take capacity, so a pod that did not fit when its turn came never does."""
    inst = generate_failing(seed, nodes=(6, 16), pods=(30, 120))
    res = solve(inst, name, Budget(10))
    assert res.solution is not None
    placed = dict(res.solution.placements)
    gidx = dict(res.solution.gpu_indices)
    data = fit.FitData(inst)
    used, gfree = data.empty_state()
    for rp in inst.running:
        assert rp.node is not None
        n = inst.node_index[rp.node]
        used[n] += data.nf.request_vector(rp)
        for g in rp.gpu_indices:
            assert rp.gpu is not None
            gfree[n, g] -= rp.gpu.milli
    for i, p in enumerate(inst.pods):
        where = placed[p.name]
        if where is not None:
            n = inst.node_index[where]
            used[n] += data.req[i]
            for g in gidx.get(p.name, ()):
                gfree[n, g] -= int(data.milli[i])
    flags, _ = interacting(inst)
    for i, p in enumerate(inst.pods):
        if placed[p.name] is None and not flags[i] and p.gang is None:
            for n in np.flatnonzero(data.elig[i]):
                asked = data.req[i] > 0
                fits = bool((used[n][asked] + data.req[i][asked] <= data.nf.cap[n][asked]).all())
                if p.gpu is not None:
                    row = gfree[n, : data.ngpu[n]]
                    if p.gpu.milli < GPU_MILLI:
                        fits = fits and bool((row >= p.gpu.milli).any())
                    else:
                        fits = fits and int((row == GPU_MILLI).sum()) >= p.gpu.count
                assert not fits, (p.name, inst.nodes[n].name)


def reference_frag(data: fit.FitData, used: np.ndarray, gfree: np.ndarray, n: int) -> float:
    """FGD's expected fragmentation of node n, written out from the module doc."""
    free = [int(f) for f in gfree[n, : data.ngpu[n]]]
    total = 0.0
    for m in range(len(data.tm)):
        asked = data.treq[m] > 0
        cpu_ok = bool((used[n][asked] + data.treq[m][asked] <= data.nf.cap[n][asked]).all())
        milli, count = int(data.tm[m]), int(data.tc[m])
        if not cpu_ok:
            frag = sum(free)
        elif milli < GPU_MILLI:
            frag = sum(free) if not any(f >= milli for f in free) else sum(f for f in free if f < milli)
        elif sum(f == GPU_MILLI for f in free) < count:
            frag = sum(free)
        else:
            frag = sum(f for f in free if f < GPU_MILLI)
        total += data.tw[m] * frag
    return total


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_fgd_places_where_fragmentation_grows_least(seed: int) -> None:
    """After random earlier placements, fgd puts the next GPU pod on the node and device whose expected
    fragmentation grows least among all feasible choices (checked against a plain-Python reference)."""
    inst = generate(seed, nodes=5, pods=12, gpu_nodes=5, gpus_per_node=4, gpu_share=0.8, running=0)
    data = fit.FitData(inst)
    gpu_pods = [i for i, p in enumerate(inst.pods) if p.gpu is not None]
    if len(gpu_pods) < 2 or len(data.tm) == 0:
        return
    *before, last = gpu_pods
    used, gfree = data.empty_state()
    data.run(before, used, gfree, fit.BFD, False)
    node_of, devs_of, _ = data.run([last], used.copy(), gfree.copy(), fit.FGD, False)
    p = inst.pods[last]
    assert p.gpu is not None
    options: list[tuple[float, int, tuple[int, ...]]] = []
    for n in np.flatnonzero(data.elig[last]):
        asked = data.req[last] > 0
        if not (used[n][asked] + data.req[last][asked] <= data.nf.cap[n][asked]).all():
            continue
        base = reference_frag(data, used, gfree, n)
        row = [int(f) for f in gfree[n, : data.ngpu[n]]]
        if p.gpu.milli < GPU_MILLI:
            choices = [(g,) for g, f in enumerate(row) if f >= p.gpu.milli]
        else:
            full = [g for g, f in enumerate(row) if f == GPU_MILLI]
            choices = [tuple(full[: p.gpu.count])] if len(full) >= p.gpu.count else []
        for devs in choices:
            u2, g2 = used.copy(), gfree.copy()
            u2[n] += data.req[last]
            for g in devs:
                g2[n, g] -= p.gpu.milli
            options.append((reference_frag(data, u2, g2, n) - base, int(n), devs))
    if not options:
        assert node_of[last] == -1
        return
    best = min(d for d, _, _ in options)
    chosen = [d for d, n, devs in options if n == node_of[last] and devs == fit.devices(int(devs_of[last]))]
    assert chosen and chosen[0] == pytest.approx(best)


@pytest.mark.parametrize("seed", range(4))
def test_worth_checking_never_skips_a_better_answer(seed: int) -> None:
    """Across the answers of several solvers: whenever one is skipped against another, it is no better."""
    for inst in (heavy_scenario(seed), generate(seed, packing="fewest_nodes", allow_evictions=True)):
        sols = [
            solve(inst, name, Budget(5)).solution for name in ("kube", "kube-most", "bfd", "fgd", "greedy")
        ]
        for a in sols:
            for b in sols:
                assert a is not None and b is not None
                if not worth_checking(inst, a, b):
                    assert evaluate(inst, a).objective >= evaluate(inst, b).objective
                assert checked(inst, a) == evaluate(inst, a)


@pytest.mark.parametrize("seed", range(4))
def test_lns_neighbourhood_keeps_what_can_matter(seed: int) -> None:
    """The sub-problem holds every pod on the chosen nodes, pins placed affinity/spread pods elsewhere to
    their node, keeps every interacting pod, and its incumbent merges back feasibly."""
    inst = heavy_scenario(seed)
    sol = solve(inst, "kube").solution
    assert sol is not None
    ctx = Neighbourhoods(inst)
    chosen = {0, 1, 2}
    sub, hint, cands = sub_instance(inst, sol, chosen, ctx)
    names = {inst.nodes[i].name for i in chosen}
    placed = dict(sol.placements)
    inside = {p.name for p in sub.pods} | {r.name for r in sub.running}
    for i, p in enumerate(inst.pods):
        where = placed[p.name]
        if where in names or (where is not None and ctx.inter_pods[i]):
            assert p.name in inside, p.name
    for r, rp in enumerate(inst.running):
        if rp.node in names or ctx.inter_running[r]:
            assert rp.name in inside, rp.name
    for p, c in zip(sub.pods, cands, strict=True):
        where = placed[p.name]
        allowed = {inst.nodes[n].name for n in np.flatnonzero(c)}
        if where is not None and where not in names:
            assert allowed == {where}, p.name  # pinned
        else:
            assert allowed <= names, p.name
    assert evaluate(sub, hint).feasible


def test_warmup_compiles_the_kernel_for_both_policies() -> None:
    """The family's warm-up compiles place_pods (both policies share one signature)."""
    fit.warmup()
    assert len(fit.place_pods.signatures) >= 1
    before = len(fit.place_pods.signatures)
    inst = generate(3, nodes=4, pods=10)
    for policy in (fit.BFD, fit.FGD):
        fit.pack(inst, Budget(None), policy)
    assert len(fit.place_pods.signatures) == before


def test_online_packers_stop_at_the_first_failure() -> None:
    """place_online stops at the first pod that fits nowhere; everything before it is placed."""
    inst = generate_failing(1, nodes=(4, 6), pods=(30, 60))
    bare = Instance(inst.nodes, inst.pods, name="bare")
    for policy in (fit.BFD, fit.FGD):
        done, node_of, _, _ = fit.place_online(bare, policy)
        assert (node_of[:done] >= 0).all()
        assert done == len(bare.pods) or node_of[done] == -1


def test_gang_with_more_exclusive_members_than_domains_is_forced() -> None:
    """A gang of three hostname-anti-affine replicas on two nodes can never be placed: the cheap bound
    counts all three (and brute force agrees that none is placed)."""
    nodes = [
        {"name": n, "allocatable": {"cpu": 8000, "memory": 2**33}, "labels": {"kubernetes.io/hostname": n}}
        for n in ("a", "b")
    ]
    anti = [{"label_selector": {"match_labels": {"app": "g"}}, "topology_key": "kubernetes.io/hostname"}]
    pods = [
        {
            "name": f"g{i}",
            "labels": {"app": "g"},
            "requests": {"cpu": 1000},
            "gang": "g",
            "pod_anti_affinity": anti,
        }
        for i in range(3)
    ] + [{"name": "x", "requests": {"cpu": 1000}}]
    inst = Instance.from_dict({"problem": "pod_packing", "nodes": nodes, "pods": pods})
    assert forced_unplaced(inst) == [True, True, True, False]
    opt = brute_force(inst)
    res = solve(inst, "auto", Budget(5))
    assert res.status is Status.OPTIMAL and res.objective == opt == res.bound


def test_cached_replica_state_filters_outside_pods_like_a_fresh_one() -> None:
    """A ClusterState reused for pods that are not its instance's (the extender caches one per node set)
    filters each exactly as a state built for that pod: its memos never trust a reusable object id."""
    from solvers.pod_packing.kube import ClusterState

    base = heavy_scenario(7)
    cached = ClusterState(Instance(base.nodes, base.pods[:1], base.running, Options(), "cached"))
    rng = np.random.default_rng(0)
    for k in range(200):
        p = base.pods[int(rng.integers(len(base.pods)))]
        cpu = int(rng.choice([100, 1000, 4000, 12000]))
        pod = dataclasses.replace(p, name=f"new{k}", requests=(("cpu", cpu), ("memory", 2**28)))
        fresh = ClusterState(Instance(base.nodes, (pod,), base.running, Options(), "fresh"))
        assert (cached.feasible(pod) == fresh.feasible(pod)).all(), k
