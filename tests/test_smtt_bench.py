"""Slow SMTT benchmark on OR-Library wt40 (run with ``pytest -m slow tests/test_smtt_bench.py -s``).

Runs ``auto`` with 1 s per instance on all 125 wt40 instances and prints how many reach the published
optimum and how many are proved optimal. It pins correctness (objective >= optimum >= bound on every
instance, never a discarded bound) and a floor on quality that the ILS reaches comfortably.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from models.smtt import read_orlib_optima, read_orlib_wt
from solvers import Budget, Status, solve, warmup


@pytest.mark.slow
def test_auto_on_all_wt40(shared_data: Path) -> None:
    """auto at 1 s each on wt40: bounds valid everywhere; at least 120/125 reach the optimum."""
    warmup(["smtt"])
    t = shared_data / "tardiness"
    insts = read_orlib_wt((t / "wt40.txt").read_text(), 40, "wt40")
    opt = read_orlib_optima((t / "wtopt40.txt").read_text())
    hit = proved = 0
    t0 = time.perf_counter()
    for inst, o in zip(insts, opt, strict=True):
        r = solve(inst, "auto", Budget(1.0))
        assert r.objective is not None and r.bound is not None
        assert r.objective >= o >= r.bound, (inst.name, r.objective, o, r.bound)
        assert "discarded" not in r.message
        hit += r.objective == o
        proved += r.status is Status.OPTIMAL
    took = time.perf_counter() - t0
    print(f"\nwt40 auto 1 s: optimum reached {hit}/125, proved {proved}/125, total {took:.1f} s")
    assert hit >= 120


def test_bench_command_prints_the_tables(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`allot bench tardiness` on two wt40 instances, a tiny study and a tiny proofs run: each table has
    its row with the right instance count, no bound above the optimum, and the exact column proves
    the 12-job unweighted instances."""
    from solvers.smtt.bench import main

    args = ["--data", str(shared_data), "--sets", "wt40", "--limit", "2", "--time-limit", "0.15"]
    assert main([*args, "--part", "orlib", "--first", "26"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("wt40"))
    assert row[1] == "2" and row[4] == "0", out  # instances, bad bounds
    assert main([*args, "--part", "proofs", "--sizes", "12", "--count", "3"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("12 "))
    assert row[:3] == ["12", "3", "3"], out
    assert main([*args, "--part", "study", "--sizes", "10", "--count", "2", "--output", "jsonl"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(recs) == 10 and all(r["objective"] >= r["best_bound"] for r in recs)
