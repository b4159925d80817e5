"""``allot bench tardiness``: SMTT solvers against the OR-Library optima, and a 2025-study-style table.

Two parts (both by default; ``--part orlib`` or ``--part study`` for one):

``orlib``  runs one solver (``--solver``, default ``auto``) with ``--time-limit`` seconds per instance on
    wt40 / wt50 / wt100 (``--sets``) of ``--data``/tardiness and compares with wtopt40 / wtopt50 /
    wtbest100b (every wtbest100b value has been proved optimal, see the data README). Per set it prints:
    instances, optimum found, proved optimal (status OPTIMAL), mean / max gap of the objective to the
    optimum (relative, ``(obj - opt) / max(opt, 1)``), mean / max wall time. It also counts any bound
    above the optimum ("bad bounds", must be 0).

``study``  the table of the 2025 study (arXiv 2510.24013) on generated *unweighted* instances
    (:func:`instances.smtt.generate` with ``weighted=False``, tf and rdd drawn from {0.2 .. 1.0} per
    instance, seeded): for n in ``--sizes`` and ``--count`` instances per size, each of EDD, MDD, ATC,
    iterated dynasearch (``--ls-solver``, default ``ids``: a heuristic, it uses the whole time limit) and
    the exact portfolio (``--exact-solver``, default ``auto``) with ``--time-limit``; the gap is
    to the best bound proved by any of them (so 0 means proved optimal), with the mean time.

``proofs``  (not in ``all``) the unweighted proof target: ``--exact-solver`` on ``--count`` generated
    unweighted instances per size in ``--sizes`` with ``--time-limit``; prints how many were proved
    optimal and the distribution of times (min, median, 90th percentile, max).

Progress goes to stderr; the tables to stdout; ``--output jsonl`` prints one record per run instead.
Record ``cat /proc/loadavg`` with any figure: the machine is shared.
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

from instances.smtt import generate
from models.smtt import Instance, read_orlib_optima, read_orlib_wt
from solvers import Budget, Status, solve, warmup

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SETS = {"wt40": (40, "wtopt40.txt"), "wt50": (50, "wtopt50.txt"), "wt100": (100, "wtbest100b.txt")}
STUDY_METHODS = ("edd", "mdd", "atc")
TF_RDD = (0.2, 0.4, 0.6, 0.8, 1.0)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="allot bench tardiness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--part", choices=("orlib", "study", "proofs", "all"), default="all")
    ap.add_argument("--sets", default="wt40,wt50,wt100", help="comma-separated OR-Library sets")
    ap.add_argument("--solver", default="auto", help="solver for the OR-Library part")
    ap.add_argument("--time-limit", type=float, default=1.0, help="seconds per instance")
    ap.add_argument("--limit", type=int, default=0, help="first N instances per set only (0 = all)")
    ap.add_argument("--first", type=int, default=1, help="start at instance number K (1-based)")
    ap.add_argument("--sizes", default="20,100,200,500", help="study: job counts")
    ap.add_argument("--count", type=int, default=10, help="study: instances per size")
    ap.add_argument("--ls-solver", default="ids", help="study: the local-search column's solver")
    ap.add_argument("--exact-solver", default="auto", help="study: the exact column's solver")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", choices=("text", "jsonl"), default="text")
    return ap


def _load(data: Path, name: str) -> tuple[list[Instance], list[int]]:
    n, opt_file = SETS[name]
    base = data / "tardiness"
    insts = read_orlib_wt((base / f"{name}.txt").read_text(), n, name)
    opt = read_orlib_optima((base / opt_file).read_text())
    if len(opt) != len(insts):
        raise ValueError(f"{opt_file}: {len(opt)} values for {len(insts)} instances")
    return insts, opt


def _rel(obj: float, ref: float) -> float:
    return (obj - ref) / max(abs(ref), 1.0)


def _emit(rec: dict[str, Any], args: argparse.Namespace) -> None:
    if args.output == "jsonl":
        print(json.dumps(rec), flush=True)


def run_orlib(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if name not in SETS:
            raise SystemExit(f"allot bench tardiness: unknown set {name!r} (known: {', '.join(SETS)})")
        insts, opt = _load(args.data, name)
        lo = max(0, args.first - 1)
        hi = len(insts) if args.limit <= 0 else min(len(insts), lo + args.limit)
        hit = proved = bad = 0
        gaps: list[float] = []
        times: list[float] = []
        misses: list[str] = []
        for k in range(lo, hi):
            inst, o = insts[k], opt[k]
            t0 = time.perf_counter()
            r = solve(inst, args.solver, Budget(args.time_limit, seed=args.seed))
            took = time.perf_counter() - t0
            obj = math.inf if r.objective is None else r.objective
            g = _rel(obj, o)
            hit += obj == o
            proved += r.status is Status.OPTIMAL
            bad += r.bound is not None and r.bound > o
            gaps.append(g)
            times.append(took)
            if obj != o:
                misses.append(f"{inst.name}({obj:g}/{o})")
            rec = {
                "set": name,
                "instance": inst.name,
                "optimum": o,
                "objective": r.objective,
                "bound": r.bound,
                "status": str(r.status),
                "solver": r.solver,
                "bound_source": r.bound_source,
                "time_s": round(took, 4),
            }
            _emit(rec, args)
            print(f"\r{name} {k + 1}/{hi}: hit {hit} proved {proved} ({took:.2f}s)", end="", file=sys.stderr)
        print(file=sys.stderr)
        if misses:
            print(f"{name} misses: {' '.join(misses[:20])}", file=sys.stderr)
        cnt = len(gaps)
        rows.append(
            {
                "set": name,
                "instances": cnt,
                "optimum_found": hit,
                "proved": proved,
                "bad_bounds": bad,
                "mean_gap_pct": 100 * sum(gaps) / max(cnt, 1),
                "max_gap_pct": 100 * max(gaps, default=0.0),
                "mean_time_s": sum(times) / max(cnt, 1),
                "max_time_s": max(times, default=0.0),
            }
        )
    if args.output == "text":
        print(f"OR-Library, solver {args.solver}, {args.time_limit:g} s per instance, load {_load_avg()}")
        hdr = ("set", "inst", "opt found", "proved", "bad bnd", "gap% mean", "gap% max", "t mean", "t max")
        print("{:<7}{:>6}{:>11}{:>8}{:>9}{:>11}{:>10}{:>9}{:>8}".format(*hdr))
        for row in rows:
            print(
                f"{row['set']:<7}{row['instances']:>6}{row['optimum_found']:>11}{row['proved']:>8}{row['bad_bounds']:>9}"
                f"{row['mean_gap_pct']:>11.3f}{row['max_gap_pct']:>10.3f}{row['mean_time_s']:>9.3f}"
                f"{row['max_time_s']:>8.3f}"
            )
    return rows


def study_instances(sizes: list[int], count: int, seed: int) -> list[Instance]:
    out = []
    for n in sizes:
        for k in range(count):
            s = seed * 1_000_003 + n * 1000 + k
            tf = TF_RDD[k % len(TF_RDD)]
            rdd = TF_RDD[(k // len(TF_RDD) + k) % len(TF_RDD)]
            out.append(generate(seed=s, n=n, tf=tf, rdd=rdd, weighted=False))
    return out


def run_study(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    methods = [*STUDY_METHODS, args.ls_solver, args.exact_solver]
    labels = ["EDD", "MDD", "ATC", "LS", "exact"]
    table: dict[int, dict[str, list[tuple[float, float, bool]]]] = {}
    for inst in study_instances(sizes, args.count, args.seed):
        n = inst.n
        res = {}
        for m in methods:
            t0 = time.perf_counter()
            r = solve(inst, m, Budget(args.time_limit, seed=args.seed))
            res[m] = (r, time.perf_counter() - t0)
        best_bound = max((r.bound for r, _ in res.values() if r.bound is not None), default=0.0)
        for label, m in zip(labels, methods, strict=True):
            r, took = res[m]
            obj = math.inf if r.objective is None else r.objective
            g = _rel(obj, best_bound)
            table.setdefault(n, {}).setdefault(label, []).append((g, took, r.status is Status.OPTIMAL))
            _emit(
                {
                    "part": "study",
                    "instance": inst.name,
                    "n": n,
                    "method": label,
                    "solver": m,
                    "objective": r.objective,
                    "bound": r.bound,
                    "best_bound": best_bound,
                    "status": str(r.status),
                    "time_s": round(took, 4),
                },
                args,
            )
        print(f"\rstudy {inst.name}: exact {res[args.exact_solver][0].status}", end="", file=sys.stderr)
    print(file=sys.stderr)
    rows = []
    for n in sizes:
        for label in labels:
            vals = table.get(n, {}).get(label, [])
            if not vals:
                continue
            rows.append(
                {
                    "n": n,
                    "method": label,
                    "instances": len(vals),
                    "mean_gap_pct": 100 * sum(v[0] for v in vals) / len(vals),
                    "max_gap_pct": 100 * max(v[0] for v in vals),
                    "mean_time_s": sum(v[1] for v in vals) / len(vals),
                    "max_time_s": max(v[1] for v in vals),
                    "proved": sum(v[2] for v in vals),
                }
            )
    if args.output == "text":
        print(
            f"\nUnweighted SMTT (generated, tf/rdd in 0.2..1.0), gap to the best proved bound, "
            f"{args.time_limit:g} s per run, load {_load_avg()}"
        )
        hdr = ("n", "method", "inst", "gap% mean", "gap% max", "t mean", "t max", "proved")
        print("{:>5}  {:<7}{:>5}{:>11}{:>10}{:>9}{:>8}{:>8}".format(*hdr))
        for row in rows:
            print(
                f"{row['n']:>5}  {row['method']:<7}{row['instances']:>5}{row['mean_gap_pct']:>11.3f}"
                f"{row['max_gap_pct']:>10.3f}{row['mean_time_s']:>9.3f}{row['max_time_s']:>8.3f}{row['proved']:>8}"
            )
    return rows


def run_proofs(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    rows = []
    for n in sizes:
        times: list[float] = []
        proved = 0
        for inst in study_instances([n], args.count, args.seed):
            t0 = time.perf_counter()
            r = solve(inst, args.exact_solver, Budget(args.time_limit, seed=args.seed))
            took = time.perf_counter() - t0
            ok = r.status is Status.OPTIMAL
            proved += ok
            times.append(took if ok else math.inf)
            _emit(
                {
                    "part": "proofs",
                    "instance": inst.name,
                    "n": n,
                    "status": str(r.status),
                    "objective": r.objective,
                    "bound": r.bound,
                    "bound_source": r.bound_source,
                    "time_s": round(took, 4),
                },
                args,
            )
            print(
                f"\rproofs n={n}: {len(times)}/{args.count} proved {proved} ({took:.2f}s)",
                end="",
                file=sys.stderr,
            )
        print(file=sys.stderr)
        ts = sorted(times)

        def q(f: float, ts: list[float] = ts) -> float:
            return ts[min(len(ts) - 1, int(f * (len(ts) - 1) + 0.5))] if ts else math.nan

        rows.append(
            {
                "n": n,
                "instances": len(ts),
                "proved": proved,
                "min": q(0),
                "median": q(0.5),
                "p90": q(0.9),
                "max": q(1),
            }
        )
    if args.output == "text":
        print(
            f"\nUnweighted proofs, solver {args.exact_solver}, {args.time_limit:g} s per instance, "
            f"load {_load_avg()} (inf = not proved)"
        )
        print(
            "{:>5}{:>6}{:>8}{:>9}{:>9}{:>9}{:>9}".format(
                "n", "inst", "proved", "t min", "t med", "t p90", "t max"
            )
        )
        for row in rows:
            print(
                f"{row['n']:>5}{row['instances']:>6}{row['proved']:>8}{row['min']:>9.2f}{row['median']:>9.2f}"
                f"{row['p90']:>9.2f}{row['max']:>9.2f}"
            )
    return rows


def _load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    t0 = time.perf_counter()
    warmup(["smtt"])
    print(f"warm-up {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.part in ("orlib", "all"):
        run_orlib(args)
    if args.part in ("study", "all"):
        run_study(args)
    if args.part == "proofs":
        run_proofs(args)
    return 0
