"""Worker warm-up covers every Numba signature the solvers use, so no request pays JIT time.

Runs in a fresh interpreter (signatures compiled by other tests would hide a gap): warm up, then solve
each family's sample and a mid-size generated instance with `auto`, and fail if any Numba dispatcher
gained a signature during the solves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Prefix of every check: ``dispatchers()`` counts each Numba dispatcher's compiled signatures.
HARNESS = r"""
import importlib, json, pkgutil, sys
import solvers
from solvers import Budget, registry, solve
from pathlib import Path

def dispatchers():
    out = {}
    for info in pkgutil.walk_packages(solvers.__path__, "solvers."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                out[f"{info.name}.{name}"] = len(obj.signatures)
    return out
"""


def grown_signatures(body: str, *args: str) -> dict[str, list[int]]:
    """Run ``HARNESS + body`` in a fresh interpreter (signatures compiled by other tests would hide a
    gap). ``body`` warms up, sets ``before = dispatchers()``, solves, and the harness reports every
    dispatcher that gained a signature since."""
    tail = "\nafter = dispatchers()\nprint(json.dumps({k: [before.get(k, 0), v] for k, v in after.items()"
    tail += " if v != before.get(k, 0)}))\n"
    out = subprocess.run(
        [sys.executable, "-c", HARNESS + body + tail, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


AUTO_ON_EVERY_FAMILY = r"""
from models import instance_from_dict
registry.warmup()
before = dispatchers()
root = Path(sys.argv[1])
samples = sorted((root / "instances/samples").glob("*.json"))
instances = [instance_from_dict(json.loads(p.read_text())) for p in samples]
from instances import smtt, task_allocation, seq_parallel, pod_packing
instances += [smtt.generate(1, n=120), smtt.generate(2, n=60, weighted=False), task_allocation.generate(1),
              seq_parallel.generate(1), pod_packing.generate(1)]
for inst in instances:
    solve(inst, "auto", Budget(1.0))
"""


def test_no_kernel_compiles_inside_a_solve() -> None:
    """Every kernel signature auto uses on each family is compiled by the registered warm-ups."""
    grown = grown_signatures(AUTO_ON_EVERY_FAMILY, str(ROOT))
    assert grown == {}, f"compiled during a solve (missing from warm-up): {grown}"
