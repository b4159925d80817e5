"""The `allot` CLI contract: solve (table and jsonl), validate, convert, generate, solvers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import models
from service.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "instances" / "samples").glob("*.json"))
REQUIRED_KEYS = {
    "instance",
    "problem",
    "status",
    "objective",
    "bound",
    "gap",
    "solver",
    "wall_time_s",
    "solution",
}

INVALID = {
    "smtt": ({"problem": "smtt", "processing_times": [1, -2], "due_dates": [0]}, "processing_times[1]"),
    "task_allocation": (
        {
            "problem": "task_allocation",
            "num_agents": 2,
            "num_tasks": 2,
            "costs": [[1, 2], [3]],
            "resources": [],
        },
        "costs[1]",
    ),
    "pod_packing": (
        {"problem": "pod_packing", "nodes": [{"name": "a", "allocatable": {"cpu": -1}}], "pods": []},
        "nodes[0].allocatable",
    ),
    "seq_parallel": (
        {
            "problem": "seq_parallel",
            "sequences": [0, 5],
            "cluster": {"num_gpus": 4, "gpus_per_node": 4, "memory_mb": 1000},
            "cost_model": "gpt-7b",
        },
        "sequences[0]",
    ),
}


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _verify(row: dict, doc: dict) -> None:
    model = models.family(row["problem"])
    inst = model.Instance.from_dict(doc)
    ev = model.evaluate(inst, model.Solution.from_dict(row["solution"]))
    assert ev.feasible, ev.violations
    assert ev.objective == pytest.approx(row["objective"])
    assert row["bound"] <= row["objective"] + 1e-6 * max(1, abs(row["objective"]))


def test_solve_samples_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    """Every sample is solved; each jsonl record carries the contract's keys and a verified solution."""
    code = main(["solve", *map(str, SAMPLES), "--output", "jsonl", "--time-limit", "5"])
    rows = _jsonl(capsys.readouterr().out)
    assert code == 0
    assert len(rows) == len(SAMPLES)
    for row, sample in zip(rows, SAMPLES, strict=True):
        assert set(row) >= REQUIRED_KEYS
        assert row["instance"] == str(sample)
        assert row["status"] in ("OPTIMAL", "FEASIBLE")
        _verify(row, json.loads(sample.read_text()))


def test_solve_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    """The readable table has a header row, one row per instance and a summary line."""
    code = main(["solve", str(SAMPLES[0]), "--time-limit", "2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split()[:6] == ["instance", "problem", "status", "objective", "bound", "gap"]
    assert str(SAMPLES[0]) in out[1]
    assert out[-1].startswith("1 instance(s):")


@pytest.mark.parametrize("problem", sorted(INVALID))
def test_invalid_instance_rejected_with_field_path(
    problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid instance of each family: exit status 1, the field path on stderr, an INVALID record,
    and the valid instance next to it still solved."""
    doc, path = INVALID[problem]
    bad = tmp_path / f"bad_{problem}.json"
    bad.write_text(json.dumps(doc))
    code = main(["solve", str(bad), str(SAMPLES[0]), "--output", "jsonl", "--time-limit", "2"])
    captured = capsys.readouterr()
    rows = _jsonl(captured.out)
    assert code == 1
    assert path in captured.err
    assert rows[0]["status"] == "INVALID" and path in rows[0]["message"]
    assert rows[1]["status"] in ("OPTIMAL", "FEASIBLE")


def test_unreadable_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that does not exist or is not JSON fails with a message naming it, exit status 2."""
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["solve", str(tmp_path / "missing.json"), str(broken)]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "broken.json" in err and "line 1" in err


def test_orlib_wt_many_instances_named_by_index(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OR-Library wt file yields FILE#k per instance, the job count taken from the file name."""
    tokens = (shared_data / "tardiness" / "wt40.txt").read_text().split()
    f = tmp_path / "wt40.txt"
    f.write_text(" ".join(tokens[: 2 * 3 * 40]))
    code = main(["solve", str(f), "--output", "jsonl", "--time-limit", "1", "--solver", "atc"])
    rows = _jsonl(capsys.readouterr().out)
    assert code == 0
    assert [r["instance"] for r in rows] == [f"{f}#1", f"{f}#2"]
    assert all(len(r["solution"]["sequence"]) == 40 for r in rows)


def test_orlib_gap_file_detected(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GAP file with no extension is detected and solved; the minimisation optimum of gap1-0 is 261."""
    f = tmp_path / "gap1-0"
    shutil.copy(shared_data / "gap" / "cattrysse1994" / "gap1-0", f)
    code = main(["solve", str(f), "--output", "jsonl", "--time-limit", "10"])
    (row,) = _jsonl(capsys.readouterr().out)
    assert code == 0
    assert row["instance"] == str(f) and row["problem"] == "task_allocation"
    assert row["objective"] >= 261 >= row["bound"]


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`allot validate` accepts the samples and rejects a bad instance with its field path."""
    assert main(["validate", *map(str, SAMPLES)]) == 0
    doc, path = INVALID["smtt"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["validate", str(bad)]) == 1
    assert path in capsys.readouterr().err


def test_generate_then_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each family's generator writes a valid native instance; the same seed writes the same file."""
    for problem in models.FAMILIES:
        a, b = tmp_path / f"{problem}_a.json", tmp_path / f"{problem}_b.json"
        assert main(["generate", problem, "--seed", "7", "-o", str(a)]) == 0
        assert main(["generate", problem, "--seed", "7", "-o", str(b)]) == 0
        assert a.read_text() == b.read_text()
        assert main(["validate", str(a)]) == 0


def test_convert_openb_and_seqlen(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`allot convert` writes native instances that `allot solve` accepts (one per seqlen batch)."""
    k = shared_data / "kubernetes"
    pods = tmp_path / "pods.csv"
    pods.write_text("".join((k / "openb_pod_list_default.csv").read_text().splitlines(keepends=True)[:31]))
    out = tmp_path / "openb.json"
    assert main(["convert", "openb", str(k / "openb_node_list_gpu_node.csv"), str(pods), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["problem"] == "pod_packing" and len(doc["pods"]) == 30 and len(doc["nodes"]) == 1213

    lengths = tmp_path / "lengths.txt"
    lengths.write_text("".join((shared_data / "seqlen" / "wikipedia.txt").read_text().splitlines(True)[:64]))
    out2 = tmp_path / "sp.json"
    args = [
        "convert",
        "seqlen",
        str(lengths),
        "-o",
        str(out2),
        "--batch-size",
        "32",
        "--pad-to",
        "128",
        "--num-gpus",
        "8",
        "--gpus-per-node",
        "8",
    ]
    assert main(args) == 0
    docs = json.loads(out2.read_text())
    assert isinstance(docs, list) and len(docs) == 2 and all(len(d["sequences"]) == 32 for d in docs)
    capsys.readouterr()
    assert main(["solve", str(out2), "--output", "jsonl", "--time-limit", "2", "--solver", "bfd"]) == 0
    rows = _jsonl(capsys.readouterr().out)
    assert [r["instance"] for r in rows] == [f"{out2}#1", f"{out2}#2"]


def test_console_script_runs_solvers_listing() -> None:
    """The installed `allot` entry point works as a process and lists every family."""
    exe = Path(sys.executable).parent / "allot"
    out = subprocess.run([str(exe), "solvers"], capture_output=True, text=True, check=True).stdout
    for problem in models.FAMILIES:
        assert problem in out


def test_json_log_lines_carry_extra_fields() -> None:
    """--log-format json writes one parseable object per line with the message and the extra fields
    (request ids) that log pipelines filter on."""
    import io
    import logging

    from service.cli import JsonLogFormatter

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("allot.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.info("solved %s", "x", extra={"request_id": "r-1", "gap": 0.25, "status": "FEASIBLE"})
    (line,) = buf.getvalue().splitlines()
    rec = json.loads(line)
    assert rec["message"] == "solved x" and rec["level"] == "INFO"
    assert rec["request_id"] == "r-1" and rec["gap"] == 0.25 and rec["status"] == "FEASIBLE"
