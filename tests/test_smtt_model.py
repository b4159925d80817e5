"""SMTT model: validation with field paths, round trip, evaluate, OR-Library readers, generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.smtt import generate
from models import instance_from_dict
from models.common import InstanceError
from models.smtt import (
    Instance,
    Solution,
    evaluate,
    jobs_from_filename,
    read_orlib_optima,
    read_orlib_wt,
)

ROOT = Path(__file__).resolve().parent.parent


def paths(exc: InstanceError) -> list[str]:
    return [v.path for v in exc.violations]


def test_every_bad_field_is_reported_with_its_path() -> None:
    """from_dict reports all problems at once, each under its native JSON path."""
    doc = {
        "problem": "smtt",
        "processing_times": [3, "x", -1, 2.5],
        "due_dates": [1, -2, 4, 5],
        "weights": [1, True, 3, 4],
        "colour": "red",
    }
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict(doc)
    got = paths(ei.value)
    assert got.count("processing_times[1]") == 1
    assert "processing_times[2]" in got
    assert "processing_times[3]" in got
    assert "due_dates[1]" in got
    assert "weights[1]" in got  # a JSON boolean is not an integer
    assert "colour" in got
    msgs = {v.path: v.message for v in ei.value.violations}
    assert msgs["due_dates[1]"] == "must be >= 0, got -2"


def test_length_mismatch_names_the_field_and_both_lengths() -> None:
    """A due_dates/weights list of the wrong length is reported on that field with both lengths."""
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict({"processing_times": [1, 2, 3], "due_dates": [1, 2], "weights": [1, 2, 3, 4]})
    msgs = {v.path: v.message for v in ei.value.violations}
    assert "2" in msgs["due_dates"] and "3" in msgs["due_dates"]
    assert "4" in msgs["weights"] and "3" in msgs["weights"]


def test_missing_and_empty_fields() -> None:
    """processing_times must have at least one job; due_dates is required; a wrong problem tag is named."""
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict({"problem": "gap", "processing_times": []})
    got = paths(ei.value)
    assert {"problem", "processing_times", "due_dates"} <= set(got)
    with pytest.raises(InstanceError):
        Instance.from_dict([1, 2])


def test_default_weights_and_round_trip() -> None:
    """Weights default to 1 and are not written back unless given; from_dict(to_dict(x)) == x."""
    a = Instance.from_dict({"processing_times": [3, 2], "due_dates": [1, 0], "name": "a"})
    assert a.weights == (1, 1)
    assert "weights" not in a.to_dict()
    assert Instance.from_dict(a.to_dict()) == a
    b = Instance.from_dict({"processing_times": [3, 2], "due_dates": [1, 0], "weights": [1, 1], "name": "a"})
    assert b.to_dict()["weights"] == [1, 1]
    assert Instance.from_dict(b.to_dict()) == b
    assert a == b  # same data, whether or not the weights were explicit
    assert instance_from_dict({"problem": "smtt", **a.to_dict()}) == a


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1000), min_size=n, max_size=n),
            st.lists(st.integers(0, 5000), min_size=n, max_size=n),
            st.one_of(st.none(), st.lists(st.integers(0, 50), min_size=n, max_size=n)),
        )
    )
)
def test_round_trip_property(data: tuple[list[int], list[int], list[int] | None]) -> None:
    """Any valid instance survives to_dict -> JSON -> from_dict unchanged, numpy views read-only."""
    p, d, w = data
    inst = Instance.from_arrays(p, d, w, name="h")
    again = Instance.from_dict(json.loads(json.dumps(inst.to_dict())))
    assert again == inst
    assert not inst.p.flags.writeable
    assert list(inst.d) == d


def test_evaluate_hand_example() -> None:
    """Objective Σ w max(0, C - d) recomputed: p=(3,2,4), d=(1,2,8), w=(2,1,3), order 1,0,2 -> 2*4+3*1."""
    inst = Instance.from_arrays([3, 2, 4], [1, 2, 8], [2, 1, 3])
    # order 1,0,2: C1=2 (T=0), C0=5 (T=4, w=2 -> 8), C2=9 (T=1, w=3 -> 3)
    ev = evaluate(inst, Solution((1, 0, 2)))
    assert ev.feasible
    assert ev.objective == 11
    assert ev.terms["late_jobs"] == 2
    # order 0,1,2: C=3,5,9 -> 2*2 + 1*3 + 3*1 = 10
    assert evaluate(inst, Solution((0, 1, 2))).objective == 10


def test_evaluate_lists_every_violation_kind() -> None:
    """Wrong length, out-of-range and negative indices, duplicates and missing jobs are each reported."""
    inst = Instance.from_arrays([1, 1, 1, 1], [0, 0, 0, 0])
    ev = evaluate(inst, Solution((0, 0, 7, -1, 1)))
    text = " | ".join(ev.violations)
    assert not ev.feasible
    assert "5 entries, expected 4" in text
    assert "sequence[1]: job 0 is repeated" in text
    assert "sequence[2] = 7" in text
    assert "sequence[3] = -1" in text
    assert "missing" in text and "2, 3" in text
    assert len(ev.violations) == 5


def test_solution_document_validation() -> None:
    """Solution.from_dict rejects non-integers (with paths) and unknown keys; to_dict round-trips."""
    with pytest.raises(InstanceError) as ei:
        Solution.from_dict({"sequence": [0, "a", 1.5], "extra": 1})
    assert set(paths(ei.value)) == {"sequence[1]", "sequence[2]", "extra"}
    with pytest.raises(InstanceError) as ei:
        Solution.from_dict({})
    assert paths(ei.value) == ["sequence"]
    s = Solution((2, 0, 1))
    assert Solution.from_dict(s.to_dict()) == s


def test_orlib_reader_wt40(shared_data: Path) -> None:
    """wt40.txt holds 125 instances of 40 jobs; the first one starts with the file's first numbers."""
    text = (shared_data / "tardiness" / "wt40.txt").read_text()
    insts = read_orlib_wt(text, 40, "wt40")
    assert len(insts) == 125
    assert all(i.n == 40 for i in insts)
    first = insts[0]
    assert first.name == "wt40#1" and insts[124].name == "wt40#125"
    assert first.processing_times[:4] == (26, 24, 79, 46)
    assert first.weights[:4] == (1, 10, 9, 10)
    assert first.due_dates[:3] == (1588, 1620, 1731)
    opt = read_orlib_optima((shared_data / "tardiness" / "wtopt40.txt").read_text())
    assert len(opt) == 125 and opt[:3] == [913, 1225, 537]
    best100 = read_orlib_optima((shared_data / "tardiness" / "wtbest100b.txt").read_text())
    assert len(best100) == 125


def test_orlib_reader_errors() -> None:
    """A bad token is named by its index; a token count not a multiple of 3n is refused."""
    with pytest.raises(ValueError, match="token 4"):
        read_orlib_wt("1 2 3 4 x 6", 2)
    with pytest.raises(ValueError, match="multiple of 3"):
        read_orlib_wt("1 2 3 4 5 6 7", 2)
    insts = read_orlib_wt("1 2\n3 4\n5 6\n 7 8 9 10 11 12", 2, "t")
    assert [i.name for i in insts] == ["t#1", "t#2"]
    assert insts[0].processing_times == (1, 2) and insts[0].weights == (3, 4) and insts[0].due_dates == (5, 6)
    with pytest.raises(InstanceError, match="instance 1"):
        read_orlib_wt("1 -2 3 4 5 6", 2)
    assert read_orlib_optima("\n 913\n\n 1225 \n") == [913, 1225]


def test_jobs_from_filename() -> None:
    """The CLI infers n from OR-Library names and gets None for names without it."""
    assert jobs_from_filename("wt40.txt") == 40
    assert jobs_from_filename("/data/tardiness/wt100.txt") == 100
    assert jobs_from_filename("wtopt40.txt") is None
    assert jobs_from_filename("jobs.txt") is None


def test_generator_is_seeded_and_valid() -> None:
    """Same seed -> same instance; parameters shape it (n, unweighted -> all weights 1)."""
    a, b = generate(seed=3, n=15), generate(seed=3, n=15)
    assert a == b and a.n == 15
    assert generate(seed=4, n=15) != a
    u = generate(seed=1, n=6, weighted=False)
    assert u.weights == (1,) * 6 and "weights" not in u.to_dict()


def test_sample_file_is_a_valid_instance() -> None:
    """instances/samples/smtt.json parses as an SMTT instance."""
    doc = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    inst = instance_from_dict(doc)
    assert isinstance(inst, Instance) and inst.n >= 5
