"""Pod packing model: validation paths, round trip, every constraint kind in evaluate, objective encoding."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.pod_packing import generate
from models.common import InstanceError
from models.pod_packing import Instance, Solution, evaluate, objective_weights

GIB = 2**30
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def node(name: str, zone: str, cpu: int = 4000, mem: int = 8 * GIB, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "allocatable": {"cpu": cpu, "memory": mem, "pods": 110},
        "labels": {HOST: name, ZONE: zone, **extra.pop("labels", {})},
        **extra,
    }


def pod(name: str, cpu: int = 1000, mem: int = GIB, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "requests": {"cpu": cpu, "memory": mem}, **extra}


def inst(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], **extra: Any) -> Instance:
    return Instance.from_dict({"problem": "pod_packing", "nodes": nodes, "pods": pods, **extra})


def sol(placements: dict[str, str | None], **extra: Any) -> Solution:
    return Solution.from_dict({"placements": placements, **extra})


def violations(i: Instance, s: Solution) -> tuple[str, ...]:
    return evaluate(i, s).violations


# ------------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------------
def test_validation_reports_every_problem_with_native_paths() -> None:
    """A document with many faults yields one InstanceError naming each fault by its JSON path."""
    doc = {
        "problem": "pod_packing",
        "nodes": [
            node("n1", "a", taints=[{"key": "k", "value": "v", "effect": "Sometimes"}]),
            node("n1", "b", cpu=-5),
        ],
        "pods": [
            pod("p1", gpu={"count": 2, "milli": 500}),
            pod(
                "p2",
                node_affinity=[{"match_expressions": [{"key": "x", "operator": "Gt", "values": ["abc"]}]}],
                tolerations=[{"key": "", "operator": "Equal", "value": "v"}],
                topology_spread=[{"max_skew": 0, "topology_key": ZONE, "label_selector": {}}],
                colour="red",
            ),
        ],
        "running": [{**pod("p1"), "node": "nowhere"}],
        "options": {"packing": "tight", "max_moves": -1},
        "extra": 1,
    }
    with pytest.raises(InstanceError) as exc:
        Instance.from_dict(doc)
    paths = {v.path for v in exc.value.violations}
    expected = {
        "nodes[0].taints[0].effect",
        "nodes[1].allocatable.cpu",
        "nodes[1].name",
        "pods[0].gpu.milli",
        "pods[1].node_affinity[0].match_expressions[0].values",
        "pods[1].tolerations[0].operator",
        "pods[1].topology_spread[0].max_skew",
        "pods[1].colour",
        "running[0].name",
        "running[0].node",
        "options.packing",
        "options.max_moves",
        "extra",
    }
    assert expected <= paths, expected - paths


def test_running_gpu_indices_are_checked_against_the_node() -> None:
    """A running pod's GPU devices must exist on its node and match its GPU count."""
    doc = {
        "problem": "pod_packing",
        "nodes": [node("g", "a", gpus={"count": 2, "model": "A"})],
        "pods": [],
        "running": [{**pod("r", gpu={"count": 1, "milli": 1000}), "node": "g", "gpu_indices": [5, 0]}],
    }
    with pytest.raises(InstanceError) as exc:
        Instance.from_dict(doc)
    paths = {v.path for v in exc.value.violations}
    assert {"running[0].gpu_indices", "running[0].gpu_indices[0]"} <= paths


def test_solution_validation_paths() -> None:
    """Solution.from_dict reports wrong types with their paths, all at once."""
    with pytest.raises(InstanceError) as exc:
        Solution.from_dict({"placements": {"a": 3}, "evictions": "x", "gpu_indices": {"a": ["z"]}, "bad": 1})
    paths = {v.path for v in exc.value.violations}
    assert {"placements.a", "evictions", "gpu_indices.a[0]", "bad"} <= paths


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_round_trip_generated(seed: int) -> None:
    """from_dict(to_dict(x)) == x for generated instances, through JSON text as well."""
    i = generate(seed, running=3, allow_evictions=True, max_moves=2, packing="spread")
    assert Instance.from_dict(json.loads(json.dumps(i.to_dict()))) == i


def test_sample_parses(tmp_path: Path) -> None:
    """The shipped sample is a valid native instance and round-trips."""
    path = Path(__file__).resolve().parent.parent / "instances" / "samples" / "pod_packing.json"
    i = Instance.from_dict(json.loads(path.read_text()))
    assert Instance.from_dict(i.to_dict()) == i
    assert i.pods and i.running


# ------------------------------------------------------------------------------------------------------
# evaluate: each constraint kind
# ------------------------------------------------------------------------------------------------------
def test_names_and_completeness() -> None:
    """Unknown pods/nodes and a missing pending pod are each reported."""
    i = inst([node("n1", "a")], [pod("p1"), pod("p2")])
    v = violations(i, sol({"p1": "nowhere", "ghost": None}))
    assert any("unknown node" in x for x in v)
    assert any("unknown pod 'ghost'" in x for x in v)
    assert any("'p2' is missing" in x for x in v)


def test_capacity_per_resource_and_pods() -> None:
    """cpu, an extended resource and the pod count are each checked on the receiving node."""
    n = node("n1", "a", cpu=2000)
    n["allocatable"]["example.com/fpga"] = 1
    n["allocatable"]["pods"] = 2
    pods = [
        pod("p1", cpu=1500),
        pod("p2", cpu=1000, requests={"cpu": 1000, "example.com/fpga": 2}),
        pod("p3"),
    ]
    i = inst([n], pods)
    v = violations(i, sol({"p1": "n1", "p2": "n1", "p3": "n1"}))
    assert any("cpu requested" in x for x in v)
    assert any("example.com/fpga" in x for x in v)
    assert any(": pods requested 3 > allocatable 2" in x for x in v)
    assert not violations(i, sol({"p1": "n1", "p2": None, "p3": None}))


def test_pods_allocatable_defaults_to_110() -> None:
    """A node without allocatable.pods takes 110 pods, not 0."""
    n = node("n1", "a")
    del n["allocatable"]["pods"]
    i = inst([n], [pod("p1", cpu=0, mem=0)])
    assert not violations(i, sol({"p1": "n1"}))


def test_taints_tolerations_and_unschedulable() -> None:
    """NoSchedule filters unless tolerated (empty key + Exists tolerates all); PreferNoSchedule never."""
    nodes = [
        node("hard", "a", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
        node("soft", "a", taints=[{"key": "gpu", "value": "yes", "effect": "PreferNoSchedule"}]),
        node("off", "a", unschedulable=True),
    ]
    pods = [
        pod("plain"),
        pod("eq", tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}]),
        pod("wrong", tolerations=[{"key": "gpu", "operator": "Equal", "value": "no"}]),
        pod("all", tolerations=[{"key": "", "operator": "Exists"}]),
    ]
    i = inst(nodes, pods)
    v = violations(i, sol({"plain": "hard", "eq": "hard", "wrong": "hard", "all": "hard"}))
    assert sum("untolerated taint" in x for x in v) == 2
    assert not violations(i, sol({"plain": "soft", "eq": None, "wrong": None, "all": None}))
    assert any(
        "unschedulable" in x
        for x in violations(i, sol({"plain": "off", "eq": None, "wrong": None, "all": None}))
    )


@pytest.mark.parametrize(
    ("expr", "ok_on"),
    [
        ({"key": "disk", "operator": "In", "values": ["ssd"]}, {"n1"}),
        ({"key": "disk", "operator": "NotIn", "values": ["ssd"]}, {"n2", "n3"}),
        ({"key": "disk", "operator": "Exists"}, {"n1", "n2"}),
        ({"key": "disk", "operator": "DoesNotExist"}, {"n3"}),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, {"n2"}),
        ({"key": "cores", "operator": "Lt", "values": ["16"]}, {"n1"}),
    ],
)
def test_node_affinity_operators(expr: dict[str, Any], ok_on: set[str]) -> None:
    """Each node-affinity operator follows Kubernetes (NotIn true on missing label, Gt/Lt integer)."""
    nodes = [
        node("n1", "a", labels={"disk": "ssd", "cores": "8"}),
        node("n2", "a", labels={"disk": "hdd", "cores": "32"}),
        node("n3", "a", labels={"cores": "x"}),
    ]
    i = inst(nodes, [pod("p", node_affinity=[{"match_expressions": [expr]}])])
    for n in ("n1", "n2", "n3"):
        bad = any("selector/affinity" in x for x in violations(i, sol({"p": n})))
        assert bad == (n not in ok_on), n


def test_node_selector_and_ored_terms() -> None:
    """node_selector must match exactly; node_affinity terms are ORed."""
    nodes = [node("n1", "a", labels={"disk": "ssd"}), node("n2", "b")]
    terms = [
        {"match_expressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]},
        {"match_expressions": [{"key": ZONE, "operator": "In", "values": ["b"]}]},
    ]
    i = inst(nodes, [pod("s", node_selector={"disk": "ssd"}), pod("t", node_affinity=terms)])
    assert not violations(i, sol({"s": "n1", "t": "n2"}))
    v = violations(i, sol({"s": "n2", "t": "n1"}))
    assert sum("selector/affinity" in x for x in v) == 2


def test_gpu_share_models_and_device_conflicts() -> None:
    """GPU: model restriction, device count, per-device milli sum and whole-GPU exclusivity."""
    nodes = [node("g", "a", gpus={"count": 2, "model": "V100"}), node("c", "a")]
    pods = [
        pod("s1", gpu={"count": 1, "milli": 600, "models": []}),
        pod("s2", gpu={"count": 1, "milli": 500, "models": ["V100", "A100"]}),
        pod("w", gpu={"count": 1, "milli": 1000}),
        pod("a100", gpu={"count": 1, "milli": 300, "models": ["A100"]}),
    ]
    i = inst(nodes, pods)
    good = sol({"s1": "g", "s2": "g", "w": None, "a100": None}, gpu_indices={"s1": [0], "s2": [1]})
    assert not violations(i, good)
    v = violations(
        i,
        sol(
            {"s1": "g", "s2": "g", "w": "g", "a100": "g"},
            gpu_indices={"s1": [0], "s2": [0], "w": [0], "a100": [1]},
        ),
    )
    assert any("GPU 0 shared beyond capacity" in x for x in v)
    assert any("'a100'" in x and "GPU" in x for x in v)
    v = violations(i, sol({"s1": "c", "s2": "g", "w": None, "a100": None}, gpu_indices={"s1": [0]}))
    assert any("'s1'" in x and "no suitable GPU" in x for x in v)
    assert any("'s2'" in x and "lists 0 device" in x for x in v)


def test_anti_affinity_both_directions_including_running() -> None:
    """Anti-affinity of the new pod, of a running pod against a new one, and between batch mates."""
    sel = {"match_labels": {"app": "db"}}
    anti = [{"label_selector": sel, "topology_key": ZONE}]
    nodes = [node("n1", "a"), node("n2", "a"), node("n3", "b")]
    running = [{**pod("r-db", labels={"app": "db"}, pod_anti_affinity=anti), "node": "n1"}]
    pods = [pod("new-db", labels={"app": "db"}), pod("x", labels={"app": "db"}, pod_anti_affinity=anti)]
    i = inst(nodes, pods, running=running)
    v = violations(i, sol({"new-db": "n2", "x": None}))  # running pod's term forbids zone a
    assert any("anti-affinity" in x and "'r-db'" in x for x in v)
    v = violations(i, sol({"new-db": "n3", "x": "n3"}))  # x's term forbids sharing zone b with new-db
    assert any("anti-affinity" in x and "'x'" in x for x in v)
    assert not violations(i, sol({"new-db": "n3", "x": None}))


def test_anti_affinity_namespaces_default_to_own() -> None:
    """A term without namespaces only selects pods of the owner's namespace."""
    anti = [{"label_selector": {"match_labels": {"app": "db"}}, "topology_key": HOST}]
    i = inst(
        [node("n1", "a")],
        [pod("x", pod_anti_affinity=anti), {**pod("other/db", labels={"app": "db"}), "namespace": "other"}],
    )
    assert not violations(i, sol({"x": "n1", "other/db": "n1"}))


def test_pod_affinity_and_first_pod_exception() -> None:
    """Affinity needs a matching pod in the domain; a self-matching pod may be first, not second."""
    aff = [{"label_selector": {"match_labels": {"app": "web"}}, "topology_key": ZONE}]
    nodes = [node("n1", "a"), node("n2", "b")]
    pods = [
        pod("w1", labels={"app": "web"}, pod_affinity=aff),
        pod("w2", labels={"app": "web"}, pod_affinity=aff),
    ]
    i = inst(nodes, pods)
    assert not violations(i, sol({"w1": "n1", "w2": None}))  # first of a series
    assert not violations(i, sol({"w1": "n1", "w2": "n1"}))
    v = violations(i, sol({"w1": "n1", "w2": "n2"}))
    assert sum("pod affinity" in x for x in v) == 2
    # a pod that does not match its own term cannot be first
    i2 = inst(nodes, [pod("lonely", labels={"app": "x"}, pod_affinity=aff)])
    assert any("pod affinity" in x for x in violations(i2, sol({"lonely": "n1"})))


def test_topology_spread_do_not_schedule() -> None:
    """DoNotSchedule bounds the skew over eligible domains; ScheduleAnyway never filters."""
    spread = [
        {
            "max_skew": 1,
            "topology_key": ZONE,
            "when_unsatisfiable": "DoNotSchedule",
            "label_selector": {"match_labels": {"app": "web"}},
        }
    ]
    nodes = [node("n1", "a"), node("n2", "b")]
    pods = [pod(f"w{k}", labels={"app": "web"}, topology_spread=spread) for k in range(3)]
    i = inst(nodes, pods)
    assert not violations(i, sol({"w0": "n1", "w1": "n2", "w2": "n1"}))
    v = violations(i, sol({"w0": "n1", "w1": "n1", "w2": None}))
    assert any("skew 2 > max_skew 1" in x for x in v)
    soft = copy.deepcopy(pods)
    for p in soft:
        p["topology_spread"][0]["when_unsatisfiable"] = "ScheduleAnyway"
    assert not violations(inst(nodes, soft), sol({"w0": "n1", "w1": "n1", "w2": "n1"}))


def test_topology_spread_only_counts_eligible_domains() -> None:
    """Domains of nodes failing the pod's node affinity do not drag the global minimum down."""
    spread = [
        {
            "max_skew": 1,
            "topology_key": ZONE,
            "when_unsatisfiable": "DoNotSchedule",
            "label_selector": {"match_labels": {"app": "web"}},
        }
    ]
    nodes = [node("n1", "a", labels={"ok": "1"}), node("n2", "b")]
    pods = [
        pod(f"w{k}", labels={"app": "web"}, topology_spread=spread, node_selector={"ok": "1"})
        for k in range(2)
    ]
    assert not violations(inst(nodes, pods), sol({"w0": "n1", "w1": "n1"}))


def test_gang_all_or_none() -> None:
    """Pods sharing a gang are placed all or none."""
    i = inst([node("n1", "a")], [pod("g1", gang="j"), pod("g2", gang="j")])
    assert any("gang 'j'" in x for x in violations(i, sol({"g1": "n1", "g2": None})))
    assert not violations(i, sol({"g1": None, "g2": None}))


def test_eviction_rules() -> None:
    """Evictions need allow_evictions, an evictable pod and a higher-priority newcomer on its node."""
    nodes = [node("n1", "a", cpu=2000), node("n2", "b", cpu=2000)]
    running = [
        {**pod("low", cpu=2000, priority=0), "node": "n1"},
        {**pod("pinned", cpu=2000, priority=0), "node": "n2", "evictable": False},
    ]
    pods = [pod("hi", cpu=2000, priority=10)]
    no = inst(nodes, pods, running=running)
    assert any("allow_evictions is false" in x for x in violations(no, sol({"hi": "n1"}, evictions=["low"])))
    yes = inst(nodes, pods, running=running, options={"allow_evictions": True})
    assert not violations(yes, sol({"hi": "n1"}, evictions=["low"]))
    assert any("not evictable" in x for x in violations(yes, sol({"hi": "n2"}, evictions=["pinned"])))
    v = violations(yes, sol({"hi": None}, evictions=["low"]))
    assert any("no placed pod of higher priority" in x for x in v)
    same = inst(nodes, [pod("hi", cpu=2000, priority=0)], running=running, options={"allow_evictions": True})
    assert any(
        "no placed pod of higher priority" in x
        for x in violations(same, sol({"hi": "n1"}, evictions=["low"]))
    )


def test_moves_limit_and_capacity_after_moves() -> None:
    """Moves are limited by max_moves and capacity is checked after the move."""
    nodes = [node("n1", "a", cpu=2000), node("n2", "b", cpu=2000)]
    running = [{**pod("r1", cpu=1500), "node": "n1"}, {**pod("r2", cpu=1500), "node": "n2"}]
    i = inst(nodes, [pod("p", cpu=2000)], running=running, options={"max_moves": 1})
    v = violations(i, sol({"p": "n1"}, moves={"r1": "n2"}))
    assert any("'n2': cpu requested 3000" in x for x in v)
    i0 = inst(nodes, [pod("p", cpu=2000)], running=running)
    assert any("exceed options.max_moves" in x for x in violations(i0, sol({"p": None}, moves={"r1": "n2"})))


def test_untouched_overcommitted_node_is_not_blamed() -> None:
    """A node that receives no new pod is not checked (its given state may be overcommitted)."""
    running = [{**pod("r1", cpu=5000), "node": "n1"}]
    i = inst([node("n1", "a"), node("n2", "a")], [pod("p")], running=running)
    assert not violations(i, sol({"p": "n2"}))
    assert violations(i, sol({"p": "n1"}))


# ------------------------------------------------------------------------------------------------------
# objective
# ------------------------------------------------------------------------------------------------------
def test_objective_encoding_is_lexicographic_and_hand_checked() -> None:
    """Mixed radix: one high-priority pod unplaced outweighs every low-priority one plus packing."""
    nodes = [node("n1", "a", cpu=1000), node("n2", "a", cpu=1000)]
    pods = [pod("h", cpu=1000, priority=100), pod("l1", cpu=1000), pod("l2", cpu=1000)]
    i = inst(nodes, pods, options={"packing": "fewest_nodes"})
    w = dict(objective_weights(i))
    # maxima: unplaced_p100 1, unplaced_p0 2, evictions 0, packing 2
    assert w == {"unplaced_p100": 9, "unplaced_p0": 3, "evictions": 3, "packing": 1}
    a = evaluate(i, sol({"h": "n1", "l1": "n2", "l2": None}))
    assert a.feasible and a.objective == 1 * 3 + 2
    assert a.terms == {"unplaced_p100": 0, "unplaced_p0": 1, "evictions": 0, "packing": 2}
    b = evaluate(i, sol({"h": None, "l1": "n1", "l2": "n2"}))
    assert b.objective == 9 + 2
    assert a.objective < b.objective


def test_objective_eviction_rank_and_fragmentation() -> None:
    """Evictions cost rank+1 of the victim's priority; fragmentation sums stranded free milli-GPU."""
    nodes = [node("g", "a", gpus={"count": 2, "model": "A"})]
    running = [
        {**pod("r0", cpu=100, priority=0, gpu={"count": 1, "milli": 700}), "node": "g", "gpu_indices": [0]},
        {**pod("r5", cpu=100, priority=5), "node": "g"},
    ]
    pods = [pod("p", cpu=100, priority=9, gpu={"count": 1, "milli": 400})]
    i = inst(
        nodes, pods, running=running, options={"allow_evictions": True, "packing": "least_fragmentation"}
    )
    # p on device 1: device 0 free 300 < 400 (stranded), device 1 free 600 (fits) -> 300
    e = evaluate(i, sol({"p": "g"}, gpu_indices={"p": [1]}))
    assert e.feasible and e.terms["packing"] == 300 and e.terms["evictions"] == 0
    # evict r5 (rank 1 -> cost 2), p on device 1: still 300 stranded
    e2 = evaluate(i, sol({"p": "g"}, gpu_indices={"p": [1]}, evictions=["r5"]))
    assert e2.feasible and e2.terms["evictions"] == 2
    w = dict(objective_weights(i))
    assert e2.objective == 2 * w["evictions"] + 300


def test_overcommitted_resource_only_checked_when_requested() -> None:
    """On an overcommitted node a new pod asking none of the overloaded resource is accepted."""
    running = [{**pod("r1", cpu=5000), "node": "n1"}]
    i = inst([node("n1", "a")], [pod("cpu-less", cpu=0, mem=GIB), pod("cpu-ful", cpu=100)], running=running)
    assert not violations(i, sol({"cpu-less": "n1", "cpu-ful": None}))
    assert any("cpu requested" in x for x in violations(i, sol({"cpu-less": None, "cpu-ful": "n1"})))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for k, v in enumerate(doc):
            out += _paths(v, (*prefix, k))
    return out


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 50),
    pick=st.integers(0, 10_000),
    junk=st.sampled_from([None, "x", -1, 1.5, True, [], {}, [1], {"a": 1}]),
)
def test_corrupted_documents_fail_cleanly(seed: int, pick: int, junk: Any) -> None:
    """Any single corrupted field yields a valid instance or an InstanceError with paths, never a crash."""
    doc = generate(seed, running=2, anti=0.5, affinity=0.5, spread=0.5).to_dict()
    paths = [p for p in _paths(doc) if p]
    target = paths[pick % len(paths)]
    cur = doc
    for k in target[:-1]:
        cur = cur[k]
    cur[target[-1]] = junk
    try:
        Instance.from_dict(doc)
    except InstanceError as exc:
        assert all(isinstance(v.path, str) for v in exc.violations)


def test_topology_spread_eligible_nodes_need_every_constraint_key() -> None:
    """With two hard constraints, a node lacking the second key is no domain for the first either."""
    sel = {"match_labels": {"app": "web"}}
    spread = [
        {"max_skew": 1, "topology_key": ZONE, "when_unsatisfiable": "DoNotSchedule", "label_selector": sel},
        {"max_skew": 1, "topology_key": "rack", "when_unsatisfiable": "DoNotSchedule", "label_selector": sel},
    ]
    nodes = [node("n1", "a", labels={"rack": "r1"}), node("n1b", "a", labels={"rack": "r2"}), node("n2", "b")]
    pods = [pod(f"w{k}", labels={"app": "web"}, topology_spread=spread) for k in range(2)]
    i = inst(nodes, pods)
    assert not violations(i, sol({"w0": "n1", "w1": "n1b"}))
    assert any("lacking label 'rack'" in x for x in violations(i, sol({"w0": "n2", "w1": None})))


def test_quantities_and_priorities_beyond_solver_arithmetic_are_refused() -> None:
    """A quantity above MAX_QUANTITY or a priority outside int32 is a field violation, not an
    OverflowError deep in a solver's int64 arrays (the fuzz run sent 1e400Gi)."""
    from models import pod_packing

    doc = json.loads((Path(__file__).parent.parent / "instances/samples/pod_packing.json").read_text())
    doc["nodes"][0]["allocatable"]["memory"] = pod_packing.MAX_QUANTITY + 1
    doc["pods"][0]["priority"] = 2**31
    with pytest.raises(InstanceError) as info:
        pod_packing.Instance.from_dict(doc)
    assert {v.path for v in info.value.violations} == {"nodes[0].allocatable.memory", "pods[0].priority"}
