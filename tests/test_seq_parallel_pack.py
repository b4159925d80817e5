"""seq_parallel: the pack heuristic, the LP bound and the flexsp benchmark (issue 5 targets)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_seq_parallel_model import reference, reference_instances
from test_seq_parallel_solvers import brute_force

from instances.seq_parallel import generate
from models.seq_parallel import Instance, evaluate, preset
from solvers import Budget, Status, solve
from solvers.seq_parallel import bench
from solvers.seq_parallel.common import cheap_lower_bound
from solvers.seq_parallel.lpbound import _rgs, lp_lower_bound

FLEXSP_DEGREES = [2, 4, 8, 16, 32, 64]


def flexsp_instances(shared_data: Path) -> list[Instance]:
    """The reference batches restricted to FlexSP's candidate degrees (its MILP never uses degree 1)."""
    out = []
    for inst in reference_instances(shared_data):
        doc = inst.to_dict()
        doc["degrees"] = FLEXSP_DEGREES
        out.append(Instance.from_dict(doc))
    return out


def test_restricted_growth_strings_cover_relabelled_assignments() -> None:
    """Symmetry breaking of the LP enumerates exactly one representative per relabelling class:
    the Bell-number count of set partitions into at most m labelled-up-to-permutation blocks."""
    assert len(_rgs(3, 2)) == 4  # {abc}, {ab|c}, {ac|b}, {a|bc}
    assert len(_rgs(3, 3)) == 5
    assert len(_rgs(4, 4)) == 15
    assert all(p[0] == 0 for p in _rgs(3, 3))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tiny_lp_bound_below_brute_force_optimum(seed: int) -> None:
    """On tiny instances: cheap bound <= LP bound <= brute-force optimum <= pack / pack-deep objective."""
    inst = generate(seed, n=3 + seed % 2, num_gpus=4, gpus_per_node=2, median=5000, sigma=1.0)
    opt = brute_force(inst)
    lb, _ = lp_lower_bound(inst, Budget(10))
    assert lb is not None
    assert cheap_lower_bound(inst) <= lb + 1e-9
    assert lb <= opt + 1e-6
    if math.isinf(opt):  # some sequence fits no usable degree: nothing to pack
        return
    for name in ("pack", "pack-deep"):
        r = solve(inst, name, Budget(10))
        assert r.solution is not None and evaluate(inst, r.solution).feasible
        assert r.objective is not None
        assert r.objective >= opt - 1e-6


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    gpus=st.sampled_from([4, 8, 16, 32]),
    gpn=st.sampled_from([2, 4, 8]),
    degrees=st.sampled_from([None, [1, 2, 4], [2, 4, 8, 16, 32]]),
)
def test_pack_plans_verified_and_lp_below(
    seed: int, n: int, gpus: int, gpn: int, degrees: list[int] | None
) -> None:
    """pack's plan passes evaluate (every sequence once, degrees sum to N, memory) whenever it returns
    one, and the LP bound never exceeds it."""
    degs = None if degrees is None else [d for d in degrees if d <= gpus]
    inst = generate(seed, n=n, num_gpus=gpus, gpus_per_node=gpn, median=2500, degrees=degs)
    r = solve(inst, "pack", Budget(2))
    if r.solution is None:
        return
    ev = evaluate(inst, r.solution)
    assert ev.feasible, ev.violations[:3]
    lb, _ = lp_lower_bound(inst, Budget(5))
    assert r.objective is not None
    assert lb is None or lb <= r.objective + 1e-6


def test_reference_pack_targets(shared_data: Path) -> None:
    """Issue target (3): pack alone totals <= 19.0 s over the five reference steps (FlexSP's MILP:
    18.08 s) and every plan passes evaluate; the wall-time target (100 ms per step) is measured by the
    benchmark, here only a loose 2 s per step guards against a blow-up on a shared machine."""
    total = 0.0
    for inst in flexsp_instances(shared_data):
        t0 = time.perf_counter()
        r = solve(inst, "pack", Budget(5))
        assert time.perf_counter() - t0 < 2.0
        assert r.solution is not None and evaluate(inst, r.solution).feasible
        assert r.objective is not None
        total += r.objective
    assert total <= 19_000.0


def test_lp_bound_below_flexsp_plans_and_above_cheap(shared_data: Path) -> None:
    """The LP bound is a true bound: below the step time of FlexSP's own logged plans (feasible plans
    of the same batches) and of pack's plans, and at least the cheap bound."""
    ref = reference(shared_data)["reference"]
    for k, inst in enumerate(flexsp_instances(shared_data)):
        lb, _ = lp_lower_bound(inst, Budget(10))
        assert lb is not None
        assert lb <= min(ref["flexsp_milp_10s"][k], ref["flexsp_milp_10s_rerun"][k]) + 1e-6
        assert lb >= cheap_lower_bound(inst) - 1e-9
        r = solve(inst, "pack", Budget(5))
        assert r.objective is not None
        assert lb <= r.objective + 1e-6


def test_auto_beats_flexsp_with_certified_gap(shared_data: Path) -> None:
    """Issue target (2) on one reference step (iteration 3): auto returns a plan faster than FlexSP's
    logged 10 s-per-micro-batch plan and a bound from the LP (bound_source names it). 2 s rather than
    the target's 1 s: the test must not fail on a loaded shared machine (the benchmark measures 1 s)."""
    ref = reference(shared_data)["reference"]
    inst = flexsp_instances(shared_data)[0]
    r = solve(inst, "auto", Budget(2.0))
    assert r.status is Status.FEASIBLE
    assert r.objective is not None
    assert r.objective < ref["flexsp_milp_10s"][0]
    assert r.bound is not None and r.bound > cheap_lower_bound(inst)
    assert "lp" in r.bound_source


def test_budget_honoured_by_pack_deep_and_lp() -> None:
    """With 0.2 s on a 512-sequence batch, pack-deep and lp return within 0.2 s plus overhead, and
    pack-deep still returns a plan."""
    inst = generate(3, n=512, num_gpus=64, median=400, sigma=1.5)
    for name in ("pack-deep", "lp", "auto"):
        t0 = time.perf_counter()
        r = solve(inst, name, Budget(0.2))
        assert time.perf_counter() - t0 < 0.2 + 0.5, name
        if name != "lp":
            assert r.solution is not None


def test_pack_deterministic() -> None:
    """pack-deep in deterministic mode gives the same plan twice (it never reads the clock there)."""
    inst = generate(7, n=200, num_gpus=32, median=600, sigma=1.4)
    a = solve(inst, "pack-deep", Budget(30, deterministic=True))
    b = solve(inst, "pack-deep", Budget(30, deterministic=True))
    assert a.solution == b.solution


def test_bench_reference_table(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """allot bench flexsp prints the reference table with FlexSP's columns and a total row; the
    static baseline's total reproduces FlexSP's 31,671.9 ms."""
    rc = bench.main(["--data", str(shared_data), "--set", "reference", "--planners", "bfd-max,pack"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "FlexSP MILP 10s" in out
    total = next(line for line in out.splitlines() if line.strip().startswith("total")).split()
    assert total[1] == "31671.9"
    assert total[-1] == "18084.4"


@pytest.mark.parametrize(
    ("name", "hidden", "layers", "param_b", "capacity"),
    [
        ("gpt-7b", 4096, 32, 7.8498687744140625, 6407),
        ("gpt-13b", 5120, 40, 14.03158187866211, 6427),
        ("gpt-30b", 6656, 60, 32.71532440185547, 6538),
    ],
)
def test_presets_derive_from_flexsp_constants(
    name: str, hidden: int, layers: int, param_b: float, capacity: int
) -> None:
    """Each preset's derived constants follow FlexSP's formulas from its published model sizes:
    all-to-all MB per token = 4*2*L*H*2/2^20, ZeRO-3 state on 64 GPUs = params*16/64*1024 MB, and the
    30 GB token capacity int((30720 - state)/act) (6,407 for 7B as in the reference)."""
    cm = preset(name)
    assert cm.comm_mb_per_token == 4 * 2 * layers * hidden * 2 / 2**20
    assert cm.model_state_mb == pytest.approx(param_b * 16 / 64 * 1024, rel=1e-15)
    inst = Instance.from_dict(
        {"problem": "seq_parallel", "sequences": [128], "cluster": bench.CLUSTER, "cost_model": name}
    )
    assert inst.token_capacity == capacity
    assert Instance.from_dict(inst.to_dict()) == inst


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 4),
    gpn=st.sampled_from([2, 4]),
    median=st.sampled_from([3000, 9000, 20000]),
    mmb=st.sampled_from([None, 1, 2]),
)
def test_lp_bound_below_brute_force_property(
    seed: int, n: int, gpn: int, median: int, mmb: int | None
) -> None:
    """The LP bound (micro-batch symmetry, the longest sequence's group G* modelled explicitly) never
    exceeds the brute-force optimum, across sizes where G*'s memory or time binds and with a cap on
    the micro-batch count."""
    inst = generate(seed, n=n, num_gpus=4, gpus_per_node=gpn, median=median, sigma=1.0, max_microbatches=mmb)
    opt = brute_force(inst) if mmb is None else None
    lb, _ = lp_lower_bound(inst, Budget(10))
    assert lb is not None
    if opt is not None:
        assert lb <= opt + 1e-6 * max(1.0, opt)
    r = solve(inst, "auto", Budget(5))
    if r.objective is not None:
        assert lb <= r.objective + 1e-6 * r.objective
