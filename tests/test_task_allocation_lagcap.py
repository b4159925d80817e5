"""Task allocation: the Lagrangian relaxation of the capacities (LP bound without an LP) and lptabu."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instances.task_allocation import generate
from models.task_allocation import Solution, evaluate, read_best_known, read_orlib_gap
from solvers import Budget, solve
from solvers.registry import warmup
from solvers.task_allocation import lagrange, tabu
from solvers.task_allocation._data import arrays, assignment_objective, is_feasible


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup(["task_allocation"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(2, 3),
    n=st.integers(3, 6),
    kind=st.sampled_from(["C", "D"]),
    resources=st.integers(1, 2),
)
def test_capacity_relaxation_bounds_every_feasible_assignment(
    seed: int, m: int, n: int, kind: str, resources: int
) -> None:
    """On tiny (multi-resource, with forbidden pairs) instances L(v) is <= the brute-force optimum, and
    L + rc[i, j] is <= the cost of every feasible assignment that puts some task j on agent i (the
    property the MIP's fixing relies on)."""
    inst = generate(
        seed,
        num_agents=m,
        num_tasks=n,
        kind=kind,
        tightness=1.0,
        num_resources=resources,
        forbidden_fraction=0.2,
    )
    a = arrays(inst)
    if a.orphans:
        return
    got = lagrange.capacity_relaxation(a, Budget(1, deterministic=True))
    assert got is not None
    lval, v, x, rc = got
    assert (v >= 0).all() and x.shape == (n,) and a.allowed[x, np.arange(n)].all()
    cheapest = np.full((m, n), math.inf)
    for assign in itertools.product(range(m), repeat=n):
        y = np.asarray(assign, dtype=np.int64)
        if not is_feasible(a, y):
            continue
        c = assignment_objective(a, y)
        cheapest[y, np.arange(n)] = np.minimum(cheapest[y, np.arange(n)], c)
    if np.isinf(cheapest).all():
        return  # infeasible: any bound is valid
    assert lval <= cheapest.min() + 1e-9
    assert (lval + rc <= cheapest + 1e-6).all()


def test_capacity_relaxation_reaches_the_lp_bound(shared_data: Path) -> None:
    """On Chu-Beasley d05100 and Yagiura c10400 the subgradient value is within 0.05 % of HiGHS's LP
    bound and below the best known value (its supremum is the LP bound)."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    for key in ("chu1997/d05100", "yagiura2004/c10400"):
        [inst] = read_orlib_gap((shared_data / "gap" / key).read_text(), key)
        got = lagrange.capacity_relaxation(arrays(inst), Budget(5))
        lp = solve(inst, "lp", Budget(10))
        assert got is not None and lp.bound is not None
        lval = got[0]
        assert lval <= table[key][1]
        assert lval >= lp.bound - 1 - 5e-4 * abs(lp.bound), (key, lval, lp.bound)


def test_lptabu_is_deterministic_feasible_and_bounded(shared_data: Path) -> None:
    """lptabu in deterministic mode on Yagiura e10200 gives the same assignment for the same seed, a
    feasible one, and a bound <= best known <= objective; a different seed still gives a valid answer."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["yagiura2004/e10200"]
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e10200").read_text(), "e10200")
    runs = [solve(inst, "lptabu", Budget(30, deterministic=True, seed=s)) for s in (3, 3, 4)]
    for r in runs:
        assert r.solution is not None and evaluate(inst, r.solution).feasible
        assert r.bound is not None and r.objective is not None
        assert r.bound <= best <= r.objective
    assert runs[0].solution == runs[1].solution


def test_lptabu_beats_greedy_on_a_large_type_e_instance(shared_data: Path) -> None:
    """On Yagiura e201600 (20 x 1600), where greedy constructions are poor on type E, lptabu with 3 s
    ends feasible within 1 % of the best known, with its bound below the best known and within
    returning time (budget + 0.3 s)."""
    import time

    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["yagiura2004/e201600"]
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e201600").read_text(), "e201600")
    t = time.monotonic()
    r = solve(inst, "lptabu", Budget(3))
    assert time.monotonic() - t < 3.3
    assert r.solution is not None and evaluate(inst, r.solution).feasible
    assert r.bound is not None and r.objective is not None
    assert r.bound <= best <= r.objective <= 1.01 * best


def test_reduced_cost_candidates_are_the_smallest_allowed() -> None:
    """Each task's candidate list holds its allowed agents by increasing reduced cost, -1 padded."""
    inst = generate(7, num_agents=4, num_tasks=9, kind="D", forbidden_fraction=0.4)
    a = arrays(inst)
    rc = np.random.default_rng(1).random((a.m, a.n))
    cand = tabu.reduced_cost_candidates(a, rc, k=3)
    for j in range(a.n):
        ok = [i for i in np.argsort(rc[:, j], kind="mergesort") if a.allowed[i, j]][:3]
        assert list(cand[j][: len(ok)]) == ok and (cand[j][len(ok) :] == -1).all()
    sol = Solution.from_array(np.argmin(np.where(a.allowed, rc, np.inf), axis=0))
    assert len(sol.assignment) == a.n


def test_merge_mip_is_feasible_and_no_worse_than_its_inputs(shared_data: Path) -> None:
    """The MIP over the union of two searches' pairs (Yagiura e10200, different seeds) returns a
    feasible assignment no worse than the better input and no better than the best known value."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["yagiura2004/e10200"]
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e10200").read_text(), "e10200")
    a = arrays(inst)
    got = lagrange.capacity_relaxation(a, Budget(1, deterministic=True))
    assert got is not None
    _lval, _v, start, rc = got
    cand = tabu.reduced_cost_candidates(a, rc)
    sols = []
    for seed in (1, 2):
        x = tabu.search(
            a, start, Budget(0.5, deterministic=True, seed=seed), cand=cand, chain=tabu.LARGE_CHAIN
        )
        assert x is not None and is_feasible(a, x)
        sols.append(x)
    sols.sort(key=lambda y: assignment_objective(a, y))
    stats: dict = {}
    y = tabu.merge_mip(a, sols, Budget(5), stats)
    assert y is not None and is_feasible(a, y)
    assert best <= assignment_objective(a, y) <= assignment_objective(a, sols[0])
    assert stats["merge_pairs"] <= 2 * a.n


def test_lptabu_multi_search_path_keeps_the_budget(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With short searches allowed (RUN_S 0.5 s), lptabu on Yagiura e201600 with 3 s runs several
    searches and the merge MIP, and still returns a feasible answer with bound <= best known <=
    objective within 3.3 s."""
    import time

    monkeypatch.setattr(tabu, "RUN_S", 0.5)
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["yagiura2004/e201600"]
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e201600").read_text(), "e201600")
    t = time.monotonic()
    r = solve(inst, "lptabu", Budget(3, seed=5))
    assert time.monotonic() - t < 3.3
    assert r.stats.get("searches", 0) >= 2
    assert r.solution is not None and evaluate(inst, r.solution).feasible
    assert r.bound is not None and r.objective is not None
    assert r.bound <= best <= r.objective
