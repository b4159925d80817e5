"""``allot solve --ray``: batch solving as Ray tasks (service/raybatch.py), on a private local Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import models
from instances import smtt as smtt_gen
from service import raybatch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "instances" / "samples").glob("*.json"))


def test_batch_on_local_ray_answers_every_instance_verified(tmp_path: Path) -> None:
    """Every sample plus a file of several SMTT instances and an invalid one, solved on a local Ray: each
    instance is answered exactly once, the invalid one INVALID with its field, every solution passes the
    family's checker here with the reported objective, and bounds never exceed objectives."""
    pytest.importorskip("ray")
    several = tmp_path / "several.json"
    docs = [smtt_gen.generate(seed=s, n=12).to_dict() for s in range(3)]
    several.write_text(json.dumps(docs))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"problem": "smtt", "processing_times": [1, -2], "due_dates": [1, 1]}))
    files = [*map(str, SAMPLES), str(several), str(bad)]
    options = ["--ray", "local", "--output", "jsonl", "--time-limit", "5"]
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "solve", *files, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # the invalid instance makes the batch exit 1
    assert "processing_times[1]" in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_name = {d["instance"]: d for d in lines}
    expected = {str(p) for p in SAMPLES} | {f"{several}#{k}" for k in (1, 2, 3)} | {str(bad)}
    assert sorted(by_name) == sorted(expected) and len(lines) == len(expected)
    assert by_name[str(bad)]["status"] == "INVALID"
    sources: dict[str, Any] = {str(p): json.loads(p.read_text()) for p in SAMPLES}
    sources.update({f"{several}#{k + 1}": d for k, d in enumerate(docs)})
    for name, doc in sources.items():
        out = by_name[name]
        assert out["status"] in ("OPTIMAL", "FEASIBLE"), out
        model = models.family(doc["problem"])
        ev = model.evaluate(model.Instance.from_dict(doc), model.Solution.from_dict(out["solution"]))
        assert ev.feasible, ev.violations
        assert ev.objective == pytest.approx(out["objective"])
        assert out["bound"] <= out["objective"] + 1e-6 * max(1.0, abs(out["objective"]))


def test_missing_ray_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the package, --ray says how to install it instead of a traceback."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(raybatch.RayUnavailable, match=r"pip install 'allotment\[ray\]'"):
        raybatch.connect("local")


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1", "no-port"])
def test_unreachable_or_malformed_address_fails_fast(address: str) -> None:
    """An address nothing listens at is refused in seconds (ray.init itself would retry for minutes)."""
    pytest.importorskip("ray")
    with pytest.raises(raybatch.RayUnavailable, match=r"Ray at|expected"):
        raybatch.connect(address)
