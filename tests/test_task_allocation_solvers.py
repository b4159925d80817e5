"""Task allocation solvers: brute-force agreement, known optima, makespan, budget, determinism."""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instances.task_allocation import generate
from models.task_allocation import Instance, Solution, evaluate, read_best_known, read_orlib_gap
from solvers import Budget, Status, solve
from solvers.registry import cheap_bound, warmup

ROOT = Path(__file__).resolve().parent.parent
EXACT = ("mip", "cpsat", "pulp", "auto")


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup(["task_allocation"])


def brute_force(inst: Instance) -> float | None:
    """Optimum by enumeration (None when infeasible)."""
    best = math.inf
    for a in itertools.product(range(inst.num_agents), repeat=inst.num_tasks):
        ev = evaluate(inst, Solution(a))
        if ev.feasible:
            best = min(best, ev.objective)
    return None if math.isinf(best) else best


def check_against(inst: Instance, opt: float | None, solvers: tuple[str, ...]) -> None:
    for name in solvers:
        r = solve(inst, name, Budget(10, deterministic=True))
        assert r.status is not Status.ERROR, (name, r.message)
        if opt is None:
            assert r.solution is None, name
            if name in ("mip", "cpsat", "auto"):
                assert r.status is Status.INFEASIBLE, name
            continue
        if r.solution is not None:
            assert evaluate(inst, r.solution).feasible
            assert r.objective is not None and r.objective >= opt, name
        if r.bound is not None:
            assert r.bound <= opt + 1e-9, name
        if name in ("mip", "cpsat", "auto"):
            assert r.status is Status.OPTIMAL and r.objective == opt, name


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(2, 3),
    n=st.integers(3, 7),
    objective=st.sampled_from(["cost", "makespan"]),
    kind=st.sampled_from(["C", "D"]),
    forbidden=st.sampled_from([0.0, 0.25]),
)
def test_tiny_instances_match_brute_force(
    seed: int, m: int, n: int, objective: str, kind: str, forbidden: float
) -> None:
    """On m^n <= 2187 instances: bound <= brute-force optimum <= objective for every solver, exact
    solvers and auto reach OPTIMAL, and infeasible instances are proved INFEASIBLE."""
    inst = generate(
        seed,
        num_agents=m,
        num_tasks=n,
        objective=objective,
        kind=kind,
        forbidden_fraction=forbidden,
        capacitated=True,
        tightness=1.0,
    )
    opt = brute_force(inst)
    check_against(inst, opt, ("greedy", "mip", "cpsat", "auto"))
    cb, _ = cheap_bound(inst)
    assert opt is None or cb <= opt


def test_pulp_and_lp_on_tiny_instances() -> None:
    """CBC (through PuLP) finds the brute-force optimum and the LP bound never exceeds it."""
    for seed in (1, 2):
        inst = generate(seed, num_agents=3, num_tasks=6, tightness=1.0)
        opt = brute_force(inst)
        check_against(inst, opt, ("pulp", "lp"))


def test_sample_solved_to_optimality_fast() -> None:
    """The shipped sample is solved to proved optimality by auto in under 2 s."""
    inst = Instance.from_dict(json.loads((ROOT / "instances/samples/task_allocation.json").read_text()))
    t = time.perf_counter()
    r = solve(inst, "auto", Budget(5))
    assert r.status is Status.OPTIMAL and time.perf_counter() - t < 2.0
    assert r.objective == brute_force(inst)


@pytest.mark.parametrize("name", ["gap1-0", "gap5-0", "gap12-0"])
def test_orlib_known_optima(shared_data: Path, name: str) -> None:
    """auto reaches the published optimum (minimisation version) and proves it; every solver's bound
    stays below it and every objective above."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table[f"cattrysse1994/{name}"]
    [inst] = read_orlib_gap((shared_data / "gap/cattrysse1994" / name).read_text(), name)
    r = solve(inst, "auto", Budget(8))
    assert r.status is Status.OPTIMAL and r.objective == best
    for s in ("greedy", "lp"):
        rs = solve(inst, s, Budget(2))
        assert rs.bound is not None and rs.bound <= best
        assert rs.objective is None or rs.objective >= best


def test_chu_beasley_bounds_are_valid(shared_data: Path) -> None:
    """On a hard Chu-Beasley D instance a short auto run is feasible with objective >= best known
    and bound <= the published lower bound's best-known optimum."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["chu1997/d05100"]
    [inst] = read_orlib_gap((shared_data / "gap/chu1997/d05100").read_text(), "d05100")
    r = solve(inst, "auto", Budget(2))
    assert r.solution is not None and r.objective is not None and r.objective >= best
    assert r.bound is not None and r.bound <= best


def test_makespan_variant() -> None:
    """An R||Cmax instance: greedy and auto are feasible, bound <= objective, auto no worse."""
    inst = generate(4, num_agents=4, num_tasks=25, objective="makespan")
    g = solve(inst, "greedy", Budget(2))
    a = solve(inst, "auto", Budget(3))
    for r in (g, a):
        assert r.solution is not None and r.bound is not None and r.objective is not None
        assert r.bound <= r.objective
    assert a.objective is not None and g.objective is not None and a.objective <= g.objective


def test_infeasible_by_orphan_task() -> None:
    """A task forbidden on every agent is proved INFEASIBLE by every solver that claims proofs."""
    doc = generate(0, num_agents=2, num_tasks=4).to_dict()
    doc["forbidden"] = [[0, 1], [1, 1]]
    inst = Instance.from_dict(doc)
    for name in ("greedy", "mip", "cpsat", "pulp", "auto"):
        assert solve(inst, name, Budget(5)).status is Status.INFEASIBLE, name


@pytest.mark.parametrize("name", ["greedy", "auto", "mip", "cpsat"])
def test_budget_honoured_on_large_instance(shared_data: Path, name: str) -> None:
    """With 0.5 s on Yagiura e801600 (80 x 1600) each solver returns within ~1 s; greedy/auto feasible."""
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e801600").read_text(), "e801600")
    t = time.perf_counter()
    r = solve(inst, name, Budget(0.5))
    took = time.perf_counter() - t
    assert took < 1.2, took
    if name in ("greedy", "auto"):
        assert r.solution is not None and evaluate(inst, r.solution).feasible


@pytest.mark.parametrize("name", ["greedy", "auto"])
def test_deterministic_for_a_seed(name: str) -> None:
    """Same instance, same seed, deterministic mode: the same assignment twice."""
    inst = generate(7, num_agents=5, num_tasks=30, kind="C")
    r1 = solve(inst, name, Budget(5, deterministic=True, seed=11))
    r2 = solve(inst, name, Budget(5, deterministic=True, seed=11))
    assert r1.solution == r2.solution and r1.objective == r2.objective


def test_progress_is_reported() -> None:
    """auto reports improving incumbents through the budget's progress callback."""
    seen: list[Any] = []
    inst = generate(2, num_agents=5, num_tasks=30)
    solve(inst, "auto", Budget(5, on_progress=seen.append))
    objs = [p.objective for p in seen if p.solution is not None]
    assert objs and objs == sorted(objs, reverse=True)
