"""The Lagrangian time-indexed bound (``ssdp``, :mod:`solvers.smtt.lagrange`): never above the
optimum (brute force on random tiny instances, published optima on wt40), a proof when the relaxation
meets the optimum, exactness without a time limit, the portfolio naming it, and cancellation."""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.smtt import generate
from models.smtt import Instance, Solution, evaluate, read_orlib_optima, read_orlib_wt
from solvers import Budget, Limit, Status, solve, warmup
from solvers.smtt.common import cost
from solvers.smtt.lagrange import CG_AFTER, Lagrangian


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warmup(["smtt"])


def brute_force(inst: Instance) -> tuple[int, np.ndarray]:
    best = min(itertools.permutations(range(inst.n)), key=lambda s: evaluate(inst, Solution(s)).objective)
    seq = np.asarray(best, dtype=np.int64)
    return cost(inst, seq), seq


def instances_of(data: tuple[list[int], list[int], list[int]]) -> Instance:
    p, d, w = data
    return Instance.from_arrays(p, d, w)


JOBS = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 9), min_size=n, max_size=n),
        st.lists(st.integers(0, 30), min_size=n, max_size=n),
        st.lists(st.integers(0, 5), min_size=n, max_size=n),
    )
)


@settings(max_examples=40, deadline=None)
@given(JOBS, st.randoms(use_true_random=False))
def test_bound_never_above_brute_force(data: tuple[list[int], list[int], list[int]], rnd: object) -> None:
    """From any upper-bound sequence (a random one, and the optimal one) the relaxation with
    elimination gives a bound <= optimum; a sequence it returns is a permutation costing at least the
    optimum, and then the bound is the optimum (its cost is the relaxation's value)."""
    inst = instances_of(data)
    opt, opt_seq = brute_force(inst)
    perm = list(range(inst.n))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    for seq in (np.asarray(perm, dtype=np.int64), opt_seq):
        lag = Lagrangian.build(inst, seq)
        if lag is None:  # only zero-length jobs: nothing to bound, and the optimum is 0
            assert opt == 0
            continue
        lag.run(Budget())
        assert lag.bound <= opt + 1e-6, (lag.bound, opt)
        if lag.sequence is not None:
            assert sorted(lag.sequence.tolist()) == list(range(inst.n))
            assert cost(inst, lag.sequence) >= opt
            assert lag.proved and math.ceil(lag.bound - 1e-6) == opt


@settings(max_examples=25, deadline=None)
@given(JOBS)
def test_ssdp_is_exact_without_a_time_limit(data: tuple[list[int], list[int], list[int]]) -> None:
    """Without a time limit ssdp (relaxation, elimination, CP-SAT on the arcs left) proves the optimum."""
    inst = instances_of(data)
    opt, _ = brute_force(inst)
    r = solve(inst, "ssdp", Budget())
    assert r.objective == opt
    assert r.bound is not None and r.bound <= opt
    assert r.status is Status.OPTIMAL


def test_relaxation_meets_the_optimum_is_a_proof() -> None:
    """p = (1, 2), d = 0: every path from 0 to 3 without adjacent repeats is a sequence, so the
    relaxation's minimum is the optimum (job 0 first: 1 + 3 = 4) and the bound proves it."""
    inst = Instance.from_arrays([1, 2], [0, 0], [1, 1])
    lag = Lagrangian.build(inst, np.array([1, 0], dtype=np.int64))
    assert lag is not None
    lag.run(Budget())
    assert lag.proved and lag.bound == 4
    assert lag.sequence is not None and cost(inst, lag.sequence) == 4
    r = solve(inst, "ssdp", Budget(), hint=Solution((1, 0)))
    assert r.status is Status.OPTIMAL and r.objective == 4 and r.bound_source == "ssdp"


@pytest.mark.parametrize("seed", range(4))
def test_all_jobs_in_memory_is_exact(seed: int) -> None:
    """With every job in the memory set a path must use each job once, so the relaxation is the
    problem itself: the bound equals the brute-force optimum and proves it, from any multipliers."""
    inst = generate(seed=seed, n=7, tf=0.6, rdd=0.4, p_max=9)
    opt, _ = brute_force(inst)
    lag = Lagrangian.build(inst, np.arange(inst.n, dtype=np.int64))
    assert lag is not None
    lag.mbit[:] = np.arange(lag.p.shape[0])
    lag.memory = lag.p.shape[0]
    lag.run(Budget())
    assert lag.proved and math.ceil(lag.bound - 1e-6) == opt
    assert lag.sequence is None or cost(inst, lag.sequence) == opt


@pytest.fixture(scope="module")
def wt40(shared_data: Path) -> tuple[list[Instance], list[int]]:
    t = shared_data / "tardiness"
    return read_orlib_wt((t / "wt40.txt").read_text(), 40, "wt40"), read_orlib_optima(
        (t / "wtopt40.txt").read_text()
    )


@pytest.mark.parametrize("k", [0, 13, 27, 44, 61, 88, 110])
def test_bound_never_above_known_optimum_wt40(wt40: tuple[list[Instance], list[int]], k: int) -> None:
    """On wt40 instances of every tardiness factor, with the rule sequence as UB: bound <= optimum, and
    ssdp's answer obeys objective >= optimum >= bound (OPTIMAL only at the optimum)."""
    insts, opt = wt40
    inst = insts[k]
    from solvers.smtt.rules import best_rule

    seq, _, _ = best_rule(inst)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None
    lag.run(Budget(0.5))
    assert lag.bound <= opt[k] + 1e-6
    r = solve(inst, "ssdp", Budget(0.5))
    assert r.objective is not None and r.bound is not None
    assert r.objective >= opt[k] >= r.bound
    assert r.status is not Status.OPTIMAL or r.objective == opt[k]
    assert "discarded" not in r.message


def test_auto_names_the_bound_that_proves() -> None:
    """A 30-job weighted instance: auto's bound comes from a named method and OPTIMAL only when the
    rounded-up bound equals the objective."""
    inst = generate(seed=3, n=30, tf=0.6, rdd=0.4)
    r = solve(inst, "auto", Budget(3.0))
    assert r.bound is not None and r.objective is not None
    assert r.bound_source in ("ssdp", "cpsat", "assignment", "spt_edd", "trivial")
    assert (r.status is Status.OPTIMAL) == (math.ceil(r.bound - 1e-6) >= r.objective)


def test_cancellation_stops_ssdp() -> None:
    """A cancelled budget stops the subgradient loop at its next poll (no result is lost)."""
    inst = generate(seed=5, n=60, tf=0.6, rdd=0.2)
    cancel = threading.Event()
    cancel.set()
    r = solve(inst, "ssdp", Budget(30.0, cancel=cancel))
    assert r.objective is not None
    assert r.status is Status.OPTIMAL or r.limit is Limit.CANCELLED


def _pair_respecting(inst: Instance, seq: tuple[int, ...], prec: np.ndarray) -> bool:
    """Whether every adjacent pair of ``seq`` is allowed by the stage-2 pair rule."""
    from solvers.smtt.pairdp import pair_ok

    t = 0
    for a, b in itertools.pairwise(seq):
        t += int(inst.p[a])
        if not pair_ok(a, b, t + int(inst.p[b]), inst.p, inst.d, inst.w, prec):
            return False
    return True


POSITIVE_JOBS = st.integers(2, 6).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(1, 6), min_size=n, max_size=n),
        st.lists(st.integers(0, 20), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


@settings(max_examples=200, deadline=None)
@given(POSITIVE_JOBS)
def test_pair_rule_keeps_an_optimal_sequence(data: tuple[list[int], list[int], list[int]]) -> None:
    """Some optimal sequence obeys every Emmons precedence and the adjacent-pair interchange rule at
    once (small ranges so that ties, equal jobs and zero weights are common)."""
    from solvers.smtt.dominance import precedes_matrix

    inst = instances_of(data)
    prec = precedes_matrix(inst).astype(np.uint8)
    opt, _ = brute_force(inst)
    ok = [
        s
        for s in itertools.permutations(range(inst.n))
        if evaluate(inst, Solution(s)).objective == opt
        and _pair_respecting(inst, s, prec)
        and all(s.index(i) < s.index(j) for i, j in zip(*np.nonzero(prec), strict=True))
    ]
    assert ok


@settings(max_examples=60, deadline=None)
@given(POSITIVE_JOBS, st.randoms(use_true_random=False))
def test_pair_dp_bound_never_above_brute_force(
    data: tuple[list[int], list[int], list[int]], rnd: object
) -> None:
    """The pair DP (stage 2) run from the start, with its elimination, from a random and from the
    optimal sequence, with subgradient steps first and with column generation from the first
    evaluation (:mod:`solvers.smtt.colgen`): bound <= optimum, and a sequence it returns is a
    permutation."""
    inst = instances_of(data)
    opt, opt_seq = brute_force(inst)
    perm = list(range(inst.n))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    for seq, colgen_first in itertools.product((np.asarray(perm, dtype=np.int64), opt_seq), (False, True)):
        lag = Lagrangian.build(inst, seq)
        assert lag is not None
        lag.stage = 2
        if colgen_first:
            lag.pair_evals = CG_AFTER
        lag.run(Budget())
        assert lag.bound <= opt + 1e-6, (lag.bound, opt)
        if lag.sequence is not None:
            assert sorted(lag.sequence.tolist()) == list(range(inst.n))
            assert cost(inst, lag.sequence) >= opt


def test_pair_dp_is_stronger_on_wt40(wt40: tuple[list[Instance], list[int]]) -> None:
    """On a wt40 instance the pair DP's bound from stage 1's multipliers is at least stage 1's and
    never above the published optimum."""
    insts, opt = wt40
    k = 61
    from solvers.smtt.rules import best_rule

    seq, _, _ = best_rule(insts[k])
    lag = Lagrangian.build(insts[k], seq)
    assert lag is not None
    lag.pairs = False
    lag.run(Budget(deterministic=True), max_rounds=30)
    b1 = lag.bound
    lag.stage = 2
    lag.st[1] = 0.25
    lag.run(Budget(deterministic=True), max_rounds=10)
    assert b1 - 1e-6 <= lag.bound <= opt[k] + 1e-6


def test_removal_savings_are_the_cost_drop_of_taking_a_job_out() -> None:
    """The initial multipliers: μ_j = cost(seq) - cost(seq without j), checked by recomputation
    (zero-length jobs keep no multiplier)."""
    from solvers.smtt.lagrange import removal_savings

    inst = generate(seed=2, n=9, tf=0.6, rdd=0.4, p_max=9)
    seq = np.random.default_rng(1).permutation(inst.n).astype(np.int64)
    pos = np.arange(inst.n, dtype=np.int64)
    mu = removal_savings(inst, seq, pos, inst.n)

    def total(s: list[int]) -> int:
        t, c = 0, 0
        for j in s:
            t += int(inst.p[j])
            c += int(inst.w[j]) * max(0, t - int(inst.d[j]))
        return c

    full = total(seq.tolist())
    for j in range(inst.n):
        assert mu[j] == full - total([x for x in seq.tolist() if x != j])


@pytest.mark.parametrize("k", [44, 88])
def test_repaired_upper_bound_is_a_sequence_of_that_cost(
    wt40: tuple[list[Instance], list[int]], k: int
) -> None:
    """From the EDD sequence (a poor UB) the Lagrangian heuristic of stage 2 lowers the UB: every
    lowered UB is at least the cost of the sequence it returns, never below the optimum, and the bound stays
    <= the optimum."""
    insts, opt = wt40
    inst = insts[k]
    seq = np.argsort(inst.d, kind="stable").astype(np.int64)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None
    ub0 = lag.ub
    lag.stage = 2
    lag.run(Budget(deterministic=True), max_rounds=20)
    assert lag.bound <= opt[k] + 1e-6
    if lag.ub < ub0:
        assert lag.sequence is not None
        assert sorted(lag.sequence.tolist()) == list(range(inst.n))
        # the repaired UB's sequence, or a cheaper one (a minimising path that is a permutation)
        assert opt[k] <= cost(inst, lag.sequence) <= lag.ub
    assert lag.stats.get("repairs", 0) > 0


def test_pair_masks_match_the_pair_rule_after_removals() -> None:
    """The pair DP with its stored allowed-pair bits gives the same forward and backward values as the
    scan that tests each pair, on 70 jobs (two words per mask), before and after removing arcs."""
    from solvers.smtt.lagrange import arc_lists
    from solvers.smtt.pairdp import keep_masks, pair_masks, pbackward, pforward, start_lists

    inst = generate(seed=11, n=70, tf=0.6, rdd=0.4)
    lag = Lagrangian.build(inst, np.arange(inst.n, dtype=np.int64))
    assert lag is not None
    rng = np.random.default_rng(0)
    n = lag.p.shape[0]
    empty = np.zeros((0, 1), dtype=np.uint64)
    ptr, jobs, arc = arc_lists(lag.allow, lag.p, lag.d, lag.w)
    sptr, sidx = start_lists(ptr, jobs, lag.p)
    fm, bm = pair_masks(lag.p, lag.d, lag.w, lag.prec, ptr, jobs, 2)
    for rnd in range(3):
        if rnd:  # drop a fifth of the arcs, then filter the masks as the run loop does
            t_of = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
            drop = rng.random(jobs.shape[0]) < 0.2
            lag.allow[t_of[drop], jobs[drop]] = 0
            fm, bm = keep_masks(fm, bm, ptr, jobs, lag.allow)
            ptr, jobs, arc = arc_lists(lag.allow, lag.p, lag.d, lag.w)
            sptr, sidx = start_lists(ptr, jobs, lag.p)
        assert fm.shape == (jobs.shape[0], 2)
        mu = rng.uniform(0, 50, n)
        out = []
        for f_mask, b_mask in ((fm, bm), (empty, empty)):
            na = jobs.shape[0]
            F, G, H = np.empty(na), np.empty(na), np.empty(na)
            P = np.empty(na, dtype=np.int64)
            sv, sj = np.empty(na), np.empty(na, dtype=np.int64)
            pforward(lag.p, lag.d, lag.w, lag.prec, mu, ptr, jobs, arc, F, P, sv, sj, np.arange(na), f_mask)
            pbackward(
                lag.p, lag.d, lag.w, lag.prec, mu, ptr, jobs, arc, sptr, G, H, sv, sj, sidx.copy(), b_mask
            )
            out.append((F, G))
        assert np.isfinite(out[1][0]).sum() > 0.5 * jobs.shape[0]  # the comparison is not vacuous
        np.testing.assert_array_equal(out[0][0], out[1][0])
        np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("k", [27, 61])
def test_stage4_sequence_becomes_the_upper_bound(wt40: tuple[list[Instance], list[int]], k: int) -> None:
    """From a random upper-bound sequence (no Lagrangian heuristic), CP-SAT on the arcs left finds
    better sequences: each becomes the UB that later rounds and tries eliminate against, the bound
    stays <= optimum, and a proof comes only at the optimum."""
    from solvers.smtt.lagrange import close_cpsat

    insts, opt = wt40
    inst = insts[k]
    seq = np.random.default_rng(k).permutation(inst.n).astype(np.int64)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None
    start = lag.ub
    assert start > opt[k]
    lag.ub_c = None  # no Lagrangian heuristic: only stage 4 can lower the UB
    for _ in range(3):
        lag.run(Budget(0.2))
        assert lag.ub == start or (lag.sequence is not None and cost(inst, lag.sequence) == lag.ub)
        close_cpsat(lag, Budget(2.0))
        assert lag.sequence is not None and cost(inst, lag.sequence) == lag.ub
        assert opt[k] <= lag.ub < start and lag.bound <= opt[k] + 1e-6
        if lag.proved:
            break
    assert not lag.proved or lag.ub == opt[k]


def test_sliced_ssdp_answers_stay_valid(wt40: tuple[list[Instance], list[int]]) -> None:
    """With a budget long enough for stage 4 between slices, from a random hint: objective >= optimum
    >= bound, OPTIMAL only at the optimum, and at least one CP-SAT try recorded."""
    insts, opt = wt40
    for k in (44, 88):
        inst = insts[k]
        hint = Solution(tuple(int(x) for x in np.random.default_rng(k).permutation(inst.n)))
        r = solve(inst, "ssdp", Budget(2.5), hint=hint)
        assert r.objective is not None and r.bound is not None
        assert r.objective >= opt[k] >= r.bound - 1e-6
        assert r.status is not Status.OPTIMAL or r.objective == opt[k]
        assert r.stats.get("cpsat_tries", 0) >= 1 or r.status is Status.OPTIMAL


@pytest.mark.parametrize("seed", range(4))
def test_stage4_keeps_only_the_memory_graphs_arcs(seed: int) -> None:
    """After one pruning of the memory graph, stage 4 drops the arcs no graph state carries; some
    optimal sequence obeying the precedences and the pair rule keeps all its arcs (the UB, a random
    sequence, is not optimal), and CP-SAT's answer is the optimum."""
    from solvers.smtt import memdp
    from solvers.smtt.dominance import precedes_matrix
    from solvers.smtt.lagrange import close_cpsat

    inst = generate(seed=seed, n=7, tf=0.6, rdd=0.4, p_max=9)
    opt, _ = brute_force(inst)
    seq = np.random.default_rng(seed).permutation(inst.n).astype(np.int64)
    lag = Lagrangian.build(inst, seq)
    assert lag is not None and np.all(lag.p > 0)
    if lag.ub == opt:
        pytest.skip("the random sequence is optimal")
    cancel = threading.Event()
    cancel.set()
    lag.stage = 3
    assert lag._run_graph(Budget(cancel=cancel))  # builds the graph, no rounds
    g = lag.graph
    assert g is not None
    F, G = np.empty(g[0].shape[0]), np.empty(g[0].shape[0])
    cnt = np.zeros(inst.n, dtype=np.int64)
    memdp.evaluate(*g, lag.p, lag.T, 0, lag.best_mu, F, G, cnt)
    lag.graph = memdp.prune(*g, lag.best_mu, F, G, float(lag.best_mu.sum()), lag._thr())
    states = set(zip(lag.graph[0].tolist(), lag.graph[1].tolist(), strict=True))
    close_cpsat(lag, Budget(10.0))
    assert set(zip(*np.nonzero(lag.allow), strict=True)) <= states
    prec = precedes_matrix(inst).astype(np.uint8)
    good = [
        s
        for s in itertools.permutations(range(inst.n))
        if evaluate(inst, Solution(s)).objective == opt
        and _pair_respecting(inst, s, prec)
        and all(s.index(i) < s.index(j) for i, j in zip(*np.nonzero(prec), strict=True))
    ]
    assert any(
        all((int(c), j) in states for c, j in zip(np.cumsum(inst.p[list(s)]), s, strict=True)) for s in good
    )
    assert lag.proved and lag.ub == opt and math.ceil(lag.bound - 1e-6) == opt
