"""The LP-relaxation bound of pod packing (solvers.pod_packing.lpbound): valid, and stronger where the
capacity bound pools what per-node fit separates."""

from __future__ import annotations

from typing import Any

import pytest
from test_pod_packing_solvers import feasible_solutions  # tests/ is on sys.path (pytest rootdir import)

from instances.pod_packing import generate
from instances.pod_packing_failing import generate_failing
from models.pod_packing import Instance
from solvers.budget import Budget
from solvers.pod_packing.common import capacity_levels, lex_lower_bound
from solvers.pod_packing.lpbound import lp_levels
from solvers.registry import solve
from solvers.result import Status


def three_into_two() -> Instance:
    """Two 1000m nodes, three 600m pods: 1,800m fit the pooled 2,000m, but only one per node."""
    nodes = [{"name": n, "allocatable": {"cpu": 1000, "memory": 2**30}} for n in ("a", "b")]
    pods = [{"name": f"p{i}", "requests": {"cpu": 600}} for i in range(3)]
    return Instance.from_dict({"problem": "pod_packing", "nodes": nodes, "pods": pods})


def test_lp_sees_per_node_fit_and_certifies() -> None:
    inst = three_into_two()
    _, _, capacity = capacity_levels(inst)
    assert capacity == {0: 0}  # pooled capacity: all three could fit
    assert lp_levels(inst, Budget(5)) == {0: 1}
    # with an incumbent that already meets the capacity bound there is nothing to learn: no LP at all
    assert lp_levels(three_into_two(), Budget(5), incumbent={0: 0}) == {}
    assert lp_levels(three_into_two(), Budget(5), incumbent={0: 1}) == {0: 1}
    # a fresh instance (nothing cached); a long budget, as a cold Numba cache compiles fit inside it
    res = solve(three_into_two(), "auto", Budget(60))
    assert res.status is Status.OPTIMAL and res.objective == 1, (res.status, res.bound, res.stats)
    assert res.bound_source == "lp"
    assert res.stats.get("cpsat-lex.time_s") is None  # proved before any CP-SAT model


def test_anti_affinity_domains_limit_the_lp() -> None:
    """Three mutually anti-affine replicas over two zones: at most two placed, however much room."""
    nodes = [
        {"name": f"n{i}", "allocatable": {"cpu": 8000}, "labels": {"zone": z}}
        for i, z in enumerate(("z1", "z1", "z2"))
    ]
    term = {"label_selector": {"match_labels": {"app": "web"}}, "topology_key": "zone"}
    pods = [
        {"name": f"w{i}", "labels": {"app": "web"}, "requests": {"cpu": 100}, "pod_anti_affinity": [term]}
        for i in range(3)
    ]
    inst = Instance.from_dict({"problem": "pod_packing", "nodes": nodes, "pods": pods})
    assert lp_levels(inst, Budget(5)) == {0: 1}


def min_cumulative(inst: Instance) -> dict[int, int]:
    """Per level: the fewest pods of the levels >= it left pending by any feasible solution."""
    levels = sorted({p.priority for p in inst.pods}, reverse=True)
    best = {lv: len(inst.pods) for lv in levels}
    for sol, _ in feasible_solutions(inst):
        placed = dict(sol.placements)
        for lv in levels:
            pending = sum(1 for p in inst.pods if p.priority >= lv and placed[p.name] is None)
            best[lv] = min(best[lv], pending)
    return best


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"allow_evictions": True, "running": 2, "anti": 0.6},
        {"gpu_share": 0.8, "gpus_per_node": 2, "cpu_choices": (3000, 4000)},
        {"max_moves": 1, "running": 2, "spread": 0.5, "affinity": 0.4},
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_lp_never_exceeds_the_true_minimum(seed: int, params: dict[str, Any]) -> None:
    """Tiny instances enumerated whole: the LP's cumulative counts (and the bound they feed) never
    exceed the fewest pending pods any feasible solution leaves, at every level."""
    base = {"nodes": 3, "pods": 5, "running": 1, "zones": 2, "cpu_choices": (2000, 3000)}
    inst = generate(seed, **{**base, **params})
    truth = min_cumulative(inst)
    lp = lp_levels(inst, Budget(5))
    assert lp is not None and set(lp) == set(truth)
    for lv, c in lp.items():
        assert c <= truth[lv], (lv, lp, truth)
    opt = min(e.objective for _, e in feasible_solutions(inst))
    assert lex_lower_bound(inst)[1] <= opt


def test_lp_at_least_the_capacity_bound_on_failing_scenarios() -> None:
    """The combined bound is never weaker than capacity alone and stays below every answer found."""
    stronger = 0
    for seed in range(8):
        inst = generate_failing(seed=seed)
        _, _, capacity = capacity_levels(inst)
        lp = lp_levels(inst, Budget(5))
        assert lp is not None
        stronger += any(lp[lv] > capacity[lv] for lv in lp)
        res = solve(inst, "auto", Budget(1))
        assert res.bound is not None and res.objective is not None
        assert res.bound <= res.objective
    assert stronger >= 2  # the LP adds pending pods to the bound on some (3 of these 8 when written)
