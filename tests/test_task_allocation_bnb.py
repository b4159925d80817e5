"""The Lagrangian branch and bound (``bnb``): exact answers checked against enumeration and HiGHS,
proofs of published optima, valid bounds when stopped early, the budget."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_task_allocation_metaheuristics import brute_force  # tests/ is on sys.path (pytest rootdir import)

from instances.task_allocation import generate
from models.task_allocation import evaluate, read_best_known, read_orlib_gap
from solvers import Budget, Status, solve
from solvers.registry import warmup
from solvers.task_allocation import _kernels as K
from solvers.task_allocation import bnb
from solvers.task_allocation._data import arrays


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup(["task_allocation"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(2, 3),
    n=st.integers(3, 8),
    kind=st.sampled_from(["C", "D"]),
    tight=st.sampled_from([0.5, 0.8, 1.0]),
    hinted=st.booleans(),
)
def test_bnb_matches_enumeration(seed: int, m: int, n: int, kind: str, tight: float, hinted: bool) -> None:
    """Without a hint bnb proves the optimum or infeasibility; with a feasible hint (the greedy one, so
    the search runs by guesses from the root bound) it proves the optimum. Either way the answer is
    the enumerated optimum."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=tight, forbidden_fraction=0.2)
    opt = brute_force(inst)
    hint = None
    if hinted:
        hint = solve(inst, "greedy", Budget(1)).solution
        if hint is None:
            return
    r = solve(inst, "bnb", Budget(10), hint=hint)
    if opt is None:
        assert r.status == Status.INFEASIBLE and r.solution is None
        return
    assert r.status == Status.OPTIMAL, r.stats
    assert r.objective == opt and evaluate(inst, r.solution).feasible


@pytest.mark.parametrize("seed", range(12))
def test_bnb_matches_the_mip_optimum(seed: int) -> None:
    """On 4-6 agent, 14-24 task instances (too large to enumerate) bnb's proved optimum is HiGHS's."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(4, 7)), int(rng.integers(14, 25))
    inst = generate(
        seed,
        num_agents=m,
        num_tasks=n,
        kind="CD"[seed % 2],
        tightness=(0.7, 0.9)[seed % 4 // 2],
        forbidden_fraction=0.1,
    )
    mip = solve(inst, "mip", Budget(30))
    hint = solve(inst, "greedy", Budget(1)).solution
    r = solve(inst, "bnb", Budget(30), hint=hint)
    assert mip.status == Status.OPTIMAL
    assert r.status == Status.OPTIMAL, r.stats
    assert r.objective == mip.objective


@pytest.mark.parametrize(
    "name", ["chu1997/c20200", "chu1997/c10200", "chu1997/d05100", "cattrysse1994/gap12-0"]
)
def test_bnb_proves_published_optima(shared_data: Path, name: str) -> None:
    """From a greedy hint bnb proves the published optimum (c20200 and d05100 are where HiGHS and
    CP-SAT did not within 10 s)."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, status = table[name]
    assert status == "optimal"
    [inst] = read_orlib_gap((shared_data / "gap" / name).read_text(), name)
    hint = solve(inst, "greedy", Budget(1)).solution
    r = solve(inst, "bnb", Budget(60), hint=hint)
    assert r.status == Status.OPTIMAL, r.stats
    assert r.objective == best and r.bound == best


def test_bnb_stopped_early_keeps_the_hint_and_a_valid_bound(shared_data: Path) -> None:
    """On d20200 (not provable in a second) bnb returns within the budget with the hint's solution
    (or a better one) and a bound between the root bound and the best known value."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["chu1997/d20200"]
    [inst] = read_orlib_gap((shared_data / "gap/chu1997/d20200").read_text(), "d20200")
    hint = solve(inst, "greedy", Budget(1))
    assert hint.solution is not None and hint.objective is not None
    t = time.perf_counter()
    r = solve(inst, "bnb", Budget(1.0), hint=hint.solution)
    assert time.perf_counter() - t < 1.3
    assert r.status == Status.FEASIBLE and r.objective is not None and r.objective <= hint.objective
    lag = solve(inst, "lagrange", Budget(1.0))
    assert lag.bound is not None and r.bound is not None
    assert lag.bound - 1 <= r.bound <= best


def test_bnb_is_deterministic_for_a_seed() -> None:
    inst = generate(3, num_agents=5, num_tasks=40, kind="D", tightness=0.8)
    hint = solve(inst, "greedy", Budget(1)).solution
    a = solve(inst, "bnb", Budget(20, deterministic=True), hint=hint)
    b = solve(inst, "bnb", Budget(20, deterministic=True), hint=hint)
    assert a.solution == b.solution and a.bound == b.bound and a.stats["bnb_nodes"] == b.stats["bnb_nodes"]


def test_bnb_declines_what_it_does_not_handle() -> None:
    """Two capacitated resources or the makespan objective: no answer and no bound, not a wrong one."""
    two = generate(1, num_agents=3, num_tasks=8, num_resources=2)
    span = generate(1, num_agents=3, num_tasks=8, objective="makespan")
    for inst in (two, span):
        r = solve(inst, "bnb", Budget(2))
        assert r.solution is None and r.stats.get("skipped") and "use auto or mip" in r.message


def test_residual_fixes_single_pair_tasks_and_detects_overload() -> None:
    """Tasks with one pair left are fixed (cost counted, demand off the capacity); free pairs that no
    longer fit are dropped; a fixed overload or a task without pairs closes the node."""
    cost = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    dem = np.array([[2, 2, 3], [1, 4, 1]], dtype=np.int64)
    cap = np.array([4, 4], dtype=np.int64)
    allowed = np.array([[True, True, True], [False, True, True]])
    fixed = np.zeros(3, np.int64)
    rcap = np.zeros(2, np.int64)
    free_ok = np.zeros((2, 3), np.bool_)
    const = K.bnb_residual(cost, dem, cap, allowed, fixed, rcap, free_ok)
    assert const == 1.0 and fixed.tolist() == [0, -1, -1]
    assert rcap.tolist() == [2, 4]  # agent 1: capacity 4 < the free demand 5, kept
    # agent 0 has 2 left: task 2 (demand 3) no longer fits there
    assert free_ok.tolist() == [[False, True, False], [False, True, True]]
    over = np.array([[True, False, True], [False, True, False]])  # fixes 0 and 2 on agent 0: 5 > 4
    assert math.isinf(K.bnb_residual(cost, dem, cap, over, fixed, rcap, free_ok))
    none = np.array([[True, False, False], [False, True, False]])
    assert math.isinf(K.bnb_residual(cost, dem, cap, none, fixed, rcap, free_ok))


def test_bnb_applicable_follows_the_knapsack_bound() -> None:
    assert bnb.applicable(arrays(generate(0, num_agents=3, num_tasks=10)))
    assert not bnb.applicable(arrays(generate(0, num_agents=3, num_tasks=10, num_resources=2)))


@pytest.mark.parametrize("name", ["chu1997/c20200", "chu1997/d05100"])
def test_auto_proves_what_the_mip_alone_did_not(shared_data: Path, name: str) -> None:
    """auto's small-instance chain (greedy, lagrange, bnb, ...) proves the published optimum of two
    instances HiGHS did not prove within 10 s, inside a 10 s budget; bnb found the optimum or proved
    the bound (on c20200 the Lagrangian bound already rounds up to the optimum)."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table[name]
    [inst] = read_orlib_gap((shared_data / "gap" / name).read_text(), name)
    r = solve(inst, "auto", Budget(10))
    assert r.status == Status.OPTIMAL and r.objective == best
    assert r.solver == "auto(bnb)" or "branch and bound" in r.bound_source


def test_resume_goes_on_from_the_guesses_already_proved(shared_data: Path) -> None:
    """A first run stopped early leaves its proved guess; resume starts there (fewer rounds than a
    fresh run to the same answer) and still proves the published optimum; forget drops it."""
    [inst] = read_orlib_gap((shared_data / "gap/chu1997/d05100").read_text(), "d05100")
    hint = solve(inst, "greedy", Budget(1)).solution
    bnb.forget()
    first = bnb.run(inst, Budget(0.3), hint)
    assert not first.stats.get("bnb_complete") and first.bound is not None
    again = bnb.resume(inst, Budget(30), hint)
    fresh = bnb.run(inst, Budget(30), hint)
    assert again.stats["bnb_complete"] and fresh.stats["bnb_complete"]
    assert again.bound == fresh.bound == 6353
    assert again.stats["bnb_rounds"] < fresh.stats["bnb_rounds"]
    bnb.forget()
    assert bnb._ROOT == {}
