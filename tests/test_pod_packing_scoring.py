"""NodeResourcesFit scoring in the kube replica: LeastAllocated, MostAllocated, RequestedToCapacityRatio.

The vectorised scorer is checked against a scalar transcription of the plugin's formulas written
here, element by element, and the replica's choices against hand-computed scores.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.common import InstanceError
from models.pod_packing import Instance, Scoring
from service import postfilter, wire
from service._proto.allot.v1 import allot_pb2 as pb
from solvers.pod_packing.kube import node_scores
from solvers.registry import solve

MIB = 2**20
GIB = 2**30


def scalar_score(scoring: Scoring, req: list[int], alloc: list[int], weights: list[int]) -> int:
    """One node's score, one resource at a time, as the Go code reads."""

    def broken_linear(p: int) -> int:
        pts = [(u, 10 * s) for u, s in scoring.shape]
        for i, (u, s) in enumerate(pts):
            if p <= u:
                if i == 0:
                    return s
                u0, s0 = pts[i - 1]
                num = (s - s0) * (p - u0)
                q = abs(num) // (u - u0)
                return s0 + (q if num >= 0 else -q)  # Go truncates toward zero
        return pts[-1][1]

    total = wsum = 0
    for r, a, w in zip(req, alloc, weights, strict=True):
        if a == 0:
            continue
        if scoring.type == "LeastAllocated":
            s = 0 if r > a else (a - r) * 100 // a
        elif scoring.type == "MostAllocated":
            s = min(r, a) * 100 // a
        else:
            s = broken_linear(100 if r > a else r * 100 // a)
            if s == 0:
                continue
        total += s * w
        wsum += w
    if wsum == 0:
        return 0
    if scoring.type == "RequestedToCapacityRatio":
        return int(total / wsum + 0.5)  # math.Round of a non-negative value
    return total // wsum


@st.composite
def scoring_cases(draw: Any) -> tuple[Scoring, np.ndarray, np.ndarray, np.ndarray]:
    kind = draw(st.sampled_from(["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]))
    m = draw(st.integers(1, 4))
    weights = draw(st.lists(st.integers(1, 100), min_size=m, max_size=m))
    shape: tuple[tuple[int, int], ...] = ()
    if kind == "RequestedToCapacityRatio":
        us = sorted(draw(st.sets(st.integers(0, 100), min_size=1, max_size=5)))
        shape = tuple((u, draw(st.integers(0, 10))) for u in us)
    k = draw(st.integers(1, 6))
    alloc = draw(st.lists(st.lists(st.integers(0, 10**6), min_size=m, max_size=m), min_size=k, max_size=k))
    req = draw(st.lists(st.lists(st.integers(0, 2 * 10**6), min_size=m, max_size=m), min_size=k, max_size=k))
    scoring = Scoring(kind, tuple((f"r{i}", w) for i, w in enumerate(weights)), shape)
    return scoring, np.array(req, dtype=np.int64), np.array(alloc, dtype=np.int64), np.array(weights)


@settings(max_examples=300, deadline=None)
@given(scoring_cases())
def test_node_scores_match_the_plugin_formulas(
    case: tuple[Scoring, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Every strategy, random shapes and weights, over-full and zero-capacity resources included."""
    scoring, req, alloc, weights = case
    got = node_scores(scoring, req, alloc, weights)
    want = [scalar_score(scoring, list(r), list(a), list(weights)) for r, a in zip(req, alloc, strict=True)]
    assert list(got) == want
    assert all(0 <= s <= 100 for s in got)


def test_broken_linear_truncates_toward_zero() -> None:
    """Between (0, 10) and (3, 0), utilization 1 scores 100 - trunc(100 / 3) = 67 (floor would give 66);
    between (0, 0), (50, 4), (100, 10): 30 -> 24, 75 -> 70."""
    down = Scoring("RequestedToCapacityRatio", (("cpu", 1),), ((0, 10), (3, 0)))
    assert node_scores(down, np.array([[1]]), np.array([[100]]), np.array([1]))[0] == 67
    up = Scoring("RequestedToCapacityRatio", (("cpu", 1),), ((0, 0), (50, 4), (100, 10)))
    got = node_scores(up, np.array([[30], [75], [150]]), np.array([[100], [100], [100]]), np.array([1]))
    assert list(got) == [24, 70, 100]


def cluster(pods: list[dict[str, Any]], scoring: dict[str, Any] | None, nodes: Any = None) -> Instance:
    nodes = nodes or [
        {"name": "a", "allocatable": {"cpu": 4000, "memory": 8 * GIB, "example.com/foo": 4}},
        {"name": "b", "allocatable": {"cpu": 8000, "memory": 8 * GIB, "example.com/foo": 8}},
    ]
    running = [
        {"name": "r", "node": "b", "requests": {"cpu": 1000, "memory": GIB, "example.com/foo": 5}},
    ]
    doc: dict[str, Any] = {"problem": "pod_packing", "nodes": nodes, "pods": pods, "running": running}
    if scoring is not None:
        doc["options"] = {"scoring": scoring}
    return Instance.from_dict(doc)


def placed(inst: Instance, solver: str = "kube") -> dict[str, str | None]:
    res = solve(inst, solver)
    assert res.solution is not None
    return dict(res.solution.placements)


def test_ratio_shape_decides_pack_or_spread() -> None:
    """An increasing shape packs like MostAllocated, a decreasing one spreads like LeastAllocated.

    Pod of 1000m / 1Gi: node a ends at cpu 25 %, memory 12 %; node b at cpu 25 %, memory 25 %.
    Rising shape: a scores round((25 + 12) / 2) = 19 (round(18.5)), b 25 -> b. Falling shape: a scores
    round((75 + 88) / 2) = 82 (round(81.5)), b 75 -> a.
    """
    pod = [{"name": "p", "requests": {"cpu": 1000, "memory": GIB}}]
    rising = {
        "type": "RequestedToCapacityRatio",
        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}],
    }
    falling = {
        "type": "RequestedToCapacityRatio",
        "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}],
    }
    assert placed(cluster(pod, rising)) == {"p": "b"}
    assert placed(cluster(pod, falling)) == {"p": "a"}
    assert placed(cluster(pod, None)) == {"p": "a"}  # LeastAllocated default
    assert placed(cluster(pod, None), "kube-most") == {"p": "b"}


def test_extended_resource_weights_and_unrequested_resources() -> None:
    """Scored on example.com/foo alone: a pod asking for it packs onto the fuller node b (6/8 against
    1/4 used); a pod not asking for it drops the resource, every node scores 0, the first (a) wins."""
    scoring = {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "example.com/foo", "weight": 5}],
        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}],
    }
    asks = [{"name": "p", "requests": {"cpu": 100, "example.com/foo": 1}}]
    assert placed(cluster(asks, scoring)) == {"p": "b"}
    plain = [{"name": "q", "requests": {"cpu": 100}}]
    assert placed(cluster(plain, scoring)) == {"q": "a"}
    # MostAllocated on the same resource list: the same reading of "not requested"
    assert placed(cluster(plain, {**scoring, "type": "MostAllocated", "shape": None})) == {"q": "a"}


def test_zero_capacity_resource_leaves_the_mean() -> None:
    """Node a has no memory: LeastAllocated scores it on cpu alone (75); b scores (75 + 50) // 2 = 62 with
    the pod's non-zero 200Mi memory on 400Mi. The plugin picks a (a fixed divisor of 2 would pick b)."""
    nodes = [
        {"name": "a", "allocatable": {"cpu": 4000, "memory": 0}},
        {"name": "b", "allocatable": {"cpu": 4000, "memory": 400 * MIB}},
    ]
    inst = Instance.from_dict(
        {"problem": "pod_packing", "nodes": nodes, "pods": [{"name": "p", "requests": {"cpu": 1000}}]}
    )
    assert placed(inst) == {"p": "a"}


@pytest.mark.parametrize(
    ("scoring", "messages"),
    [
        ({"type": "Balanced"}, {"options.scoring.type": "must be one of"}),
        ({"type": "RequestedToCapacityRatio"}, {"options.scoring.shape": "is required"}),
        ({"shape": [{"utilization": 0, "score": 1}]}, {"options.scoring.shape": "only used with type"}),
        (
            {
                "type": "RequestedToCapacityRatio",
                "shape": [{"utilization": 50, "score": 1}, {"utilization": 50}],
            },
            {
                "options.scoring.shape[1].utilization": "greater than the previous",
                "options.scoring.shape[1].score": "required",
            },
        ),
        (
            {"type": "RequestedToCapacityRatio", "shape": [{"utilization": 101, "score": 11}]},
            {"options.scoring.shape[0].utilization": "<= 100", "options.scoring.shape[0].score": "<= 10"},
        ),
        (
            {
                "resources": [
                    {"name": "cpu", "weight": 0},
                    {"name": "gpu", "weight": 1},
                    {"name": "gpu", "weight": 2},
                ]
            },
            {"options.scoring.resources[0].weight": ">= 1", "options.scoring.resources[2].name": "duplicate"},
        ),
        (
            {"resources": [], "typo": 1},
            {"options.scoring.resources": "at least 1", "options.scoring.typo": "unknown"},
        ),
    ],
)
def test_scoring_validation_names_the_field(scoring: dict[str, Any], messages: dict[str, str]) -> None:
    with pytest.raises(InstanceError) as exc:
        cluster([{"name": "p", "requests": {"cpu": 100}}], scoring)
    got = {v.path: v.message for v in exc.value.violations}
    assert set(got) == set(messages)
    for path, text in messages.items():
        assert text in got[path]


def test_scoring_survives_json_and_grpc_round_trips() -> None:
    scoring = {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 2}, {"name": "example.com/foo", "weight": 7}],
        "shape": [
            {"utilization": 0, "score": 0},
            {"utilization": 60, "score": 10},
            {"utilization": 100, "score": 3},
        ],
    }
    inst = cluster([{"name": "p", "requests": {"cpu": 100}}], scoring)
    assert Instance.from_dict(inst.to_dict()).options == inst.options
    msg = wire.instance_to_pb(inst.to_dict())
    back = Instance.from_dict(wire.message_to_native(msg.pod_packing))
    assert back.options.scoring == inst.options.scoring
    # the PostFilter RPC carries the same options message
    node = {"kind": "Node", "metadata": {"name": "a"}, "status": {"allocatable": {"cpu": "4", "pods": "10"}}}
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "d"},
        "spec": {},
        "status": {"phase": "Pending"},
    }
    req = pb.PostFilterRequest(nodes=[json.dumps(node)], pods=[json.dumps(pod)])
    wire.native_to_message({"scoring": scoring}, req.options)
    assert postfilter.instance_from_request(req).options.scoring == inst.options.scoring
