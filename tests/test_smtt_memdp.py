"""Stage 3 of the Lagrangian bound, the memory-state graph (:mod:`solvers.smtt.memdp`): with every job
in memory the graph's paths are exactly the sequences obeying the pair rule and the precedences, so
its minimum is the optimum; pruning with UB and then growing memory never cuts below the optimum; the
whole stage, run from the start, never bounds above brute force; and the chain reaches and closes it
on a generated instance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.smtt import generate
from models.smtt import Instance, Solution, evaluate
from solvers import Budget, warmup
from solvers.smtt import memdp
from solvers.smtt.common import cost
from solvers.smtt.lagrange import Lagrangian, arc_lists

POSITIVE_JOBS = st.integers(2, 6).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(1, 6), min_size=n, max_size=n),
        st.lists(st.integers(0, 20), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


def setup_module() -> None:
    warmup(["smtt"])


def brute_force(inst: Instance) -> int:
    return min(evaluate(inst, Solution(s)).objective for s in itertools.permutations(range(inst.n)))


def graph_of(lag: Lagrangian) -> memdp.Graph:
    ptr, jobs, arc = arc_lists(lag.allow, lag.p, lag.d, lag.w)
    return memdp.build(lag.p, lag.d, lag.w, lag.prec, ptr, jobs, arc, 10**9)


def with_memory(lag: Lagrangian, g: memdp.Graph, order: list[int]) -> tuple[memdp.Graph, int]:
    """``g`` with the jobs of ``order`` made memory jobs one by one; returns (graph, full mask)."""
    for b, j in enumerate(order):
        lo, hi = memdp.windows(g[0], g[1], lag.p.shape[0])
        g = memdp.expand(*g, lag.p, j, b, int(lo[j]), int(hi[j]))
    return g, (1 << len(order)) - 1


def value(lag: Lagrangian, g: memdp.Graph, full: int, mu: np.ndarray) -> tuple[float, np.ndarray]:
    """L(mu) on ``g`` and the job counts of its minimising path."""
    F = np.empty(g[0].shape[0])
    G = np.empty(g[0].shape[0])
    cnt = np.zeros(lag.p.shape[0], dtype=np.int64)
    return memdp.evaluate(*g, lag.p, lag.T, full, mu, F, G, cnt), cnt


@settings(max_examples=60, deadline=None)
@given(POSITIVE_JOBS, st.randoms(use_true_random=False))
def test_split_estimate_bounds_the_growth_of_an_expansion(
    data: tuple[list[int], list[int], list[int]], rnd: object
) -> None:
    """``windows`` is each job's first and last completion over the states, and the estimate stage 3
    ranks its memory jobs by is never below the number of states an expansion adds (a state split in
    two adds one, a state kept once adds none, one dropped removes one)."""
    inst = Instance.from_arrays(*data)
    lag = Lagrangian.build(inst, np.arange(inst.n, dtype=np.int64))
    assert lag is not None
    order = list(range(inst.n))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    g, _ = with_memory(lag, graph_of(lag), order[: inst.n // 2])
    lo, hi = memdp.windows(g[0], g[1], inst.n)
    for j in range(inst.n):
        ts = g[0][g[1] == j]
        assert (lo[j], hi[j]) == ((ts.min(), ts.max()) if ts.size else (np.iinfo(np.int64).max, -1))
    for m in order[inst.n // 2 :]:
        grown = memdp.expand(*g, lag.p, m, inst.n // 2, int(lo[m]), int(hi[m]))
        assert grown[0].shape[0] - g[0].shape[0] <= memdp.split_estimate(g[0], lag.p, lo, hi, m)


@settings(max_examples=80, deadline=None)
@given(POSITIVE_JOBS, st.randoms(use_true_random=False))
def test_every_job_in_memory_gives_the_optimum(
    data: tuple[list[int], list[int], list[int]], rnd: object
) -> None:
    """All jobs in memory (added in a random order) and any multipliers: each path uses every job
    once, so L(μ) is the cost of the best pair-respecting sequence, which is the optimum."""
    inst = Instance.from_arrays(*data)
    opt = brute_force(inst)
    lag = Lagrangian.build(inst, np.arange(inst.n, dtype=np.int64))
    assert lag is not None
    order = list(range(inst.n))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    g, full = with_memory(lag, graph_of(lag), order)
    mu = np.array([rnd.uniform(-20, 20) for _ in range(inst.n)])  # type: ignore[attr-defined]
    L, cnt = value(lag, g, full, mu)
    assert math.isclose(L, opt, abs_tol=1e-6), (L, opt)
    assert (cnt == 1).all()


@settings(max_examples=60, deadline=None)
@given(POSITIVE_JOBS, st.randoms(use_true_random=False))
def test_pruning_keeps_a_path_below_ub(data: tuple[list[int], list[int], list[int]], rnd: object) -> None:
    """Prune with UB = optimum + 1 under random multipliers, then put every job in memory: the optimum
    is still a path (the states and edges pruned lie on no path of cost < UB)."""
    inst = Instance.from_arrays(*data)
    opt = brute_force(inst)
    lag = Lagrangian.build(inst, np.arange(inst.n, dtype=np.int64))
    assert lag is not None
    mu = np.array([rnd.uniform(-10, 10) for _ in range(inst.n)])  # type: ignore[attr-defined]
    g = graph_of(lag)
    F = np.empty(g[0].shape[0])
    G = np.empty(g[0].shape[0])
    cnt = np.zeros(inst.n, dtype=np.int64)
    memdp.evaluate(*g, lag.p, lag.T, 0, mu, F, G, cnt)
    g = memdp.prune(*g, mu, F, G, float(mu.sum()), opt + 1 - 1.0 + 1e-9)
    g, full = with_memory(lag, g, list(range(inst.n)))
    L, _ = value(lag, g, full, np.zeros(inst.n))
    assert math.isclose(L, opt, abs_tol=1e-6), (L, opt)


@settings(max_examples=60, deadline=None)
@given(POSITIVE_JOBS, st.randoms(use_true_random=False))
def test_graph_stage_bound_never_above_brute_force(
    data: tuple[list[int], list[int], list[int]], rnd: object
) -> None:
    """Stage 3 run from the start (from a random and from the optimal sequence): bound <= optimum, a
    returned sequence is a permutation, and with no time limit the stage proves the optimum."""
    inst = Instance.from_arrays(*data)
    opt = brute_force(inst)
    perm = list(range(inst.n))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    for seq in (np.asarray(perm, dtype=np.int64), None):
        lag = Lagrangian.build(inst, seq if seq is not None else _optimal(inst, opt))
        assert lag is not None
        lag.stage = 3
        lag.run(Budget())
        assert lag.bound <= opt + 1e-6, (lag.bound, opt)
        assert lag.proved
        best = cost(inst, lag.sequence) if lag.sequence is not None else lag.ub
        assert best == opt and math.ceil(lag.bound - 1e-6) == opt
        if lag.sequence is not None:
            assert sorted(lag.sequence.tolist()) == list(range(inst.n))


def _optimal(inst: Instance, opt: int) -> np.ndarray:
    for s in itertools.permutations(range(inst.n)):
        if evaluate(inst, Solution(s)).objective == opt:
            return np.asarray(s, dtype=np.int64)
    raise AssertionError("no optimal permutation")


def test_graph_stage_proves_a_generated_instance() -> None:
    """n = 20 from the OR-Library generator: the Lagrangian chain alone (stages 1-3, no CP-SAT) from
    the rules' sequence ends in the memory graph and proves the optimum of the subset DP."""
    from solvers import Status, solve
    from solvers.smtt.rules import best_rule

    inst = generate(seed=5, n=20, tf=0.6, rdd=0.6, p_max=20)
    ref = solve(inst, "dp", Budget(60))
    assert ref.status is Status.OPTIMAL and ref.objective is not None
    seq, _, _ = best_rule(inst)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None
    lag.run(Budget(30))
    assert lag.stage == 3 and lag.proved, lag.stats
    assert math.ceil(lag.bound - 1e-6) == ref.objective
    best = cost(inst, lag.sequence) if lag.sequence is not None else lag.ub
    assert best == ref.objective


def test_too_many_arcs_for_the_graph_falls_back_to_the_pair_dp(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a graph cap below the arcs left, stage 3 is refused and the Lagrangian goes on without it
    (evaluations are made, no graph is built) with a finite bound <= the subset-DP optimum (before,
    the refused graph ended the bound with no evaluation at all)."""
    from solvers import Status, solve
    from solvers.smtt import lagrange
    from solvers.smtt.rules import best_rule

    inst = generate(seed=5, n=20, tf=0.6, rdd=0.6, p_max=20)
    ref = solve(inst, "dp", Budget(60))
    assert ref.status is Status.OPTIMAL and ref.objective is not None
    monkeypatch.setattr(lagrange, "MAX_GRAPH_EDGES", 1)
    seq, _, _ = best_rule(inst)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None
    lag.stage = 3
    lag.run(Budget(deterministic=True), max_rounds=200)
    assert lag.graph is None and not lag.graphs and lag.stage in (1, 2)
    assert lag.stats["evals"] > 0
    assert -math.inf < lag.bound <= ref.objective + 1e-6
