"""Model, checker, readers and cost model of seq_parallel, pinned to the FlexSP reference."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from models.common import InstanceError
from models.seq_parallel import (
    Group,
    Instance,
    MicroBatch,
    Solution,
    evaluate,
    read_token_lengths,
)

CLUSTER = {"num_gpus": 64, "gpus_per_node": 8, "memory_mb": 30720}


def small(**over: Any) -> Instance:
    doc: dict[str, Any] = {
        "problem": "seq_parallel",
        "name": "t",
        "sequences": [1000, 2000, 3000],
        "cluster": {"num_gpus": 4, "gpus_per_node": 2, "memory_mb": 30720},
        "cost_model": "gpt-7b",
    }
    doc.update(over)
    return Instance.from_dict(doc)


def reference(shared_data: Path) -> dict[str, Any]:
    return json.loads((shared_data / "seqlen" / "flexsp-reference.json").read_text())


def test_validation_reports_every_problem_with_paths() -> None:
    """Every malformed field is reported at once, each under its native-JSON path."""
    bad = {
        "problem": "seq_parallel",
        "sequences": [10, 0, "x"],
        "cluster": {"num_gpus": 0, "gpus_per_node": 8, "memory_mb": 100, "extra": 1},
        "degrees": [1, 3, 128],
        "cost_model": {
            "name": "m",
            "alpha1": -1,
            "alpha2": 0.1,
            "beta_ms": 1,
            "comm_mb_per_token": 2,
            "bandwidth_intra_node": {"3": 1.0},
            "model_state_mb": 1,
            "activation_mb_per_token": 1,
        },
        "max_microbatches": 0,
        "oops": True,
    }
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict(bad)
    paths = {v.path for v in ei.value.violations}
    assert {
        "sequences[1]",
        "sequences[2]",
        "cluster.num_gpus",
        "cluster.extra",
        "degrees[1]",
        "cost_model.alpha1",
        "cost_model.bandwidth_intra_node.3",
        "max_microbatches",
        "oops",
    } <= paths


def test_unknown_preset_and_degree_above_gpus() -> None:
    """An unknown preset name and a degree larger than the cluster are field errors."""
    with pytest.raises(InstanceError) as ei:
        small(cost_model="gpt-999b", degrees=[1, 8])
    paths = {v.path for v in ei.value.violations}
    assert paths == {"cost_model", "degrees[1]"}


def test_preset_roundtrip_and_token_capacity() -> None:
    """The gpt-7b preset gives the reference's 6,407 tokens/GPU; to_dict/from_dict round-trips."""
    inst = small()
    assert inst.token_capacity == 6407
    assert inst.degrees == (1, 2, 4)
    assert Instance.from_dict(inst.to_dict()) == inst
    assert Instance.from_dict(json.loads(json.dumps(inst.to_dict()))) == inst


def test_evaluate_hand_example() -> None:
    """Hand-computed step time: mb0 = two intra-node degree-2 groups ({2} and {0, 1}), mb1 = four
    degree-1 groups (one holding seq 3, three empty but still costing beta)."""
    inst = small(sequences=[1000, 2000, 3000, 500])
    a1, a2, beta, bw2 = 5.128e-06, 0.1839576, 629.3563, 119.54

    def t(s: int, d: int, bw: float | None) -> float:
        return (a1 * s * s + a2 * s) / d + (2.0 * s / (d * bw) if bw else 0.0)

    sol = Solution(
        (
            MicroBatch((Group((0, 1), (2,)), Group((2, 3), (0, 1)))),
            MicroBatch((Group((0,), (3,)), Group((1,), ()), Group((2,), ()), Group((3,), ()))),
        )
    )
    ev = evaluate(inst, sol)
    assert ev.feasible, ev.violations
    mb0 = max(beta + t(3000, 2, bw2), beta + t(1000, 2, bw2) + t(2000, 2, bw2))
    mb1 = beta + t(500, 1, None)
    assert ev.objective == pytest.approx(mb0 + mb1, rel=1e-12)


def test_evaluate_lists_every_violation_kind() -> None:
    """Missing/duplicate/out-of-range sequences and GPUs, bad degree, spanning without bandwidth,
    memory and micro-batch cap are all reported."""
    inst = small(sequences=[1000, 2000, 30000], degrees=[1, 2, 4], max_microbatches=1)
    sol = Solution(
        (
            MicroBatch((Group((0, 1, 2), (0, 0)), Group((3, 3), (7,)))),
            MicroBatch((Group((1, 2), (2,)), Group((4,), ()))),
        )
    )
    text = " | ".join(evaluate(inst, sol).violations)
    for needle in (
        "exceed max_microbatches",
        "sequence 0 is assigned twice",
        "sequence 7 out of range",
        "GPU 3 is in both",
        "degree 3 is not allowed",
        "spans nodes but cost_model.bandwidth_inter_node has no entry for 2",
        "memory exceeded",
        "GPU 4 out of range",
        "GPU(s) in no group",
        "sequence(s) in no micro-batch: 1",
    ):
        assert needle in text, needle
    assert evaluate(inst, Solution(())).violations[0].startswith("the plan has no micro-batch")


def test_solution_from_dict_paths() -> None:
    """Solution documents are validated with paths too."""
    with pytest.raises(InstanceError) as ei:
        Solution.from_dict({"microbatches": [{"groups": [{"gpus": [0, -1], "sequences": ["a"]}]}], "x": 1})
    paths = {v.path for v in ei.value.violations}
    assert paths == {"x", "microbatches[0].groups[0].gpus[1]", "microbatches[0].groups[0].sequences[0]"}
    sol = Solution.from_dict({"microbatches": [{"groups": [{"gpus": [0, 1], "sequences": [2]}]}]})
    assert Solution.from_dict(sol.to_dict()) == sol


def test_reader_pads_filters_and_reports_lines() -> None:
    """Padding, max-length filtering, batching in file order, and line-numbered errors."""
    text = "5\n130\n\n400\n129\n7\n"
    insts = read_token_lengths(
        text,
        batch_size=2,
        batches=None,
        pad_to=128,
        max_length=256,
        cluster=CLUSTER,
        cost_model="gpt-7b",
        name="w",
    )
    assert [i.sequences for i in insts] == [(128, 256), (256, 128)]
    assert insts[1].name == "w-b1"
    with pytest.raises(InstanceError, match="line 3"):
        read_token_lengths("5\n6\nabc\n", batch_size=1, batches=None, cluster=CLUSTER, cost_model="gpt-7b")
    with pytest.raises(ValueError, match="out of range"):
        read_token_lengths("5\n6\n", batch_size=1, batches=[2], cluster=CLUSTER, cost_model="gpt-7b")


def reference_instances(shared_data: Path) -> list[Instance]:
    lines = (shared_data / "seqlen" / "wikipedia.txt").read_text().splitlines()[:4096]
    return read_token_lengths(
        "\n".join(lines),
        batch_size=512,
        batches=[3, 4, 5, 6, 7],
        pad_to=128,
        max_length=383872,
        cluster=CLUSTER,
        cost_model="gpt-7b",
        name="wikipedia",
    )


def test_reader_reproduces_reference_batches(shared_data: Path) -> None:
    """Lines 1,537-4,096 of wikipedia.txt with the reference parameters give the reference's batches."""
    ref = reference(shared_data)
    insts = reference_instances(shared_data)
    assert [list(i.sequences) for i in insts] == ref["batches"]


def test_flexsp_plan_evaluates_to_logged_times(shared_data: Path) -> None:
    """FlexSP's own mixed-degree plan, placed larger degrees first, evaluates to its logged group,
    micro-batch and step times (logged to 0.01 ms: relative 1e-5)."""
    ref = reference(shared_data)
    for it, plan in enumerate(ref["flexsp_example_solution"]["iterations"]):
        seqs = ref["batches"][it]
        inst = Instance.from_dict({"sequences": seqs, "cluster": CLUSTER, "cost_model": "gpt-7b"})
        pool: dict[int, list[int]] = {}
        for i, s in enumerate(seqs):
            pool.setdefault(s, []).append(i)
        mbs = []
        for mb in plan:
            r = 0
            groups = []
            for g in sorted(mb["groups"], key=lambda g: -g["sp"]):
                gpus = tuple(range(r, r + g["sp"]))
                r += g["sp"]
                groups.append(Group(gpus, tuple(pool[s].pop() for s in g["seqs"])))
                one = evaluate(inst, Solution((MicroBatch((Group(gpus, groups[-1].sequences),)),)))
                assert one.objective == pytest.approx(g["logged_time_ms"], rel=1e-5)
            mbs.append(MicroBatch(tuple(groups)))
            assert evaluate(inst, Solution((mbs[-1],))).objective == pytest.approx(
                mb["logged_time_ms"], rel=1e-5
            )
        ev = evaluate(inst, Solution(tuple(mbs)))
        assert ev.feasible, ev.violations[:3]
        assert ev.objective == pytest.approx(ref["reference"]["flexsp_milp_10s_rerun"][it], rel=1e-5)
        assert not math.isnan(ev.objective)
