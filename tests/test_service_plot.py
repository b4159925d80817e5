"""`allot plot INSTANCE RESULT`: the figures show the data of the result, and bad results are refused.

Every family's sample is solved in-process, written as `allot solve --output jsonl` would, and drawn by
the CLI; the figure the CLI drew is captured (``plot.figure`` wrapped) and its artists are compared with
values recomputed here from the instance data, independently of ``service.plot``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import models
from service import plot
from service.cli import main
from service.formats import read_file
from solvers import Budget, solve, warmup

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "instances" / "samples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result_row(name: str, inst: Any) -> dict[str, Any]:
    res = solve(inst, "auto", Budget(time_limit=2.0)).with_(instance=name)
    row = res.to_dict()
    assert row["solution"] is not None, row
    return json.loads(json.dumps(row))  # exactly what a jsonl line holds


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """family -> (instance file name as given to solve, instance, result row); also results.jsonl."""
    out: dict[str, tuple[str, Any, dict[str, Any]]] = {}
    for family in models.FAMILIES:
        name = str(SAMPLES / f"{family}.json")
        [(entry_name, inst)] = read_file(Path(name))
        out[family] = (entry_name, inst, _result_row(entry_name, inst))
    return out


@pytest.fixture()
def jsonl(tmp_path: Path, solved: dict[str, tuple[str, Any, dict[str, Any]]]) -> Path:
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for _, _, row in solved.values()))
    return path


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any, Figure]]:
    """Every (instance, solution, figure) the CLI draws during the test."""
    seen: list[tuple[Any, Any, Figure]] = []
    real = plot.figure

    def spy(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
        fig = real(instance, solution, result)
        seen.append((instance, solution, fig))
        return fig

    monkeypatch.setattr(plot, "figure", spy)
    return seen


def _plot_ok(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plot", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000  # a drawn chart, not an empty canvas
    assert f"wrote {out}" in err


def _gid_patches(fig: Figure, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ax in fig.axes:
        for patch in ax.patches:
            gid = patch.get_gid()
            if gid and gid.startswith(prefix):
                out[gid] = patch
    return out


def _fail(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["plot", *args])
    return code, capsys.readouterr().err


# -- the four families -------------------------------------------------------------------------------


def test_smtt_gantt_bars_are_the_recomputed_schedule(
    solved: dict, jsonl: Path, tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, row = solved["smtt"]
    _plot_ok([name, str(jsonl)], tmp_path / "g.png", capsys)
    [(_, _, fig)] = drawn
    doc = json.loads(Path(name).read_text())
    p, d = doc["processing_times"], doc["due_dates"]
    seq = row["solution"]["sequence"]
    bars = _gid_patches(fig, "job-")
    assert len(bars) == len(p)  # one bar per job
    t = 0
    tardy = 0
    for j in seq:
        rect = bars[f"job-{j}"]
        assert rect.get_x() == t and rect.get_width() == p[j]
        t += p[j]
        late = t > d[j]
        tardy += late
        assert rect.get_facecolor() == to_rgba(plot.TARDY if late else plot.ON_TIME)
    assert tardy > 0  # the sample has tardy jobs, so both colours are exercised
    [dues] = [c for c in fig.axes[0].collections if c.get_gid() == "due-dates"]
    assert [x for x, _ in dues.get_offsets()] == [d[j] for j in seq]
    title = fig.axes[0].get_title()
    assert f"objective {row['objective']}" in title and f"bound {row['bound']}" in title


def test_task_allocation_bars_are_the_loads_and_capacities(
    solved: dict, jsonl: Path, tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, row = solved["task_allocation"]
    _plot_ok([name, str(jsonl)], tmp_path / "t.png", capsys)
    [(_, _, fig)] = drawn
    doc = json.loads(Path(name).read_text())
    [res] = doc["resources"]
    loads = [0] * doc["num_agents"]
    for task, agent in enumerate(row["solution"]["assignment"]):
        loads[agent] += res["demands"][agent][task]
    bars = _gid_patches(fig, "load-0-")
    assert [bars[f"load-0-{i}"].get_height() for i in range(len(loads))] == loads
    [caps] = [c for c in fig.axes[0].collections if c.get_gid() == "cap-0"]
    assert [seg[0][1] for seg in caps.get_segments()] == res["capacities"]


def test_task_allocation_makespan_line(
    tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((SAMPLES / "task_allocation.json").read_text())
    doc["objective"] = "makespan"
    path = tmp_path / "ms.json"
    path.write_text(json.dumps(doc))
    [(name, inst)] = read_file(path)
    row = _result_row(name, inst)
    (tmp_path / "ms.jsonl").write_text(json.dumps(row) + "\n")
    _plot_ok([str(path), str(tmp_path / "ms.jsonl")], tmp_path / "ms.png", capsys)
    [(_, _, fig)] = drawn
    dem = doc["resources"][0]["demands"]
    loads = [0] * doc["num_agents"]
    for task, agent in enumerate(row["solution"]["assignment"]):
        loads[agent] += dem[agent][task]
    assert max(loads) == row["objective"]
    ax = fig.axes[0]
    bars = _gid_patches(fig, "load-0-")
    assert [bars[f"load-0-{i}"].get_height() for i in range(len(loads))] == loads
    levels = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert levels[f"makespan {max(loads)}"] == max(loads)


def _pod_utilisation(doc: dict[str, Any], sol: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Independent recomputation: per (node, resource) the percentage used after the plan."""
    used: dict[tuple[str, str], float] = {}

    def add(pod: dict[str, Any], node: str) -> None:
        req = pod.get("requests", {})
        for r in ("cpu", "memory"):
            used[(node, r)] = used.get((node, r), 0) + req.get(r, 0)
        gpu = pod.get("gpu")
        if gpu:
            used[(node, "gpu")] = used.get((node, "gpu"), 0) + gpu["count"] * gpu["milli"]

    for rp in doc.get("running", []):
        if rp["name"] not in sol["evictions"]:
            add(rp, sol["moves"].get(rp["name"], rp["node"]))
    for p in doc["pods"]:
        if sol["placements"][p["name"]] is not None:
            add(p, sol["placements"][p["name"]])
    out: dict[tuple[str, str], float] = {}
    for n in doc["nodes"]:
        caps = {"cpu": n["allocatable"]["cpu"], "memory": n["allocatable"]["memory"]}
        if n.get("gpus"):
            caps["gpu"] = 1000 * n["gpus"]["count"]
        for r, c in caps.items():
            out[(n["name"], r)] = 100.0 * used.get((n["name"], r), 0) / c
    return out


def test_pod_packing_utilisation_is_the_final_state(
    solved: dict, jsonl: Path, tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, row = solved["pod_packing"]
    _plot_ok([name, str(jsonl)], tmp_path / "p.png", capsys)
    [(_, _, fig)] = drawn
    doc = json.loads(Path(name).read_text())
    sol = row["solution"]
    assert sol["evictions"], "the sample's plan evicts, so the recomputation covers evictions"
    expect = _pod_utilisation(doc, sol)
    bars = {gid: p for gid, p in _gid_patches(fig, "").items() if "/" in gid and p.get_visible()}
    assert set(bars) == {f"{node}/{r}" for node, r in expect}
    for (node, r), value in expect.items():
        assert bars[f"{node}/{r}"].get_height() == pytest.approx(value)
    pending = [p["name"] for p in doc["pods"] if sol["placements"][p["name"]] is None]
    [text] = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "pending"]
    assert text.get_text().startswith(f"pending pods: {len(pending)}")
    assert all(p in text.get_text() for p in pending)
    assert f"pending {len(pending)}" in fig.get_suptitle()


def test_pod_packing_moves_are_applied(
    tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    """A running pod moved away frees its node for a pending pod: both nodes show the moved state."""
    gib = 2**30
    doc = {
        "problem": "pod_packing",
        "nodes": [{"name": n, "allocatable": {"cpu": 4000, "memory": 8 * gib}} for n in ("a", "b")],
        "running": [
            {"name": "r1", "node": "a", "requests": {"cpu": 3000, "memory": 2 * gib}},
            {"name": "r2", "node": "b", "requests": {"cpu": 1000, "memory": 1 * gib}},
        ],
        "pods": [{"name": "p", "requests": {"cpu": 3500, "memory": 4 * gib}}],
        "options": {"max_moves": 1},
    }
    path = tmp_path / "moves.json"
    path.write_text(json.dumps(doc))
    sol = {"placements": {"p": "a"}, "evictions": [], "moves": {"r1": "b"}, "gpu_indices": {}}
    [(name, inst)] = read_file(path)
    model = models.family("pod_packing")
    ev = model.evaluate(inst, model.Solution.from_dict(sol))
    assert ev.feasible, ev.violations
    row = {"instance": name, "problem": "pod_packing", "status": "FEASIBLE", "objective": ev.objective}
    (tmp_path / "moves.jsonl").write_text(json.dumps({**row, "solution": sol}) + "\n")
    _plot_ok([str(path), str(tmp_path / "moves.jsonl")], tmp_path / "moves.png", capsys)
    [(_, _, fig)] = drawn
    heights = {gid: p.get_height() for gid, p in _gid_patches(fig, "").items() if p.get_visible()}
    assert heights == pytest.approx({"a/cpu": 87.5, "a/memory": 50.0, "b/cpu": 100.0, "b/memory": 37.5})
    assert heights == pytest.approx({f"{k[0]}/{k[1]}": v for k, v in _pod_utilisation(doc, sol).items()})
    assert "moves 1" in fig.get_suptitle()


def test_seq_parallel_one_rectangle_per_group(
    solved: dict, jsonl: Path, tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    name, inst, row = solved["seq_parallel"]
    _plot_ok([name, str(jsonl)], tmp_path / "s.png", capsys)
    [(_, _, fig)] = drawn
    _check_groups(inst, row["solution"], fig)


def _check_groups(inst: Any, sol: dict[str, Any], fig: Figure) -> None:
    rects = _gid_patches(fig, "group-")
    groups = [(i, j, g) for i, mb in enumerate(sol["microbatches"]) for j, g in enumerate(mb["groups"])]
    assert len(rects) == len(groups)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for i, j, g in groups:
        rect = rects[f"group-{i}-{j}"]
        assert isinstance(rect, Rectangle)
        assert (rect.get_y(), rect.get_height()) == (min(g["gpus"]), len(g["gpus"]))  # spans its GPUs
        assert i < rect.get_x() < rect.get_x() + rect.get_width() < i + 1  # in its micro-batch column
        spans = len({r // inst.gpus_per_node for r in g["gpus"]}) > 1
        t = inst.group_time([inst.sequences[s] for s in g["sequences"]], len(g["gpus"]), spans)
        label = f"d={len(g['gpus'])}\n{len(g['sequences'])} seq\n{t:.1f} ms"
        if len(g["gpus"]) >= inst.num_gpus // 4:  # large groups always carry the full label
            assert label in texts


def test_seq_parallel_64_gpus_mixed_degrees(
    tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    from instances.seq_parallel import generate

    inst = generate(3, n=48, num_gpus=64, median=2048)
    path = tmp_path / "sp64.json"
    path.write_text(json.dumps(inst.to_dict()))
    [(name, inst)] = read_file(path)
    warmup(["seq_parallel"])  # as the CLI does: a first solve that pays JIT time may stop at one group
    res = solve(inst, "pack", Budget(time_limit=1.0, deterministic=True)).with_(instance=name).to_dict()
    (tmp_path / "sp64.jsonl").write_text(json.dumps(res) + "\n")
    _plot_ok([str(path), str(tmp_path / "sp64.jsonl")], tmp_path / "sp64.png", capsys)
    [(_, _, fig)] = drawn
    sol = json.loads(json.dumps(res))["solution"]
    assert len({len(g["gpus"]) for mb in sol["microbatches"] for g in mb["groups"]}) > 2  # mixed degrees
    _check_groups(inst, sol, fig)


# -- multi-instance files and matching -------------------------------------------------------------


def test_orlib_wt_file_instance_by_index(
    tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    wt = tmp_path / "wt3.txt"
    # two instances of 3 jobs: processing times, weights, due dates
    wt.write_text("4 2 6  1 2 1  5 3 8\n7 1 3  2 1 1  4 2 9\n")
    assert main(["solve", str(wt), "--output", "jsonl", "--time-limit", "1"]) == 0
    results = tmp_path / "wt.jsonl"
    results.write_text(capsys.readouterr().out)
    for args in ([str(wt), str(results), "--index", "2"], [f"{wt}#2", str(results)]):
        drawn.clear()
        _plot_ok(args, tmp_path / "wt.png", capsys)
        [(inst, _, fig)] = drawn
        assert inst.processing_times == (7, 1, 3)
        widths = {gid: r.get_width() for gid, r in _gid_patches(fig, "job-").items()}
        assert widths == {"job-0": 7, "job-1": 1, "job-2": 3}
        assert f"{wt}#2" in fig.axes[0].get_title()
    code, err = _fail([str(wt), str(results), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "--index" in err
    code, err = _fail([str(wt), str(results), "--index", "3", "-o", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "holds 2 instance(s)" in err


def test_result_found_by_file_name_from_another_directory(
    solved: dict, tmp_path: Path, drawn: list, capsys: pytest.CaptureFixture[str]
) -> None:
    """Solved as `instances/samples/smtt.json` (relative), plotted through another path to the file."""
    _, _, row = solved["smtt"]
    results = tmp_path / "rel.jsonl"
    results.write_text(json.dumps({**row, "instance": "instances/samples/smtt.json"}) + "\n")
    _plot_ok([str(SAMPLES / ".." / "samples" / "smtt.json"), str(results)], tmp_path / "rel.png", capsys)
    assert len(drawn) == 1


# -- refusals --------------------------------------------------------------------------------------


def _one_line(tmp_path: Path, row: dict[str, Any]) -> str:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return str(path)


def test_missing_solution_is_refused(
    solved: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, row = solved["seq_parallel"]
    bad = {**row, "status": "NO_SOLUTION", "solution": None, "message": "no plan within 0 s"}
    code, err = _fail([name, _one_line(tmp_path, bad), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1
    assert "has no solution (status NO_SOLUTION: no plan within 0 s)" in err
    assert "Traceback" not in err and not (tmp_path / "x.png").exists()


def test_infeasible_solution_is_refused(
    solved: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, row = solved["smtt"]
    seq = list(row["solution"]["sequence"])
    seq[1] = seq[0]
    bad = {**row, "solution": {"sequence": seq}}
    code, err = _fail([name, _one_line(tmp_path, bad), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1
    assert "infeasible" in err and f"job {seq[0]} is repeated" in err
    assert not (tmp_path / "x.png").exists()
    malformed = {**row, "solution": {"sequence": "0 1 2"}}
    code, err = _fail([name, _one_line(tmp_path, malformed), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1 and "malformed solution: sequence: must be a list" in err


def test_overfull_agent_is_refused(solved: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, _, row = solved["task_allocation"]
    bad = {**row, "solution": {"assignment": [1] * 10}}
    code, err = _fail([name, _one_line(tmp_path, bad), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1 and "exceeds capacity" in err


def test_result_of_another_instance_is_refused(
    solved: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same name and a feasible sequence, but the objective is not this instance's."""
    name, _, row = solved["smtt"]
    bad = {**row, "objective": row["objective"] + 1}
    code, err = _fail([name, _one_line(tmp_path, bad), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1 and "evaluates to" in err
    other = {**solved["task_allocation"][2], "instance": name}
    code, err = _fail([name, _one_line(tmp_path, other), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1 and "is a 'task_allocation' result" in err


def test_unknown_instance_name(
    solved: dict, jsonl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text((SAMPLES / "smtt.json").read_text())
    code, err = _fail([str(other), str(jsonl), "-o", str(tmp_path / "x.png")], capsys)
    assert code == 1
    assert f"no result for instance {str(other)!r}" in err and "smtt.json" in err


def test_unreadable_files_are_usage_errors(
    solved: dict, jsonl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = solved["smtt"][0]
    notjson = tmp_path / "table.txt"
    notjson.write_text("instance  problem  status\n")
    cases = [
        ([str(tmp_path / "absent.json"), str(jsonl)], "cannot read"),
        ([name, str(tmp_path / "absent.jsonl")], "cannot read"),
        ([name, str(notjson)], "line 1 is not JSON"),
        ([name, str(jsonl), "-o", str(tmp_path / "x.unknownfmt")], "unknown picture format"),
        ([name, str(jsonl), "-o", str(tmp_path / "no" / "dir" / "x.png")], "cannot write"),
    ]
    for args, message in cases:
        code, err = _fail(args if "-o" in args else [*args, "-o", str(tmp_path / "x.png")], capsys)
        assert code == 2 and message in err, (args, err)
        assert "Traceback" not in err


# -- large instances ---------------------------------------------------------------------------------


def test_smtt_500_jobs_no_per_bar_labels(tmp_path: Path) -> None:
    rng = random.Random(5)
    n = 500
    p = [rng.randint(1, 100) for _ in range(n)]
    doc = {"problem": "smtt", "processing_times": p, "due_dates": [rng.randint(0, 25000) for _ in range(n)]}
    inst = models.instance_from_dict(doc)
    seq = list(range(n))
    rng.shuffle(seq)
    sol = models.family("smtt").Solution.of(seq)
    row = {"instance": "big", "problem": "smtt", "status": "FEASIBLE", "objective": None, "solution": {}}
    t0 = time.perf_counter()
    fig = plot.figure(inst, sol, row)
    out = plot.render(inst, sol, row, tmp_path / "big.png")
    assert time.perf_counter() - t0 < 20  # generous on a loaded 2-core machine; ~1 s when quiet
    assert out.read_bytes()[:8] == PNG_MAGIC
    ax = fig.axes[0]
    assert len(_gid_patches(fig, "job-")) == n
    assert len(ax.texts) == 0 and len(ax.get_yticklabels()) == 0
    assert _gid_patches(fig, f"job-{seq[-1]}")[f"job-{seq[-1]}"].get_x() + p[seq[-1]] == sum(p)


def test_pod_packing_1000_nodes_top_and_bottom(tmp_path: Path) -> None:
    rng = random.Random(7)
    nodes = [
        {"name": f"n{i:04d}", "allocatable": {"cpu": 8000, "memory": 32 * 2**30, "pods": 110}}
        for i in range(1000)
    ]
    running = [
        {
            "name": f"r{i}",
            "node": f"n{i:04d}",
            "requests": {"cpu": rng.randint(0, 8000), "memory": rng.randint(0, 32 * 2**30)},
        }
        for i in range(1000)
    ]
    pods = [{"name": f"big{k}", "requests": {"cpu": 9000}} for k in range(20)]  # fits no node
    doc = {"problem": "pod_packing", "nodes": nodes, "pods": pods, "running": running}
    inst = models.instance_from_dict(doc)
    sol_doc = {"placements": {p["name"]: None for p in pods}, "evictions": [], "moves": {}}
    sol = models.family("pod_packing").Solution.from_dict(sol_doc)
    assert models.family("pod_packing").evaluate(inst, sol).feasible
    t0 = time.perf_counter()
    fig = plot.figure(inst, sol, {"instance": "1000 nodes", "status": "FEASIBLE"})
    plot.render(inst, sol, {"instance": "1000 nodes", "status": "FEASIBLE"}, tmp_path / "pods.png")
    assert time.perf_counter() - t0 < 20
    share = {
        r["node"]: max(100 * r["requests"]["cpu"] / 8000, 100 * r["requests"]["memory"] / (32 * 2**30))
        for r in running
    }
    ranked = sorted(share, key=lambda node: (-share[node], node))
    bars = _gid_patches(fig, "n")
    drawn_nodes = {gid.split("/")[0] for gid in bars}
    assert drawn_nodes == set(ranked[: plot.TOP_BOTTOM]) | set(ranked[-plot.TOP_BOTTOM :])
    for gid, rect in bars.items():
        node, r = gid.split("/")
        [rp] = [x for x in running if x["node"] == node]
        cap = 8000 if r == "cpu" else 32 * 2**30
        assert rect.get_height() == pytest.approx(100 * rp["requests"][r] / cap)
    hist_ax = fig.axes[0]
    assert "all 1000 nodes" in hist_ax.get_title()
    [text] = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "pending"]
    assert text.get_text().startswith("pending pods: 20") and "... and 5 more" in text.get_text()


# -- cost of the import ------------------------------------------------------------------------------


def test_other_commands_do_not_import_matplotlib() -> None:
    code = "import sys, service.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
