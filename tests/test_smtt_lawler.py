"""Lawler's decomposition DP for unweighted SMTT, iterated dynasearch, and the benchmark helpers."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.smtt import generate
from models.smtt import Instance, Solution, evaluate
from solvers import Budget, Status, solve, warmup
from solvers.smtt import lawler
from solvers.smtt.common import cost
from solvers.smtt.dynasearch import dynasearch_pass
from solvers.smtt.lawler import solve_lawler
from solvers.smtt.subset_dp import subset_dp


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warmup(["smtt"])


def brute_force(inst: Instance) -> int:
    return min(int(evaluate(inst, Solution(s)).objective) for s in itertools.permutations(range(inst.n)))


@settings(max_examples=120, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 6), min_size=n, max_size=n),
            st.lists(st.integers(0, 25), min_size=n, max_size=n),
        )
    )
)
def test_lawler_matches_brute_force(data: tuple[list[int], list[int]]) -> None:
    """On tie-heavy random unweighted instances the DP's value is the brute-force optimum and its
    sequence is a permutation achieving it (pins the decomposition and the position elimination)."""
    p, d = data
    inst = Instance.from_arrays(p, d, None)
    seq, value, _ = solve_lawler(inst, Budget(10.0))
    assert sorted(seq.tolist()) == list(range(inst.n))
    assert cost(inst, seq) == value == brute_force(inst)


@pytest.mark.parametrize("seed", range(6))
def test_lawler_table_growth_and_resumes_match_the_python_reference(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a 16-slot first table and 5 states per Numba call (hundreds of interrupted calls, resumed
    from the memo, and table doublings) the Numba DP returns the value of the Python reference (keyed by
    (i, j, K, t), not canonically) and a sequence of that cost, on tie-heavy 60-job instances."""
    monkeypatch.setattr(lawler, "FIRST_CAPACITY", 16)
    monkeypatch.setattr(lawler, "STATES_PER_CALL", 5)
    rng = np.random.default_rng(seed)
    p = rng.integers(1, 12, 60)
    d = rng.integers(int(p.sum() * 0.2), int(p.sum() * 0.6), 60)
    inst = Instance.from_arrays(p.tolist(), d.tolist(), None)
    seq, value, states = solve_lawler(inst, Budget(30.0))
    _, ref, _ = lawler.solve_lawler_py(inst, Budget(30.0))
    assert states > 100
    assert sorted(seq.tolist()) == list(range(60))
    assert cost(inst, seq) == value == ref


def test_lawler_gives_up_at_the_state_cap() -> None:
    """max_states reached: no answer (the _Stop the registry turns into NO_SOLUTION), never a value."""
    inst = generate(seed=500002, n=200, tf=0.6, rdd=0.6, weighted=False)
    with pytest.raises(lawler._Stop):
        solve_lawler(inst, Budget(30.0), max_states=1000)


def test_lawler_proves_medium_instances_and_auto_uses_it() -> None:
    """auto on an unweighted 60-job instance is OPTIMAL with the bound from lawler, and its objective
    equals the lawler value; ids (a heuristic) is never below it."""
    inst = generate(seed=3, n=60, tf=0.6, rdd=0.4, weighted=False)
    r = solve(inst, "auto", Budget(10.0))
    assert r.status is Status.OPTIMAL and r.bound_source == "lawler"
    _, value, _ = solve_lawler(inst, Budget(10.0))
    assert r.objective == value
    h = solve(inst, "ids", Budget(0.3))
    assert h.objective is not None and h.objective >= value


def test_lawler_refuses_weighted_and_honours_budget() -> None:
    """Weighted instances get NO_SOLUTION (not an error); a 0.3 s budget on a hard 400-job instance
    returns within ~0.3 s more with NO_SOLUTION and limit TIME (never a wrong proof)."""
    r = solve(generate(seed=1, n=10), "lawler", Budget(1.0))
    assert r.status is Status.NO_SOLUTION
    inst = generate(seed=500002, n=400, tf=0.6, rdd=0.6, weighted=False)
    t0 = time.perf_counter()
    r = solve(inst, "lawler", Budget(0.3))
    took = time.perf_counter() - t0
    assert took < 0.6, took
    if r.status is not Status.OPTIMAL:
        assert r.status is Status.NO_SOLUTION and str(r.limit) == "TIME"


def _best_independent_swaps(inst: Instance, seq: list[int]) -> int:
    """Brute force over every set of non-overlapping swaps of ``seq``: the best cost reachable."""
    n = len(seq)
    best = cost(inst, np.asarray(seq, dtype=np.int64))

    def rec(pos: int, s: list[int]) -> None:
        nonlocal best
        if pos >= n:
            best = min(best, cost(inst, np.asarray(s, dtype=np.int64)))
            return
        rec(pos + 1, s)
        for k in range(pos + 1, n):
            t = list(s)
            t[pos], t[k] = t[k], t[pos]
            rec(k + 1, t)

    rec(0, list(seq))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_dynasearch_pass_is_the_best_independent_swap_set(seed: int) -> None:
    """One dynasearch pass reaches exactly the best cost over all sets of independent swaps, and
    returns the decrease it applied."""
    inst = generate(seed=seed, n=7, tf=0.6, rdd=0.8)
    seq = np.random.default_rng(seed).permutation(7).astype(np.int64)
    before = cost(inst, seq)
    want = _best_independent_swaps(inst, seq.tolist())
    gain = dynasearch_pass(seq, inst.p, inst.d, inst.w)
    assert sorted(seq.tolist()) == list(range(7))
    assert before - gain == cost(inst, seq) == want


def test_ids_deterministic_and_budgeted() -> None:
    """ids in deterministic mode gives the same sequence for a seed; with 0.2 s on 300 jobs it returns
    within ~0.3 s more with a feasible sequence no worse than the best rule."""
    inst = generate(seed=5, n=40, tf=0.6, rdd=0.4)
    a = solve(inst, "ids", Budget(1.0, deterministic=True, seed=3))
    b = solve(inst, "ids", Budget(1.0, deterministic=True, seed=3))
    assert a.solution == b.solution and a.stats["kicks"] == b.stats["kicks"] > 0
    big = generate(seed=2, n=300, tf=0.8)
    t0 = time.perf_counter()
    r = solve(big, "ids", Budget(0.2))
    assert time.perf_counter() - t0 < 0.5
    rules = solve(big, "rules", Budget(1.0))
    assert r.objective is not None and rules.objective is not None and r.objective <= rules.objective


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 6), min_size=n, max_size=n),
            st.lists(st.integers(0, 25), min_size=n, max_size=n),
            st.lists(st.integers(0, 4), min_size=n, max_size=n),
        )
    )
)
def test_subset_dp_matches_brute_force(data: tuple[list[int], list[int], list[int]]) -> None:
    """The weighted subset DP (with dominance pruning) returns a permutation whose cost is the
    brute-force optimum, including zero weights, zero lengths and identical jobs."""
    p, d, w = data
    inst = Instance.from_arrays(p, d, w)
    out = subset_dp(inst, Budget(10.0))
    assert out is not None
    seq, value = out
    assert sorted(seq.tolist()) == list(range(inst.n))
    assert cost(inst, seq) == value == brute_force(inst)


def test_subset_dp_proves_n20_against_cpsat_and_honours_budget() -> None:
    """dp on a weighted 20-job instance is OPTIMAL, and ids never finds better; with a 0.05 s budget
    on 22 jobs it returns quickly (optimal or no solution, never a wrong bound)."""
    inst = generate(seed=7, n=20, tf=0.6, rdd=0.4)
    r = solve(inst, "dp", Budget(10.0))
    assert r.status is Status.OPTIMAL and r.objective is not None
    h = solve(inst, "ids", Budget(0.3))
    assert h.objective is not None and h.objective >= r.objective
    big = generate(seed=8, n=22, tf=0.8, rdd=0.2)
    t0 = time.perf_counter()
    r2 = solve(big, "dp", Budget(0.05))
    assert time.perf_counter() - t0 < 0.5
    assert r2.status in (Status.OPTIMAL, Status.NO_SOLUTION)
