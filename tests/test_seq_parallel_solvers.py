"""seq_parallel solvers: FlexSP baselines reproduced, verified answers, bounds, brute force, budget."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_seq_parallel_model import reference, reference_instances

from instances.seq_parallel import generate
from models.seq_parallel import Instance, evaluate
from solvers import Budget, Limit, Status, solve
from solvers.seq_parallel.common import cheap_lower_bound, group_time, usable_degrees

SAMPLE = Path(__file__).resolve().parent.parent / "instances" / "samples" / "seq_parallel.json"


def brute_force(inst: Instance) -> float:
    """Optimum by enumeration: set partitions of the sequences into micro-batches, and for each
    micro-batch every multiset of degrees summing to N with every assignment of its sequences."""
    n, N = inst.n, inst.num_gpus
    L = inst.sequences
    cap = inst.token_capacity
    degs = usable_degrees(inst)
    shapes = [
        c for k in range(1, N + 1) for c in itertools.combinations_with_replacement(degs, k) if sum(c) == N
    ]
    memo: dict[tuple[int, ...], float] = {}

    def mb_time(seqs: tuple[int, ...]) -> float:
        if seqs in memo:
            return memo[seqs]
        best = float("inf")
        for shape in shapes:
            for assign in itertools.product(range(len(shape)), repeat=len(seqs)):
                parts: list[list[int]] = [[] for _ in shape]
                for i, g in zip(seqs, assign, strict=True):
                    parts[g].append(L[i])
                if any(sum(p) > cap * d for p, d in zip(parts, shape, strict=True)):
                    continue
                best = min(best, max(group_time(inst, p, d) for p, d in zip(parts, shape, strict=True)))
        memo[seqs] = best
        return best

    def partitions(items: list[int]) -> Any:
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for p in partitions(rest):
            for k in range(len(p)):
                yield [*p[:k], [first, *p[k]], *p[k + 1 :]]
            yield [[first], *p]

    return min(sum(mb_time(tuple(sorted(b))) for b in p) for p in partitions(list(range(n))))


def test_bfd_max_reproduces_static_baseline(shared_data: Path) -> None:
    """bfd-max = FlexSP's static SP-64 BFD: per-batch times to 0.01 ms and 2 micro-batches each."""
    ref = reference(shared_data)["reference"]
    for inst, want, mbs in zip(
        reference_instances(shared_data),
        ref["static_bfd_sp64"],
        ref["static_bfd_sp64_microbatch_times"],
        strict=True,
    ):
        r = solve(inst, "bfd-max", Budget(10))
        assert r.objective is not None
        assert r.objective == pytest.approx(want, abs=0.01)
        times = [evaluate(inst, type(r.solution)((mb,))).objective for mb in r.solution.microbatches]
        assert times == pytest.approx(mbs, abs=0.01)


def test_bfd_reproduces_adaptive_baseline_and_all_degrees(shared_data: Path) -> None:
    """bfd = FlexSP's adaptive BFD (chosen degree and time per batch), and every feasible degree's
    total matches bfd_homo_sp_all_degrees_total_ms (infeasible degrees are infeasible here too)."""
    from solvers.seq_parallel.bfd import bfd_homo

    ref = reference(shared_data)["reference"]
    for k, inst in enumerate(reference_instances(shared_data)):
        r = solve(inst, "bfd", Budget(10))
        assert r.objective is not None
        assert r.objective == pytest.approx(ref["adaptive_bfd"][k], abs=0.01)
        assert r.stats["degree"] == ref["adaptive_bfd_chosen_sp"][k]
        want = ref["bfd_homo_sp_all_degrees_total_ms"][str(k + 3)]
        got = {str(d): res[0] for d in inst.degrees if (res := bfd_homo(inst, d)) is not None}
        assert got.keys() == want.keys()
        for d in want:
            assert got[d] == pytest.approx(want[d], abs=1e-5)
        assert r.objective is not None
        assert cheap_lower_bound(inst) <= r.objective


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny_instances_bound_opt_objective(seed: int) -> None:
    """4 GPUs, 3-4 sequences: cheap bound <= brute-force optimum <= every solver's objective, and auto
    proves optimality (objective = optimum)."""
    inst = generate(seed, n=3 + seed % 2, num_gpus=4, gpus_per_node=2, median=5000, sigma=1.0)
    opt = brute_force(inst)
    assert cheap_lower_bound(inst) <= opt + 1e-6
    for name in ("bfd", "bfd-max", "milp", "auto"):
        r = solve(inst, name, Budget(10, deterministic=True))
        if r.solution is None:
            continue
        assert evaluate(inst, r.solution).feasible
        assert r.objective is not None
        assert r.objective >= opt - 1e-6
        assert r.bound is None or r.bound <= opt + 1e-6
    r = solve(inst, "auto", Budget(10))
    assert r.status is Status.OPTIMAL
    assert r.objective is not None
    assert r.objective == pytest.approx(opt, rel=1e-9)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40), gpus=st.sampled_from([4, 8, 16]))
def test_answers_verified_and_bounded(seed: int, n: int, gpus: int) -> None:
    """Every solver's answer passes evaluate and bound <= objective on random instances."""
    inst = generate(seed, n=n, num_gpus=gpus, median=2000)
    for name in ("bfd", "bfd-max", "milp"):
        r = solve(inst, name, Budget(0.5))
        assert r.status in (Status.FEASIBLE, Status.OPTIMAL), (name, r.message)
        assert evaluate(inst, r.solution).feasible
        assert r.objective is not None
        assert r.bound is not None and r.bound <= r.objective + 1e-6


def test_milp_beats_or_matches_bfd_on_reference_batch(shared_data: Path) -> None:
    """On reference batch 3 the bucket MILP (1 s) is never worse than the adaptive baseline it starts
    from, and the cheap bound stays below it."""
    inst = reference_instances(shared_data)[0]
    bfd = solve(inst, "bfd", Budget(5))
    r = solve(inst, "auto", Budget(1.5))
    assert r.status is Status.FEASIBLE
    assert r.objective is not None and bfd.objective is not None
    assert r.objective <= bfd.objective + 1e-6
    assert r.objective is not None
    assert r.bound is not None and r.bound <= r.objective


def test_budget_honoured_on_big_instance() -> None:
    """Given 0.2 s on a 512-sequence batch, milp and auto return within ~0.2 s plus overhead."""
    inst = generate(1, n=512, num_gpus=64, median=400, sigma=1.3)
    for name in ("milp", "auto"):
        t0 = time.perf_counter()
        r = solve(inst, name, Budget(0.2))
        assert time.perf_counter() - t0 < 0.2 + 0.6
        assert r.solution is not None


def test_sample_solved_to_optimality_quickly() -> None:
    """The shipped sample is proved optimal by auto in under 2 s."""
    inst = Instance.from_dict(json.loads(SAMPLE.read_text()))
    t0 = time.perf_counter()
    r = solve(inst, "auto", Budget(10))
    assert r.status is Status.OPTIMAL
    assert time.perf_counter() - t0 < 2.0


def test_deterministic_for_a_seed() -> None:
    """Deterministic mode: the same instance and seed give the same plan. HiGHS has no deterministic
    work limit beyond its node limit, so the instance is one whose node-limited MILPs finish well
    inside the budget (limit NONE): then no wall-clock cut can make the two runs differ."""
    inst = generate(5, n=12, num_gpus=8, median=1500)
    a = solve(inst, "auto", Budget(30, deterministic=True, seed=3))
    b = solve(inst, "auto", Budget(30, deterministic=True, seed=3))
    assert a.limit is Limit.NONE and b.limit is Limit.NONE
    assert a.solution == b.solution
