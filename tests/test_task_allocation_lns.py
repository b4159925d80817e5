"""``bnb-lns`` (agent neighbourhoods re-solved by the Lagrangian branch and bound on a reduced-cost core)
and the two ``bnb`` behaviours it and the large-instance chain rely on: closing a search at an
incumbent that meets the proved bound, and giving up on rounds that cannot end in time."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_task_allocation_metaheuristics import brute_force  # tests/ is on sys.path (pytest rootdir import)

from instances.task_allocation import generate
from models.task_allocation import Instance, evaluate, read_best_known, read_orlib_gap
from solvers import Budget, solve
from solvers.registry import warmup
from solvers.task_allocation import bnb, lagrange, lns
from solvers.task_allocation._data import arrays, assignment_objective, is_feasible


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup(["task_allocation"])


def _read(shared_data: Path, name: str) -> tuple[Instance, tuple[int, int, str]]:
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    [inst] = read_orlib_gap((shared_data / "gap" / name).read_text(), name)
    return inst, table[name]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(2, 4),
    n=st.integers(3, 7),
    kind=st.sampled_from(["C", "D"]),
    resources=st.sampled_from([1, 1, 2]),
)
def test_bnb_lns_never_beats_brute_force(seed: int, m: int, n: int, kind: str, resources: int) -> None:
    """On tiny instances bnb-lns returns a feasible answer no better than the enumerated optimum (two
    resources go to the HiGHS lns), its bound is at most the optimum, and it answers nothing on
    infeasible ones."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=0.9, num_resources=resources)
    opt = brute_force(inst)
    r = solve(inst, "bnb-lns", Budget(2, deterministic=True))
    if opt is None:
        assert r.solution is None
        return
    if r.solution is not None:
        assert evaluate(inst, r.solution).feasible
        assert r.objective is not None and r.objective >= opt
    if r.bound is not None:
        assert r.bound <= opt + 1e-9


def test_bnb_lns_improves_a_poor_start_on_a_type_d_instance(shared_data: Path) -> None:
    """From the greedy assignment of Chu-Beasley d10200 (200 tasks: searched whole, the cores taking
    turns), bnb-lns finds a cheaper feasible assignment, never below the published lower bound, its
    objective is the checker's and its bound is at most the best known value."""
    inst, (lb, best, _) = _read(shared_data, "chu1997/d10200")
    g = solve(inst, "greedy", Budget(2))
    assert g.solution is not None and g.objective is not None
    r = solve(inst, "bnb-lns", Budget(3, seed=1), hint=g.solution)
    assert r.solution is not None and r.objective is not None
    ev = evaluate(inst, r.solution)
    assert ev.feasible and ev.objective == r.objective
    assert lb <= r.objective < g.objective
    assert r.stats["bnb_lns_improvements"] >= 1 and r.stats["bnb_lns_whole"]
    assert r.bound is not None and r.bound <= best


def test_bnb_lns_is_deterministic_for_a_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic mode, same seed: the same neighbourhoods (a fixed number of them: 220 tasks, so
    neighbourhoods of k = 120 * 12 / 220 -> 7 agents) and answer."""
    monkeypatch.setattr(lns, "DET_BNB_ITERATIONS", 6)  # a full-size run takes minutes
    monkeypatch.setattr(lns, "SUB_NODES", 100)
    inst = generate(7, num_agents=12, num_tasks=220, kind="D", tightness=0.8)
    hint = solve(inst, "greedy", Budget(2)).solution
    one = solve(inst, "bnb-lns", Budget(60, deterministic=True, seed=4), hint=hint)
    two = solve(inst, "bnb-lns", Budget(60, deterministic=True, seed=4), hint=hint)
    assert one.solution is not None and one.solution == two.solution
    assert one.stats["bnb_lns_k"] == 7 and not one.stats["bnb_lns_whole"]
    assert one.stats["bnb_lns_searched"] == two.stats["bnb_lns_searched"] == 6


def test_core_pairs_keep_every_task_and_the_quota() -> None:
    """The core holds at least the quota of pairs per task on average and, for every task, its pairs of
    smallest reduced cost (so no task loses all its agents)."""
    inst = generate(2, num_agents=10, num_tasks=80, kind="D", tightness=0.8)
    a = arrays(inst)
    got = lagrange.capacity_relaxation(a, Budget(5, deterministic=True))
    assert got is not None
    rc = got[3]
    core = lns.core_pairs(a, rc, per_task=3.0)
    assert core.sum() >= 3.0 * a.n and not (core & ~a.allowed).any()
    cheapest = np.argmin(np.where(a.allowed, rc, np.inf), axis=0)
    assert core[cheapest, np.arange(a.n)].all()


def test_related_agents_are_distinct_and_sorted() -> None:
    rng = np.random.default_rng(0)
    core = rng.random((12, 50)) < 0.3
    x = rng.integers(0, 12, size=50)
    for _ in range(20):
        agents = lns._related_agents(core, x, 5, rng)
        assert len(set(agents.tolist())) == 5 and list(agents) == sorted(agents)


def test_a_search_closes_at_an_incumbent_meeting_the_proved_bound() -> None:
    """Told the optimum as its floor, a depth-first search stops at the first optimal assignment it
    finds and reports the tree as settled, with fewer nodes than the same search without the floor."""
    inst = generate(3, num_agents=3, num_tasks=8, kind="D", tightness=0.8)
    a = arrays(inst)
    opt = brute_force(inst)
    assert opt is not None
    mus: list[np.ndarray] = []
    root = lagrange.lagrangian_bound(a, Budget(2, deterministic=True), None, None, mus)
    assert root is not None
    ub = float(np.where(a.allowed, a.obj, -np.inf).max(axis=0).sum()) + 1
    closed = bnb._Tree(a, ub, None, floor=opt)
    done, open_min = bnb._dfs(closed, Budget(10), mus[0], root)
    assert done and closed.closed and math.isinf(open_min)
    assert closed.x is not None and assignment_objective(a, closed.x) == opt and is_feasible(a, closed.x)
    plain = bnb._Tree(a, ub, None)
    assert bnb._dfs(plain, Budget(10), mus[0], root)[0]
    assert plain.ub == opt and closed.nodes <= plain.nodes


def test_quick_gives_up_on_rounds_that_cannot_end(shared_data: Path) -> None:
    """On d10200 the guess rounds grow about tenfold each (0.1, 1.1, 10 s measured): with 3 s, quick
    stops before a round it cannot finish, keeping the hint and a bound at most the best known value,
    while run keeps searching to the end of the budget."""
    inst, (_lb, best, _) = _read(shared_data, "chu1997/d10200")
    hint = solve(inst, "greedy", Budget(2)).solution
    assert hint is not None
    r = bnb.quick(inst, Budget(3), hint)
    assert r.stats.get("bnb_gave_up") and not r.stats["bnb_complete"]
    assert r.solution is not None and evaluate(inst, r.solution).feasible
    assert r.bound is not None and r.bound <= best
    full = bnb.run(inst, Budget(1.5), hint)
    assert "bnb_gave_up" not in full.stats


def test_bnb_lns_hands_instances_it_cannot_take_to_lns() -> None:
    """Two capacitated resources: bnb-lns answers through the HiGHS lns, feasibly."""
    inst = generate(4, num_agents=4, num_tasks=20, kind="C", tightness=0.9, num_resources=2)
    r = solve(inst, "bnb-lns", Budget(2, deterministic=True))
    assert r.solution is not None and evaluate(inst, r.solution).feasible
    assert r.solver == "bnb-lns" and "bnb_lns_searched" not in r.stats


def test_bnb_lns_keeps_a_hint_it_cannot_improve() -> None:
    """A hint that is already optimal comes back unchanged (the search never makes it worse)."""
    inst = generate(9, num_agents=3, num_tasks=7, kind="C", tightness=0.9)
    opt = brute_force(inst)
    assert opt is not None
    best = solve(inst, "bnb", Budget(10))
    assert best.objective == opt and best.solution is not None
    r = solve(inst, "bnb-lns", Budget(1, deterministic=True), hint=best.solution)
    assert r.objective == opt and r.solution is not None and evaluate(inst, r.solution).feasible
