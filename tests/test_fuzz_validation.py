"""Fuzzing the ways in: mutated instance documents, mutated solutions and random wire bytes must be
answered with field violations (InstanceError) or accepted — never another exception.

The default run uses a few hundred examples per family; the long run is
``ALLOT_FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/test_fuzz_validation.py``."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from models.common import InstanceError
from service import wire
from service._proto.allot.v1 import allot_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "instances" / "samples").glob("*.json"))}
EXAMPLES = int(os.environ.get("ALLOT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """The document with 1-3 random edits: a value replaced by any JSON, a key deleted, a key added."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace" or not isinstance(parent, dict):
            parent[path[-1]] = draw(json_value)
        elif action == "delete":
            parent.pop(path[-1], None)
        else:
            parent[draw(st.text(min_size=1, max_size=8))] = draw(json_value)
    return doc


def _accepted_or_violations(doc: Any) -> Any:
    try:
        return models.instance_from_dict(doc)
    except InstanceError as exc:
        assert exc.violations and all(v.message for v in exc.violations)
        return None


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_mutated_instances_give_field_violations(family: str) -> None:
    """Any mutation of a valid instance is either valid or rejected with field violations."""

    @FUZZ
    @given(mutated(SAMPLES[family]))
    def run(doc: dict[str, Any]) -> None:
        inst = _accepted_or_violations(doc)
        if inst is not None:  # what is accepted must round-trip
            assert models.instance_from_dict(inst.to_dict()) == inst

    run()


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_mutated_solutions_never_crash_the_checker(family: str) -> None:
    """A mutated solution document is rejected with violations or evaluated; evaluate never raises and
    returns a finite objective whenever it finds no violation."""
    model = models.family(family)
    inst = models.instance_from_dict(SAMPLES[family])
    from solvers import Budget, solve

    base = solve(inst, "auto", Budget(5)).solution.to_dict()

    @FUZZ
    @given(mutated(base))
    def run(doc: dict[str, Any]) -> None:
        try:
            sol = model.Solution.from_dict(doc)
        except InstanceError as exc:
            assert exc.violations
            return
        ev = model.evaluate(inst, sol)
        if ev.feasible:
            assert math.isfinite(ev.objective)

    run()


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_on_the_wire(data: bytes) -> None:
    """Random bytes either fail to decode as a SolveRequest or decode into something the mapping rejects
    with violations (or accepts) — never another exception."""
    try:
        req = pb.SolveRequest.FromString(data)
    except DecodeError:
        return
    try:
        wire.instance_from_pb(req.instance)
    except InstanceError as exc:
        assert exc.violations
