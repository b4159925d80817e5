"""The ``allot`` command line. Its interface is a contract that other tools script against.

::

    allot solve FILE... [--format F] [--jobs N] [--time-limit S] [--solver NAME] [--output table|jsonl]
                        [--gap-target G] [--seed K] [--deterministic] [--workers W] [--ray ADDRESS]
    allot validate FILE... [--format F]
    allot convert openb NODES_CSV PODS_CSV -o OUT [--limit-pods N] [--name NAME]
    allot convert seqlen LENGTHS_TXT -o OUT --batch-size B [--batches 3-7] [--pad-to 128] ...
    allot generate FAMILY [--seed K] [--param key=value ...] -o OUT
    allot plot INSTANCE RESULT [-o OUT.png] [--index K]
    allot serve [--address HOST:PORT] [--workers N]
    allot solvers [--problem P]
    allot bench rpc [--requests N] [--concurrency C] [--address HOST:PORT]
    allot bench load [--clients 200] [--requests-per-client 5] [--workers 2]
    allot bench deadlines [--requests 100] [--concurrency 2] [--workers 2]
    allot bench tardiness|gap|pods|flexsp [ARGS...]   (each prints its own --help)

Exit status: 0 when every instance was solved (any status but INVALID/ERROR) or valid; 1 when some
instance was invalid or failed (the others are still solved and reported); 2 for usage and file errors.
Solutions are verified by the family's independent checker before they are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import models
from models.common import InstanceError
from service.formats import FORMATS, FormatError, fmt_gap, fmt_num, read_file
from solvers import Budget, Result, Status, registry

log = logging.getLogger("allot")


# --------------------------------------------------------------------------------------------------
# solve / validate
# --------------------------------------------------------------------------------------------------


_STANDARD_LOG_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message, and every ``extra`` field given
    (``request_id``, ``job_id``, ``problem``, ``status``...), for log pipelines."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_LOG_FIELDS:
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class Progress:
    """A one-line progress bar on stderr, shown only on a terminal and only for several instances."""

    def __init__(self, total: int, stream: TextIO = sys.stderr):
        self.total = total
        self.stream = stream
        self.enabled = total > 1 and stream.isatty()
        self.t0 = time.monotonic()

    def update(self, done: int, label: str) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total)
        elapsed = time.monotonic() - self.t0
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:6.1f}s {label[-40:]}"
        self.stream.write(line.ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def _table(results: list[Result], out: TextIO) -> None:
    headers = ["instance", "problem", "status", "objective", "bound", "gap", "solver", "time_s"]
    rows = [
        [
            r.instance,
            r.problem,
            str(r.status),
            fmt_num(r.objective),
            fmt_num(r.bound),
            fmt_gap(r.gap),
            r.solver,
            f"{r.wall_time_s:.3f}",
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    right = {3, 4, 5, 7}
    for row in [headers, *rows]:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    total_time = sum(r.wall_time_s for r in results)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    out.write(f"\n{len(results)} instance(s): {summary}; total solve time {total_time:.2f}s\n")


def _invalid_result(name: str, problem: str, exc: InstanceError) -> Result:
    return Result(problem or "", Status.INVALID, "", message=str(exc), instance=name)


def _collect(files: list[str], fmt: str, jobs: int | None) -> tuple[list[tuple[str, Any]], bool]:
    entries: list[tuple[str, Any]] = []
    ok = True
    for f in files:
        try:
            entries.extend(read_file(Path(f), fmt, jobs=jobs))
        except FormatError as exc:
            print(f"allot: error: {exc}", file=sys.stderr)
            ok = False
    return entries, ok


def _report_invalid(name: str, exc: InstanceError) -> None:
    print(f"allot: invalid instance {name}:", file=sys.stderr)
    for v in exc.violations:
        print(f"  {v}", file=sys.stderr)


def cmd_solve(args: argparse.Namespace) -> int:
    entries, files_ok = _collect(args.files, args.format, args.jobs)
    if not entries and not files_ok:
        return 2
    budget_kwargs = {
        "time_limit": args.time_limit,
        "gap_target": args.gap_target,
        "seed": args.seed,
        "deterministic": args.deterministic,
        "workers": args.workers,
    }
    progress = Progress(len(entries))
    results: list[Result | None] = [None] * len(entries)
    failed = not files_ok

    def record(i: int, res: Result) -> None:
        nonlocal failed
        if res.status in (Status.INVALID, Status.ERROR):
            if res.status is Status.ERROR:
                print(f"allot: {res.instance}: {res.status}: {res.message}", file=sys.stderr)
            failed = True
        results[i] = res
        progress.update(sum(r is not None for r in results), res.instance)
        if args.output == "jsonl":
            sys.stdout.write(json.dumps(res.to_dict(), separators=(",", ":")) + "\n")
            sys.stdout.flush()

    def reject(i: int, name: str, exc: InstanceError) -> None:
        _report_invalid(name, exc)
        record(i, _invalid_result(name, "", exc))

    valid = [(i, name, inst) for i, (name, inst) in enumerate(entries) if not isinstance(inst, InstanceError)]
    if args.ray:
        for i, (name, inst) in enumerate(entries):
            if isinstance(inst, InstanceError):
                reject(i, name, inst)
        from service import raybatch

        try:
            raybatch.solve_batch(
                [(name, inst) for _, name, inst in valid],
                args.solver,
                budget_kwargs,
                args.ray,
                lambda k, res: record(valid[k][0], res),
            )
        except raybatch.RayUnavailable as exc:
            progress.close()
            print(f"allot: error: {exc}", file=sys.stderr)
            return 2
    else:
        # Compile (or load from Numba's on-disk cache) the kernels of the families at hand before any
        # clock starts, so no instance's budget pays JIT time (the first run on a machine takes a while).
        problems = sorted({inst.PROBLEM for _, _, inst in valid})
        if problems:
            t0 = time.monotonic()
            registry.warmup(problems)
            if time.monotonic() - t0 > 1.0:
                log.info("compiled solver kernels in %.1fs", time.monotonic() - t0)
        for i, (name, inst) in enumerate(entries):  # in input order
            if isinstance(inst, InstanceError):
                reject(i, name, inst)
                continue
            progress.update(i, name)
            record(i, registry.solve(inst, args.solver, Budget(**budget_kwargs)).with_(instance=name))
    progress.close()
    if args.output == "table":
        _table([r for r in results if r is not None], sys.stdout)
    return 1 if failed else 0


def cmd_validate(args: argparse.Namespace) -> int:
    entries, ok = _collect(args.files, args.format, args.jobs)
    for name, inst in entries:
        if isinstance(inst, InstanceError):
            _report_invalid(name, inst)
            ok = False
        else:
            print(f"{name}: valid {inst.PROBLEM} instance")
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------------
# convert / generate
# --------------------------------------------------------------------------------------------------


def _write_json(doc: Any, out: str) -> None:
    text = json.dumps(doc, indent=1) + "\n"
    if out == "-":
        sys.stdout.write(text)
        return
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # never leave a half-written file behind
    print(f"wrote {path}", file=sys.stderr)


def _parse_batches(spec: str | None) -> list[int] | None:
    if not spec:
        return None
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def cmd_convert(args: argparse.Namespace) -> int:
    try:
        if args.source == "openb":
            from models import pod_packing

            inst = pod_packing.read_openb(
                Path(args.nodes).read_text(),
                Path(args.pods).read_text(),
                name=args.name or Path(args.pods).stem,
                limit_pods=args.limit_pods,
            )
            _write_json(inst.to_dict(), args.output)
        else:
            from models import seq_parallel

            cost_model: Any = args.cost_model
            if cost_model.endswith(".json"):
                cost_model = json.loads(Path(cost_model).read_text())
            instances = seq_parallel.read_token_lengths(
                Path(args.lengths).read_text(),
                batch_size=args.batch_size,
                batches=_parse_batches(args.batches),
                pad_to=args.pad_to,
                max_length=args.max_length,
                cluster={
                    "num_gpus": args.num_gpus,
                    "gpus_per_node": args.gpus_per_node,
                    "memory_mb": args.memory_mb,
                },
                cost_model=cost_model,
                name=args.name or Path(args.lengths).stem,
            )
            docs = [i.to_dict() for i in instances]
            _write_json(docs[0] if len(docs) == 1 else docs, args.output)
    except InstanceError as exc:
        print("allot: error: the converted instance is invalid:", file=sys.stderr)
        for v in exc.violations:
            print(f"  {v}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cmd_generate(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"instances.{args.family}")
    try:
        inst = module.generate(args.seed, **dict(args.param or []))
    except (TypeError, ValueError, InstanceError) as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 2
    _write_json(inst.to_dict(), args.output)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from service import plot  # matplotlib is loaded only for this command

    source = args.instance
    index = args.index
    path = Path(source)
    if index is None and not path.exists() and "#" in source:
        head, _, tail = source.rpartition("#")
        if tail.isdigit():  # FILE#k, the name `allot solve` gives the k-th instance of FILE
            path, index = Path(head), int(tail)
    try:
        entries = read_file(path, args.format, jobs=args.jobs)
        name, inst = plot.pick_entry(entries, index, str(path))
        results = plot.read_results(Path(args.result))
        out = Path(args.output) if args.output else None
        if out is None:
            stem = Path(args.result).with_suffix("")
            out = stem.with_name(stem.name + (f"-{index}" if index is not None else "") + ".png")
        plot.output_format(out)
    except (FormatError, plot.PlotUsageError) as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 2
    if isinstance(inst, InstanceError):
        _report_invalid(name, inst)
        return 1
    try:
        result = plot.find_result(results, name, args.result)
        solution = plot.checked_solution(inst, result)
    except plot.PlotError as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 1
    try:
        plot.render(inst, solution, result, out)
    except plot.PlotUsageError as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------------
# serve / solvers
# --------------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from service.security import load_token
    from service.server import serve

    try:
        asyncio.run(
            serve(
                args.address,
                workers=args.workers,
                max_tasks=args.max_tasks,
                grace_s=args.grace,
                memory_limit_mb=args.memory_limit_mb,
                max_queue=args.max_queue,
                jobs_db=args.jobs_db,
                retention_s=args.job_retention_hours * 3600,
                metrics_port=args.metrics_port,
                metrics_address=args.metrics_address,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
                tls_client_ca=args.tls_client_ca,
                auth_token=load_token(args.auth_token_file),
                max_message_mb=args.max_message_mb,
                extender_port=args.extender_port,
                extender_address=args.extender_address,
                extender_prefix=args.extender_prefix,
                cluster_snapshot=args.cluster_snapshot,
                cluster_snapshot_poll_s=args.cluster_snapshot_poll,
            )
        )
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"allot: error: {exc}", file=sys.stderr)
        return 2
    return 0


#: Family benchmarks: ``allot bench NAME ARGS...`` runs ``main(ARGS) -> int`` of the module (imported only
#: when used, so the CLI starts fast). Each module owns its argument parser (prog "allot bench NAME").
BENCHMARKS: dict[str, tuple[str, str]] = {
    "tardiness": ("solvers.smtt.bench", "SMTT / weighted tardiness against OR-Library optima"),
    "gap": ("solvers.task_allocation.bench", "generalised assignment against best-known values"),
    "pods": ("solvers.pod_packing.bench", "pod packing: failing scenarios and the openb trace"),
    "flexsp": ("solvers.seq_parallel.bench", "sequence-parallel planning against FlexSP's reference"),
}


def cmd_bench(args: argparse.Namespace) -> int:
    if args.bench == "load":
        from service.bench import main_load

        return main_load(
            args.clients, args.requests_per_client, args.workers, args.max_queue, args.time_limit
        )
    if args.bench == "deadlines":
        from service.bench import main_deadlines

        return main_deadlines(args.requests, args.concurrency, args.workers, args.seed)
    if args.bench == "rpc":
        from service.bench import main_rpc

        return main_rpc(
            args.address, args.requests, args.concurrency, args.instance, args.workers, args.solver
        )
    import importlib

    module_name, _ = BENCHMARKS[args.bench]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        print(f"allot: error: benchmark {args.bench!r} is not available yet ({module_name})", file=sys.stderr)
        return 2
    rest = list(args.args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return int(module.main(rest))


def cmd_solvers(args: argparse.Namespace) -> int:
    problems = [args.problem] if args.problem else list(models.FAMILIES)
    for p in problems:
        print(p)
        for info in registry.solvers_for(p).values():
            print(f"  {info.name:<12} {info.kind:<10} {info.description}")
    return 0


# --------------------------------------------------------------------------------------------------


def _default_jobs_db() -> Path:
    import os

    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "allot" / "jobs.sqlite3"


def _positive_float(text: str) -> float:
    v = float(text)
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allot", description="Scheduling and placement solver service")
    p.add_argument("-v", "--verbose", action="store_true", help="log solver progress to stderr")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one object per line")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve instance files and print results")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--format", choices=FORMATS, default="auto")
    s.add_argument(
        "--jobs", type=int, help="jobs per instance for orlib-wt files (default: from the file name)"
    )
    s.add_argument(
        "--time-limit", type=_positive_float, default=10.0, help="seconds per instance (default 10)"
    )
    s.add_argument("--solver", default="auto", help="solver name (see `allot solvers`; default auto)")
    s.add_argument("--output", choices=("table", "jsonl"), default="table")
    s.add_argument("--gap-target", type=_positive_float, default=0.0, help="stop at this relative gap")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--deterministic", action="store_true", help="work limits instead of wall clock")
    s.add_argument("--workers", type=int, default=1, help="threads for exact solvers (default 1)")
    s.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="solve the instances as tasks on a Ray cluster: 'auto', 'ray://HOST:10001', or 'local' "
        "(a private local Ray); needs pip install 'allotment[ray]'. jsonl lines come in completion order",
    )
    s.set_defaults(fn=cmd_solve)

    v = sub.add_parser("validate", help="check instance files without solving")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--format", choices=FORMATS, default="auto")
    v.add_argument("--jobs", type=int)
    v.set_defaults(fn=cmd_validate)

    c = sub.add_parser("convert", help="write native JSON from formats that need parameters")
    csub = c.add_subparsers(dest="source", required=True)
    co = csub.add_parser("openb", help="Alibaba openb node and pod CSVs -> pod packing instance")
    co.add_argument("nodes")
    co.add_argument("pods")
    co.add_argument("-o", "--output", required=True)
    co.add_argument("--limit-pods", type=int)
    co.add_argument("--name")
    co.set_defaults(fn=cmd_convert)
    cs = csub.add_parser("seqlen", help="token-length list -> sequence-parallel instances (one per batch)")
    cs.add_argument("lengths")
    cs.add_argument("-o", "--output", required=True)
    cs.add_argument("--batch-size", type=int, required=True)
    cs.add_argument("--batches", help="0-based batch indices, e.g. 3-7 or 0,2,5 (default: all)")
    cs.add_argument("--pad-to", type=int, default=1)
    cs.add_argument("--max-length", type=int, help="drop sequences longer than this after padding")
    cs.add_argument("--num-gpus", type=int, default=64)
    cs.add_argument("--gpus-per-node", type=int, default=8)
    cs.add_argument("--memory-mb", type=float, default=30720.0)
    cs.add_argument("--cost-model", default="gpt-7b", help="preset name or a JSON file")
    cs.add_argument("--name")
    cs.set_defaults(fn=cmd_convert)

    g = sub.add_parser("generate", help="write a random instance of a family (seeded)")
    g.add_argument("family", choices=list(models.FAMILIES))
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--param", action="append", type=_parse_param, metavar="KEY=VALUE")
    g.add_argument("-o", "--output", default="-")
    g.set_defaults(fn=cmd_generate)

    sv = sub.add_parser("serve", help="run the gRPC server")
    sv.add_argument("--address", default="127.0.0.1:50051")
    sv.add_argument("--workers", type=int, default=2, help="solver processes (default 2)")
    sv.add_argument("--max-tasks", type=int, default=200, help="recycle a worker after this many solves")
    sv.add_argument("--grace", type=float, default=5.0, help="shutdown grace period in seconds")
    sv.add_argument("--memory-limit-mb", type=int, help="address-space limit per worker")
    sv.add_argument("--max-queue", type=int, default=64, help="solves waiting for a worker before refusing")
    sv.add_argument(
        "--jobs-db",
        default=str(_default_jobs_db()),
        help="SQLite file of async jobs (default $XDG_STATE_HOME/allot/jobs.sqlite3; ':memory:' = not kept)",
    )
    sv.add_argument("--job-retention-hours", type=float, default=168.0, help="keep finished jobs this long")
    sv.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this HTTP port (default: off)"
    )
    sv.add_argument("--metrics-address", default="127.0.0.1", help="address of the metrics endpoint")
    sv.add_argument("--tls-cert", help="PEM certificate: serve over TLS (with --tls-key)")
    sv.add_argument("--tls-key", help="PEM private key of --tls-cert")
    sv.add_argument("--tls-client-ca", help="PEM CA bundle: require client certificates (mutual TLS)")
    sv.add_argument(
        "--auth-token-file", help="require 'authorization: Bearer <token>' (or set ALLOT_AUTH_TOKEN)"
    )
    sv.add_argument("--max-message-mb", type=int, default=256, help="largest request accepted (MiB)")
    sv.add_argument("--extender-port", type=int, help="serve the kube-scheduler extender on this HTTP port")
    sv.add_argument("--extender-address", default="127.0.0.1", help="address of the extender endpoint")
    sv.add_argument("--extender-prefix", default="/allotment", help="URL prefix of the extender verbs")
    sv.add_argument(
        "--cluster-snapshot", help="kubectl get nodes,pods -A -o json file: running pods for the extender"
    )
    sv.add_argument(
        "--cluster-snapshot-poll",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="re-read --cluster-snapshot when it changes, looking this often (0: read once; default 2)",
    )
    sv.set_defaults(fn=cmd_serve)

    b = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = b.add_subparsers(dest="bench", required=True)
    br = bsub.add_parser("rpc", help="latency of a tiny Solve over gRPC on localhost")
    br.add_argument("--address", help="an already running server (default: start one)")
    br.add_argument("--requests", type=int, default=500)
    br.add_argument("--concurrency", type=int, default=1)
    br.add_argument("--workers", type=int, default=2, help="workers of the server started here")
    br.add_argument("--instance", help="native JSON instance (default: the SMTT sample)")
    br.add_argument("--solver", default="auto")
    br.set_defaults(fn=cmd_bench)
    bl = bsub.add_parser("load", help="many concurrent clients, mixed families: throughput, latency, memory")
    bl.add_argument("--clients", type=int, default=200)
    bl.add_argument("--requests-per-client", type=int, default=5)
    bl.add_argument("--workers", type=int, default=2)
    bl.add_argument("--max-queue", type=int, default=1000)
    bl.add_argument("--time-limit", type=float, default=1.0, help="per solve")
    bl.set_defaults(fn=cmd_bench)
    bd = bsub.add_parser("deadlines", help="sync solves stopped by their RPC deadline: answered in time?")
    bd.add_argument("--requests", type=int, default=100)
    bd.add_argument("--concurrency", type=int, default=2)
    bd.add_argument("--workers", type=int, default=2)
    bd.add_argument("--seed", type=int, default=1)
    bd.set_defaults(fn=cmd_bench)
    for name, (_, help_text) in BENCHMARKS.items():
        bf = bsub.add_parser(name, help=help_text, add_help=False)
        bf.add_argument("args", nargs=argparse.REMAINDER, help="see `allot bench %(prog)s --help`")
        bf.set_defaults(fn=cmd_bench)

    pl = sub.add_parser("plot", help="draw a result of `allot solve --output jsonl` as a picture")
    pl.add_argument("instance", metavar="INSTANCE", help="instance file as for solve (or FILE#k)")
    pl.add_argument("result", metavar="RESULT", help="JSONL output of `allot solve --output jsonl`")
    pl.add_argument(
        "-o", "--output", metavar="OUT", help="picture file, format by suffix (default: RESULT as .png)"
    )
    pl.add_argument("--index", type=int, metavar="K", help="the K-th instance of INSTANCE (1-based, FILE#K)")
    pl.add_argument("--format", choices=FORMATS, default="auto", help="format of INSTANCE")
    pl.add_argument("--jobs", type=int, help="jobs per instance for orlib-wt files")
    pl.set_defaults(fn=cmd_plot)

    ls = sub.add_parser("solvers", help="list solvers per family")
    ls.add_argument("--problem", choices=list(models.FAMILIES))
    ls.set_defaults(fn=cmd_solvers)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHMARKS:
        # family benchmarks parse their own arguments (including --help)
        argv = [*argv[:2], "--", *argv[2:]]
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print("allot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
