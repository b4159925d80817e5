"""``allot bench flexsp``: sequence-parallel planners on FlexSP's reference case and further batches.

Two sets (both by default; ``--set reference`` or ``--set wiki`` for one):

``reference``  the five global batches of ``seqlen/flexsp-reference.json`` (iterations 3-7, 64 GPUs,
    GPT-7B, 30 GB). Per step and in total: the modelled step time (ms) and the solve time (s) of each
    planner (``--planners``, default ``bfd-max,bfd,pack,milp,auto``), the best proved lower bound and
    the certified gap of ``auto``'s plan, next to FlexSP's logged figures (static 31.67 s, adaptive
    23.66 s, MILP 18.08 s). Solve times are wall clock (``s``) and process CPU time (``cpu s``, less
    sensitive to other load on a shared machine; HiGHS runs with one thread).
``wiki``  further batches of ``seqlen/wikipedia.txt`` read the way FlexSP reads them (pad to 128, drop
    lengths above 383,872, 512 sequences per batch in file order), iterations ``--iters`` (default
    8-50), with the cost-model presets of ``--models`` (only ``gpt-7b`` exists: FlexSP's 13B/30B
    constants could not be sourced with certainty, see models/seq_parallel.py).

Planners get ``--time-limit`` seconds per step (default 1.0) and one thread. ``--degrees flexsp``
(default) allows FlexSP's candidate degrees 2..64 (its MILP never uses degree 1); ``--degrees all``
adds degree 1. Progress goes to stderr, tables to stdout; ``--output jsonl`` prints one record per run.
Record ``cat /proc/loadavg`` next to any figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from models.seq_parallel import Instance, read_token_lengths
from solvers import Budget, solve, warmup

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLUSTER = {"num_gpus": 64, "gpus_per_node": 8, "memory_mb": 30720}
FLEXSP_DEGREES = [2, 4, 8, 16, 32, 64]
FLEXSP_COLUMNS = (("static_bfd_sp64", "FlexSP static"), ("adaptive_bfd", "FlexSP adaptive"))
FLEXSP_MILP = "flexsp_milp_10s"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="allot bench flexsp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--set", choices=("reference", "wiki", "all"), default="all")
    ap.add_argument("--planners", default="bfd-max,bfd,pack,milp,auto", help="comma-separated solvers")
    ap.add_argument("--time-limit", type=float, default=1.0, help="seconds of planning per step")
    ap.add_argument("--iters", default="8-50", help="wiki: iterations (global batch indices), e.g. 8-50")
    ap.add_argument("--models", default="gpt-7b", help="wiki: comma-separated cost-model presets")
    ap.add_argument("--degrees", choices=("flexsp", "all"), default="flexsp")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", choices=("text", "jsonl"), default="text")
    return ap


def _range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _batches(data: Path, iters: list[int], model: str, degrees: list[int] | None) -> list[Instance]:
    text = (data / "seqlen" / "wikipedia.txt").read_text()
    need = (max(iters) + 1) * 512 + 64  # only two lines of the file are ever dropped, far beyond
    lines = text.split("\n", need)[:need]
    return read_token_lengths(
        "\n".join(lines),
        batch_size=512,
        batches=iters,
        pad_to=128,
        max_length=383872,
        cluster=CLUSTER,
        cost_model=model,
        name=f"wikipedia-{model}",
        degrees=degrees,
    )


def _run(
    insts: list[Instance], planners: list[str], args: argparse.Namespace, label: str
) -> list[dict[str, Any]]:
    rows = []
    for k, inst in enumerate(insts):
        row: dict[str, Any] = {"set": label, "instance": inst.name, "step": k}
        best_bound = -math.inf
        for p in planners:
            print(f"\r{label}: step {k + 1}/{len(insts)} {p:8s}", end="", file=sys.stderr, flush=True)
            c0 = time.process_time()
            r = solve(inst, p, Budget(args.time_limit, workers=1, seed=args.seed))
            cpu = time.process_time() - c0
            row[p] = {
                "status": r.status.value if hasattr(r.status, "value") else str(r.status),
                "objective": r.objective,
                "bound": r.bound,
                "bound_source": r.bound_source,
                "time_s": r.wall_time_s,
                "cpu_s": cpu,
            }
            if r.bound is not None and math.isfinite(r.bound):
                best_bound = max(best_bound, r.bound)
        row["bound"] = best_bound
        row["load"] = os.getloadavg()[0]
        rows.append(row)
    print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    return rows


def _gap(obj: float | None, bound: float) -> float:
    if obj is None or not math.isfinite(bound):
        return math.inf
    return max(0.0, (obj - bound) / max(abs(obj), 1.0))


def _table(rows: list[dict[str, Any]], planners: list[str], flexsp: dict[str, list[float]] | None) -> str:
    gap_of = "auto" if "auto" in planners else planners[-1]
    head = ["step"]
    for p in planners:
        head += [f"{p} ms", f"{p} s", "cpu s"]
    head += ["bound ms", f"{gap_of} gap"]
    extra = list(flexsp) if flexsp else []
    head += extra
    lines = [head]
    tot: dict[str, float] = {}
    for k, row in enumerate(rows):
        cells = [row["instance"].rsplit("-b", 1)[-1] if "-b" in row["instance"] else str(k)]
        for p in planners:
            o, t, c = row[p]["objective"], row[p]["time_s"], row[p]["cpu_s"]
            cells += ["-" if o is None else f"{o:.1f}", f"{t:.3f}", f"{c:.3f}"]
            tot[p] = tot.get(p, 0.0) + (math.inf if o is None else o)
            tot[p + " s"] = tot.get(p + " s", 0.0) + t
            tot[p + " cpu"] = tot.get(p + " cpu", 0.0) + c
        cells += [f"{row['bound']:.1f}", f"{100 * _gap(row[gap_of]['objective'], row['bound']):.2f}%"]
        tot["bound"] = tot.get("bound", 0.0) + row["bound"]
        for name in extra:
            assert flexsp is not None
            cells.append(f"{flexsp[name][k]:.1f}")
            tot[name] = tot.get(name, 0.0) + flexsp[name][k]
        lines.append(cells)
    cells = ["total"]
    for p in planners:
        cells += [f"{tot[p]:.1f}", f"{tot[p + ' s']:.3f}", f"{tot[p + ' cpu']:.3f}"]
    total_obj = tot.get(gap_of, math.inf)
    cells += [f"{tot['bound']:.1f}", f"{100 * _gap(total_obj, tot['bound']):.2f}%"]
    cells += [f"{tot[name]:.1f}" for name in extra]
    lines.append(cells)
    widths = [max(len(r[c]) for r in lines) for c in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    degrees = FLEXSP_DEGREES if args.degrees == "flexsp" else None
    warmup(["seq_parallel"])
    ref_path = args.data / "seqlen" / "flexsp-reference.json"
    if not ref_path.exists():
        print(f"error: {ref_path} not found (use --data)", file=sys.stderr)
        return 2
    out: list[tuple[str, list[dict[str, Any]], dict[str, list[float]] | None]] = []
    if args.set in ("reference", "all"):
        ref = json.loads(ref_path.read_text())
        insts = [
            Instance.from_dict(
                {
                    "problem": "seq_parallel",
                    "name": f"reference-b{it}",
                    "sequences": seqs,
                    "cluster": CLUSTER,
                    "cost_model": "gpt-7b",
                    **({"degrees": degrees} if degrees else {}),
                }
            )
            for it, seqs in zip(ref["iterations"], ref["batches"], strict=True)
        ]
        flex = {label: ref["reference"][key] for key, label in FLEXSP_COLUMNS}
        flex["FlexSP MILP 10s"] = ref["reference"][FLEXSP_MILP]
        out.append(("reference (gpt-7b)", _run(insts, planners, args, "reference"), flex))
    if args.set in ("wiki", "all"):
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            insts = _batches(args.data, _range(args.iters), model, degrees)
            out.append(
                (f"wikipedia {args.iters} ({model})", _run(insts, planners, args, f"wiki-{model}"), None)
            )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for title, rows, fl in out:
        if args.output == "jsonl":
            for row in rows:
                print(json.dumps(row))
            continue
        print(f"== {title}: {args.time_limit:g} s per step, 1 thread, degrees {args.degrees}, loadavg {load}")
        print(_table(rows, planners, fl))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
