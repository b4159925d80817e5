"""Task allocation model: validation paths, round trip, evaluate, readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances.task_allocation import generate
from models.common import InstanceError
from models.task_allocation import Instance, Solution, evaluate, read_best_known, read_orlib_gap

ROOT = Path(__file__).resolve().parent.parent


def small_doc() -> dict:
    return {
        "problem": "task_allocation",
        "name": "hand",
        "num_agents": 2,
        "num_tasks": 3,
        "costs": [[4, 2, 7], [1, 6, 3]],
        "resources": [
            {"name": "cpu", "capacities": [5, 4], "demands": [[2, 3, 2], [3, 1, 2]]},
            {"name": "mem", "capacities": None, "demands": [[1, 1, 1], [9, 9, 9]]},
        ],
        "forbidden": [[1, 2]],
    }


def paths(exc: InstanceError) -> set[str]:
    return {v.path for v in exc.violations}


def test_every_validation_problem_is_reported_with_its_path() -> None:
    """One document with many problems yields one violation per problem, each at its JSON path."""
    doc = small_doc()
    doc["costs"] = [[4, 2], [1, "x", 3]]
    doc["resources"][0]["demands"][1][2] = -1
    doc["resources"][0]["capacities"] = [5]
    doc["resources"][1]["colour"] = "red"
    doc["forbidden"] = [[1, 2], [2, 0], [0]]
    doc["agent_names"] = ["a"]
    doc["extra"] = 1
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict(doc)
    got = paths(ei.value)
    assert {
        "costs[0]",
        "costs[1][1]",
        "resources[0].demands[1][2]",
        "resources[0].capacities",
        "resources[1].colour",
        "forbidden[1][0]",
        "forbidden[2]",
        "agent_names",
        "extra",
    } <= got
    msgs = {str(v) for v in ei.value.violations}
    assert "costs[0]: must have 3 elements, got 2" in msgs
    assert "resources[0].demands[1][2]: must be >= 0, got -1" in msgs


def test_missing_fields_and_cost_matrix_required_only_for_cost() -> None:
    """num_agents/num_tasks/resources are required; costs only when the objective is cost."""
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict({"problem": "task_allocation"})
    assert {"num_agents", "num_tasks", "resources", "costs"} <= paths(ei.value)
    doc = small_doc()
    del doc["costs"]
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict(doc)
    assert paths(ei.value) == {"costs"}
    doc["objective"] = "makespan"
    assert Instance.from_dict(doc).costs is None


def test_wrong_problem_tag_and_bad_makespan_resource() -> None:
    """A foreign problem tag and an out-of-range makespan_resource are field errors."""
    doc = small_doc()
    doc["problem"] = "smtt"
    doc["makespan_resource"] = 2
    with pytest.raises(InstanceError) as ei:
        Instance.from_dict(doc)
    assert {"problem", "makespan_resource"} <= paths(ei.value)


@pytest.mark.parametrize("objective", ["cost", "makespan"])
def test_round_trip_and_equality(objective: str) -> None:
    """from_dict(to_dict(x)) == x, through JSON text too, and instances hash like values."""
    x = generate(3, num_agents=4, num_tasks=9, objective=objective, num_resources=2, forbidden_fraction=0.2)
    y = Instance.from_dict(json.loads(json.dumps(x.to_dict())))
    assert y == x and hash(y) == hash(x)
    assert Instance.from_dict(small_doc()) == Instance.from_dict(small_doc())
    assert not x.demand_array().flags.writeable


def test_evaluate_hand_example() -> None:
    """Cost of assignment [1,0,0] is 1+2+7 = 10 and it respects cpu capacities (3 <= 4, 5 <= 5)."""
    inst = Instance.from_dict(small_doc())
    ev = evaluate(inst, Solution((1, 0, 0)))
    assert ev.feasible and ev.objective == 10.0


def test_evaluate_reports_each_violation_kind() -> None:
    """Wrong length, out-of-range agent, forbidden pair and capacity excess are each reported."""
    inst = Instance.from_dict(small_doc())
    ev = evaluate(inst, Solution((1, 1, 1)))  # task 2 on agent 1 is forbidden; cpu load 3+1+2=6 > 4
    assert any("forbidden" in v for v in ev.violations)
    assert any(
        "agent 1 exceeds capacity on resource 0 (cpu): load 6 > capacity 4" in v for v in ev.violations
    )
    assert ev.objective == 1 + 6 + 3
    ev = evaluate(inst, Solution((0, 5)))
    assert any("2 entries" in v for v in ev.violations)
    assert any("agent 5" in v for v in ev.violations)


def test_evaluate_makespan() -> None:
    """Makespan = the largest per-agent load on makespan_resource, here resource 1 (mem)."""
    doc = small_doc()
    doc["objective"] = "makespan"
    doc["makespan_resource"] = 1
    inst = Instance.from_dict(doc)
    ev = evaluate(inst, Solution((1, 0, 0)))  # mem loads: agent0 1+1=2, agent1 9
    assert ev.feasible and ev.objective == 9.0


def test_solution_from_dict_paths() -> None:
    """Solution documents are validated too: bad entries and unknown keys carry their paths."""
    with pytest.raises(InstanceError) as ei:
        Solution.from_dict({"assignment": [0, -1, "a"], "x": 1})
    assert paths(ei.value) == {"assignment[1]", "assignment[2]", "x"}
    assert Solution.from_dict({"assignment": [1, 0]}).to_dict() == {"assignment": [1, 0]}


def test_read_orlib_single_file(shared_data: Path) -> None:
    """cattrysse1994/gap1-0 reads as one 5 x 15 instance with its first row and capacities."""
    [inst] = read_orlib_gap((shared_data / "gap/cattrysse1994/gap1-0").read_text(), "gap1-0")
    assert (inst.num_agents, inst.num_tasks, inst.name) == (5, 15, "gap1-0")
    assert inst.costs is not None and inst.costs[0][:3] == (17, 21, 22)
    assert inst.resources[0].capacities == (36, 34, 38, 27, 33)


def test_read_orlib_multi_instance_stream() -> None:
    """A leading instance count P is followed by P instances, named name#1..name#P."""
    one = "2 3\n1 2 3\n4 5 6\n1 1 1\n2 2 2\n5 6\n"
    two = "1 2\n7 8\n3 4\n9\n"
    insts = read_orlib_gap("2\n" + one + two, "f")
    assert [i.name for i in insts] == ["f#1", "f#2"]
    assert insts[1].costs == ((7, 8),) and insts[1].resources[0].capacities == (9,)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2 3\n1 2 3\n4 5 6\n1 1 1\n2 2\n", "expected 6 integers"),
        ("1 2\n7 x\n3 4\n9\n", "token 3 (line 2)"),
        ("1 2\n7 8\n3 4\n9 10\n", "trailing"),
        ("2\n1 2\n7 8\n3 4\n9\n", "instance 2 of 2"),
    ],
)
def test_read_orlib_errors_are_precise(text: str, fragment: str) -> None:
    """Malformed files raise ValueError naming the token, count or instance at fault."""
    with pytest.raises(ValueError, match=None) as ei:
        read_orlib_gap(text)
    assert fragment in str(ei.value)


def test_read_best_known(shared_data: Path) -> None:
    """best-known.csv maps instance -> (lower bound, best known, status)."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    assert table["cattrysse1994/gap1-0"] == (261, 261, "optimal")
    assert table["yagiura2004/e801600"][2] == "best-known"


def test_sample_is_valid() -> None:
    """The shipped sample parses and round-trips."""
    doc = json.loads((ROOT / "instances/samples/task_allocation.json").read_text())
    inst = Instance.from_dict(doc)
    assert Instance.from_dict(inst.to_dict()) == inst
