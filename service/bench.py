"""``allot bench rpc`` and ``allot bench load``.

``rpc``: latency of a tiny ``Solve`` over gRPC on localhost, against the in-process solve.

Starts ``allot serve`` on a free loopback port (or uses ``--address``), waits until it reports SERVING,
then sends ``--requests`` solves of a tiny SMTT instance (the bundled sample by default) from
``--concurrency`` client threads and prints p50/p90/p99 latency, throughput, and the median time of the
same solve in-process — the difference is what the RPC, the worker hop and verification cost.
Benchmarks print figures; they are not tests.

``deadlines``: sync solves of instances that take long to prove (one per family), with a 60 s time
limit and RPC deadlines drawn from 0.25-3 s; prints the share answered with a verified solution before
the client's own deadline ended the call (the client cancels at its deadline, so an answer later than
that is DEADLINE_EXCEEDED), and how early or late the answers are relative to their deadlines.

``load``: starts a server and drives it with many concurrent asyncio clients sending a mix of every
family's sample and a 60-job SMTT instance; prints throughput, p50/p99 latency, the status codes
(only OK and RESOURCE_EXHAUSTED are acceptable: the exit status is 1 otherwise) and the peak resident
memory of the server and its workers.
"""

from __future__ import annotations

import json
import math
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parent.parent / "instances" / "samples" / "smtt.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(address: str, timeout: float) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            try:
                r = stub.Check(health_pb2.HealthCheckRequest(service="allot.v1.Allotment"), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"server at {address} not SERVING after {timeout:.0f}s")


def _start_server(workers: int, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    """``allot serve`` on a free loopback port (in-memory job store), output discarded."""
    address = f"127.0.0.1:{_free_port()}"
    args = ["serve", "--address", address, "--workers", str(workers), "--jobs-db", ":memory:", *extra]
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return address, proc


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run_rpc_bench(
    address: str | None,
    requests: int,
    concurrency: int,
    instance_path: Path,
    workers: int,
    solver: str = "auto",
) -> dict[str, float]:
    import grpc

    from models import instance_from_dict
    from service import wire
    from service._proto.allot.v1 import allot_pb2 as pb
    from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc
    from solvers import Budget, solve

    doc = json.loads(instance_path.read_text())
    proc = None
    if address is None:
        address, proc = _start_server(workers)
    try:
        _wait_serving(address, 300)
        req = pb.SolveRequest(
            instance=wire.instance_to_pb(doc), options=pb.SolveOptions(time_limit_s=5, solver=solver)
        )
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        per_thread = max(1, requests // concurrency)

        def client() -> None:
            with grpc.insecure_channel(address) as ch:
                stub = pb_grpc.AllotmentStub(ch)
                stub.Solve(req, timeout=30)  # connection set-up outside the measurement
                for _ in range(per_thread):
                    t = time.perf_counter()
                    resp = stub.Solve(req, timeout=30)
                    dt = time.perf_counter() - t
                    with lock:
                        latencies.append(dt)
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1

        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0

        inst = instance_from_dict(doc)
        solve(inst, solver, Budget(5))  # warm
        local = []
        for _ in range(50):
            t1 = time.perf_counter()
            solve(inst, solver, Budget(5))
            local.append(time.perf_counter() - t1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "requests": float(len(latencies)),
        "p50_ms": 1000 * statistics.median(latencies),
        "p90_ms": 1000 * _pct(latencies, 0.90),
        "p99_ms": 1000 * _pct(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies),
        "max_ms": 1000 * max(latencies),
        "throughput_per_s": len(latencies) / wall,
        "in_process_median_ms": 1000 * statistics.median(local),
        "optimal_share": statuses.get(1, 0) / max(1, len(latencies)),
    }


def main_rpc(
    address: str | None, requests: int, concurrency: int, instance: str | None, workers: int, solver: str
) -> int:
    figures = run_rpc_bench(
        address, requests, concurrency, Path(instance) if instance else SAMPLE, workers, solver
    )
    n, c = int(figures["requests"]), concurrency
    print(f"tiny Solve over gRPC, solver {solver} ({n} requests, {c} client thread(s)):")
    keys = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "throughput_per_s", "in_process_median_ms")
    for key in (*keys, "optimal_share"):
        print(f"  {key:<22} {figures[key]:10.3f}")
    return 0


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (Linux /proc), in MiB."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def run_load_bench(
    clients: int, requests_per_client: int, workers: int, max_queue: int, time_limit: float
) -> dict:
    """Start a server, drive it with ``clients`` concurrent asyncio clients sending a mix of the bundled
    samples and a 60-job SMTT instance, and measure latency, throughput, errors and peak memory."""
    import asyncio

    import grpc

    from instances import smtt as smtt_gen
    from service import wire
    from service._proto.allot.v1 import allot_pb2 as pb
    from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc

    samples = [json.loads(p.read_text()) for p in sorted(SAMPLE.parent.glob("*.json"))]
    samples.append(smtt_gen.generate(seed=1, n=60).to_dict())
    requests = [
        pb.SolveRequest(instance=wire.instance_to_pb(d), options=pb.SolveOptions(time_limit_s=time_limit))
        for d in samples
    ]
    address, proc = _start_server(workers, "--max-queue", str(max_queue))
    peak = [0.0]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    latencies: list[float] = []
    codes: dict[str, int] = {}

    async def client(k: int, stub: pb_grpc.AllotmentStub) -> None:
        for i in range(requests_per_client):
            req = requests[(k + i) % len(requests)]
            t = time.perf_counter()
            try:
                await stub.Solve(req, timeout=120)
                code = "OK"
                latencies.append(time.perf_counter() - t)
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                if code == "RESOURCE_EXHAUSTED":
                    await asyncio.sleep(0.5)  # the server's RetryInfo hint
            codes[code] = codes.get(code, 0) + 1

    async def drive() -> float:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = pb_grpc.AllotmentStub(ch)
            t0 = time.perf_counter()
            await asyncio.gather(*(client(k, stub) for k in range(clients)))
            return time.perf_counter() - t0

    try:
        _wait_serving(address, 300)
        threading.Thread(target=sample_memory, daemon=True).start()
        wall = asyncio.run(drive())
    finally:
        done.set()
        proc.terminate()
        proc.wait(timeout=60)
    ok = len(latencies)
    return {
        "clients": clients,
        "requests": clients * requests_per_client,
        "ok": ok,
        "codes": codes,
        "throughput_per_s": ok / wall,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else math.nan,
        "p99_ms": 1000 * _pct(latencies, 0.99) if latencies else math.nan,
        "peak_rss_mb": peak[0],
        "wall_s": wall,
    }


def main_load(clients: int, requests_per_client: int, workers: int, max_queue: int, time_limit: float) -> int:
    r = run_load_bench(clients, requests_per_client, workers, max_queue, time_limit)
    print(
        f"load: {r['clients']} concurrent clients, {r['requests']} solves (mixed families), {workers} workers"
    )
    print(f"  answered OK          {r['ok']}")
    print(f"  status codes         {r['codes']}")
    print(f"  throughput           {r['throughput_per_s']:.1f} solves/s over {r['wall_s']:.1f} s")
    print(f"  latency p50 / p99    {r['p50_ms']:.0f} / {r['p99_ms']:.0f} ms")
    print(f"  peak RSS (server+workers) {r['peak_rss_mb']:.0f} MiB")
    bad = {k: v for k, v in r["codes"].items() if k not in ("OK", "RESOURCE_EXHAUSTED")}
    return 1 if bad else 0


def deadline_requests(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Instances none of which is solved to optimality in a few seconds, one kind per family, so every
    solve below is stopped by its deadline rather than by a proof."""
    from instances import pod_packing_failing, seq_parallel, smtt, task_allocation

    out: list[tuple[str, dict[str, Any]]] = [
        ("smtt n=300", smtt.generate(seed=seed, n=300).to_dict()),
        ("gap 20x400", task_allocation.generate(seed=seed, num_agents=20, num_tasks=400, kind="D").to_dict()),
        ("seq_parallel n=512", seq_parallel.generate(seed=seed, n=512, num_gpus=64).to_dict()),
    ]
    pods = pod_packing_failing.generate_failing(seed, nodes=(48, 64), pods=(300, 500))
    out.append((f"pods {len(pods.nodes)}x{len(pods.pods)}", pods.to_dict()))
    return out


def run_deadline_bench(requests: int, concurrency: int, workers: int, seed: int) -> dict[str, Any]:
    """Sync solves with a 60 s time limit and RPC deadlines drawn from 0.25-3 s: how late is the answer
    relative to the deadline (negative: early), and is every one a verified incumbent?"""
    import asyncio
    import random

    import grpc

    from service import wire
    from service._proto.allot.v1 import allot_pb2 as pb
    from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc

    kinds = [(label, wire.instance_to_pb(doc)) for label, doc in deadline_requests(seed)]
    rng = random.Random(seed)
    plan = [(kinds[i % len(kinds)], rng.uniform(0.25, 3.0)) for i in range(requests)]
    lateness: list[float] = []
    codes: dict[str, int] = {}
    by_kind: dict[str, list[float]] = {}
    kind_codes: dict[str, dict[str, int]] = {}

    async def drive(address: str) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = pb_grpc.AllotmentStub(ch)
            todo = iter(plan)

            async def client() -> None:
                for (label, inst), deadline in todo:
                    req = pb.SolveRequest(instance=inst, options=pb.SolveOptions(time_limit_s=60))
                    t = time.perf_counter()
                    try:
                        resp = await stub.Solve(req, timeout=deadline)
                        code = "OK" if resp.HasField("solution") else f"OK-{pb.Status.Name(resp.status)}"
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code().name
                    late = time.perf_counter() - t - deadline
                    codes[code] = codes.get(code, 0) + 1
                    lateness.append(late)
                    by_kind.setdefault(label, []).append(late)
                    per = kind_codes.setdefault(label, {})
                    per[code] = per.get(code, 0) + 1

            await asyncio.gather(*(client() for _ in range(concurrency)))

    address, proc = _start_server(workers, "--max-queue", str(4 * concurrency))
    try:
        _wait_serving(address, 300)
        asyncio.run(drive(address))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "requests": requests,
        "codes": codes,
        # a client's own deadline ends the call at the deadline: "in time" means a verified answer
        "in_time": codes.get("OK", 0) / max(1, len(lateness)),
        "lateness_ms": {q: 1000 * _pct(lateness, q) for q in (0.5, 0.99, 1.0)},
        "by_kind": {k: (kind_codes[k], 1000 * max(v)) for k, v in by_kind.items()},
    }


def main_deadlines(requests: int, concurrency: int, workers: int, seed: int) -> int:
    r = run_deadline_bench(requests, concurrency, workers, seed)
    print(
        f"deadlines: {r['requests']} sync solves, time limit 60 s, RPC deadline U(0.25, 3) s, "
        f"{concurrency} clients"
    )
    print(f"  status codes              {r['codes']}  (OK = a verified solution)")
    print(f"  verified answer in time   {100 * r['in_time']:.1f} %")
    lq = r["lateness_ms"]
    print(f"  answer - deadline (ms)    p50 {lq[0.5]:.0f}, p99 {lq[0.99]:.0f}, max {lq[1.0]:.0f}")
    for kind, (per, worst) in r["by_kind"].items():
        print(f"    {kind:<22} {per}, latest answer {worst:+.0f} ms from its deadline")
    return 0 if r["in_time"] == 1.0 else 1
