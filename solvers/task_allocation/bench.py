"""``allot bench gap``: the task-allocation solvers on the public GAP sets of ``../shared/data/gap``.

Cost variant (default)
    Every instance of the chosen sets (``cattrysse1994`` = OR-Library gap1-12, ``chu1997`` =
    Chu-Beasley A-D, ``yagiura2004`` = Yagiura C/D/E) is solved by one solver (default ``auto``) with
    ``--time-limit`` seconds, one thread, and compared with ``best-known.csv``. Per set it prints:
    instances, best-known found (objective <= best known), proved optimal (status OPTIMAL), mean / max
    gap to best known ((objective - best) / best), mean / max wall time. A missing solution counts as
    an infinite gap. ``--by-type`` splits a set by instance type (the leading letter(s) of the name:
    gap1..gap12, a/b/c/d, c/d/e), which is how the literature reports Yagiura's C, D, E.
Makespan variant (``--makespan``)
    The same files read as R||Cmax: the resource matrix becomes the processing times, capacities and
    costs are dropped. Per set: mean / max gap of the objective to the LP-relaxation bound (solver
    ``lp``, computed separately with its own budget) and to the solver's own proved bound.

Progress goes to stderr, tables to stdout; ``--output jsonl`` prints one record per instance instead.
Figures depend on the machine's load: the header line records ``/proc/loadavg`` at start and end.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from models.task_allocation import Instance, read_best_known, read_orlib_gap

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SETS = ("cattrysse1994", "chu1997", "yagiura2004")
ALIASES = {"gap": "cattrysse1994", "orlib": "cattrysse1994", "chu": "chu1997", "yagiura": "yagiura2004"}


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _type_of(name: str) -> str:
    m = re.match(r"(gap\d+|[a-z])", name)
    return m.group(1) if m else name


def makespan_variant(inst: Instance) -> Instance:
    """R||Cmax built from a GAP instance: processing time p[i][j] = resource demand, no capacities."""
    doc = inst.to_dict()
    doc.pop("costs", None)
    doc["objective"] = "makespan"
    for r in doc["resources"]:
        r["capacities"] = None
    doc["name"] = f"{inst.name}/makespan"
    return Instance.from_dict(doc)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allot bench gap", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data root holding gap/ (%(default)s)")
    p.add_argument(
        "--sets",
        default=",".join(SETS),
        help="comma-separated sets (cattrysse1994|gap, chu1997|chu, yagiura2004|yagiura); default all",
    )
    p.add_argument("--instances", default="", help="regular expression the instance name must match")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance (%(default)s)")
    p.add_argument("--solver", default="auto", help="solver name (%(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="solver threads (%(default)s)")
    p.add_argument("--makespan", action="store_true", help="the R||Cmax variant against the LP bound")
    p.add_argument("--by-type", action="store_true", help="one table row per instance type")
    p.add_argument("--output", choices=("table", "jsonl"), default="table")
    return p


def _fmt_pct(x: float) -> str:
    return "inf" if math.isinf(x) else f"{100 * x:.3f}%"


def _run_one(inst: Instance, args: argparse.Namespace, best: int | None) -> dict[str, Any]:
    from solvers import Budget, Status, solve

    rec: dict[str, Any] = {"instance": inst.name, "m": inst.num_agents, "n": inst.num_tasks}
    t = time.perf_counter()
    r = solve(inst, args.solver, Budget(args.time_limit, seed=args.seed, workers=args.workers))
    rec["time_s"] = round(time.perf_counter() - t, 3)
    rec.update(
        status=str(r.status),
        objective=r.objective,
        bound=r.bound,
        solver=r.solver,
        bound_source=r.bound_source,
    )
    rec["proved"] = r.status is Status.OPTIMAL
    obj = math.inf if r.objective is None else r.objective
    if best is not None:
        rec["best_known"] = best
        rec["found_best"] = obj <= best
        rec["gap_to_best"] = (obj - best) / max(abs(best), 1) if math.isfinite(obj) else math.inf
    if args.makespan:
        lp = solve(inst, "lp", Budget(max(5.0, args.time_limit), workers=args.workers))
        rec["lp_bound"] = lp.bound
        lb = -math.inf if lp.bound is None else math.ceil(lp.bound - 1e-6)
        rec["gap_to_lp"] = (
            (obj - lb) / max(abs(obj), 1) if math.isfinite(obj) and lb > -math.inf else math.inf
        )
        own = -math.inf if r.bound is None else r.bound
        rec["gap_to_bound"] = (
            (obj - own) / max(abs(obj), 1) if math.isfinite(obj) and own > -math.inf else math.inf
        )
    return rec


def _row(label: str, recs: list[dict[str, Any]], makespan: bool) -> list[str]:
    times = [r["time_s"] for r in recs]
    if makespan:
        g1 = [r["gap_to_lp"] for r in recs]
        g2 = [r["gap_to_bound"] for r in recs]
        return [
            label,
            str(len(recs)),
            str(sum(r["proved"] for r in recs)),
            _fmt_pct(statistics.fmean(g1)),
            _fmt_pct(max(g1)),
            _fmt_pct(statistics.fmean(g2)),
            _fmt_pct(max(g2)),
            f"{statistics.fmean(times):.2f}",
            f"{max(times):.2f}",
        ]
    gaps = [r.get("gap_to_best", math.inf) for r in recs]
    return [
        label,
        str(len(recs)),
        str(sum(bool(r.get("found_best")) for r in recs)),
        str(sum(r["proved"] for r in recs)),
        _fmt_pct(statistics.fmean(gaps)),
        _fmt_pct(max(gaps)),
        f"{statistics.fmean(times):.2f}",
        f"{max(times):.2f}",
    ]


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(header)]
    line = "  ".join(
        h.rjust(w) if k else h.ljust(w) for k, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for r in rows:
        print(
            "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
        )


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    gap_dir = args.data / "gap"
    try:
        table = read_best_known((gap_dir / "best-known.csv").read_text())
    except OSError as exc:
        print(f"allot bench gap: cannot read {gap_dir / 'best-known.csv'}: {exc}", file=sys.stderr)
        return 2
    sets = [ALIASES.get(s.strip(), s.strip()) for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in sets if not (gap_dir / s).is_dir()]
    if unknown:
        print(f"allot bench gap: unknown set(s) {unknown}; available: {list(SETS)}", file=sys.stderr)
        return 2
    pattern = re.compile(args.instances) if args.instances else None

    from solvers.registry import warmup

    warmup(["task_allocation"])
    load_start = _loadavg()
    results: dict[str, list[dict[str, Any]]] = {}
    for s in sets:
        names = sorted((p.name for p in (gap_dir / s).iterdir() if p.is_file()), key=_natural)
        names = [n for n in names if pattern is None or pattern.search(n)]
        for k, name in enumerate(names, 1):
            [inst] = read_orlib_gap((gap_dir / s / name).read_text(), name)
            best = table.get(f"{s}/{name}", (None, None, ""))[1]
            if args.makespan:
                inst, best = makespan_variant(inst), None
            rec = _run_one(inst, args, best)
            rec["set"] = s
            results.setdefault(s, []).append(rec)
            print(
                f"[{s} {k}/{len(names)}] {name}: obj={rec['objective']} bound={rec['bound']} "
                f"best={best} {rec['status']} {rec['time_s']:.1f}s load={_loadavg()}",
                file=sys.stderr,
            )
            if args.output == "jsonl":
                print(json.dumps(rec), flush=True)
    if args.output == "jsonl":
        return 0
    print(
        f"# allot bench gap: solver={args.solver} time_limit={args.time_limit}s workers={args.workers} "
        f"seed={args.seed} variant={'makespan' if args.makespan else 'cost'} "
        f"loadavg start=[{load_start}] end=[{_loadavg()}]"
    )
    rows = []
    for s, recs in results.items():
        if args.by_type:
            types: dict[str, list[dict[str, Any]]] = {}
            for r in recs:
                types.setdefault(_type_of(r["instance"]), []).append(r)
            for t in sorted(types, key=_natural):
                rows.append(_row(f"{s}/{t}", types[t], args.makespan))
        rows.append(_row(s, recs, args.makespan))
    if args.makespan:
        header = ["set", "inst", "proved", "mean gap LP", "max gap LP", "mean gap bnd", "max gap bnd"]
    else:
        header = ["set", "inst", "best found", "proved", "mean gap", "max gap"]
    if rows:
        _print_table([*header, "mean s", "max s"], rows)
    return 0
