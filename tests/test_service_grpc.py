"""End to end: `allot serve` as a real process on a localhost port, driven by a gRPC client."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

import models
from service import wire
from service._proto.allot.v1 import allot_pb2 as pb
from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "instances" / "samples").glob("*.json"))
STATUS_OK = {pb.OPTIMAL, pb.FEASIBLE}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(
    *extra: str, credentials: grpc.ChannelCredentials | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`allot serve` on a free port; waits (up to 180 s, first-run Numba compilation included) for
    SERVING, and terminates the server afterwards. ``credentials``: for a TLS server's health probe."""
    address = f"127.0.0.1:{_free_port()}"
    # output to a file, not a pipe nobody drains (a full pipe would block the server's writes)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "-v", "serve", "--address", address, "--grace", "2", *extra]
        + ([] if "--jobs-db" in extra else ["--jobs-db", ":memory:"]),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if credentials is not None:
        channel = grpc.secure_channel(
            address, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
        )
    else:
        channel = grpc.insecure_channel(address)
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"server exited with {proc.returncode}:\n{log.read().decode(errors='replace')}")
            try:
                r = health.Check(health_pb2.HealthCheckRequest(service="allot.v1.Allotment"), timeout=1)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not become SERVING within 180 s")
            time.sleep(0.2)
        yield address, proc
    except BaseException:
        log.seek(0)
        sys.stderr.write("server output:\n" + log.read().decode(errors="replace")[-5000:])
        raise
    finally:
        channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A server with two workers, shared by the tests of this module."""
    with running_server("--workers", "2") as (address, _):
        yield address


@pytest.fixture()
def stub(server: str) -> Iterator[pb_grpc.AllotmentStub]:
    with grpc.insecure_channel(server) as ch:
        yield pb_grpc.AllotmentStub(ch)


def _check_answer(doc: dict, resp: pb.SolveResponse) -> None:
    """The answer's solution passes the family's checker here, client side, with the same objective."""
    model = models.family(doc["problem"])
    inst = model.Instance.from_dict(doc)
    sol = wire.solution_from_pb(doc["problem"], resp.solution)
    ev = model.evaluate(inst, sol)
    assert ev.feasible, ev.violations
    assert resp.HasField("objective") and resp.HasField("bound") and resp.HasField("gap")
    assert ev.objective == pytest.approx(resp.objective)
    assert resp.bound <= resp.objective + 1e-6 * max(1.0, abs(resp.objective))
    if resp.status == pb.OPTIMAL:
        assert resp.gap == 0.0


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_family_solves_over_grpc(stub: pb_grpc.AllotmentStub, sample: Path) -> None:
    """Every bundled sample, sent as a typed message, comes back with a verified solution, bound and gap."""
    doc = json.loads(sample.read_text())
    req = pb.SolveRequest(instance=wire.instance_to_pb(doc), options=pb.SolveOptions(time_limit_s=5))
    resp = stub.Solve(req, timeout=60)
    assert resp.status in STATUS_OK, resp.message
    assert resp.problem == doc["problem"]
    _check_answer(doc, resp)


def test_four_families_have_samples() -> None:
    """The demo and these tests cover every family."""
    assert {json.loads(p.read_text())["problem"] for p in SAMPLES} == set(models.FAMILIES)


def test_json_payload_is_accepted(stub: pb_grpc.AllotmentStub) -> None:
    """The native-JSON alternative of the Instance oneof solves the same way as the typed message."""
    doc = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    resp = stub.Solve(pb.SolveRequest(instance=pb.Instance(json=json.dumps(doc))), timeout=60)
    assert resp.status in STATUS_OK
    _check_answer(doc, resp)


def _field_violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "no rich status details"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            return {v.field: v.description for v in br.field_violations}
    raise AssertionError("no BadRequest detail")


def test_invalid_instance_is_rejected_with_field_violations(stub: pb_grpc.AllotmentStub) -> None:
    """A bad SMTT instance gets INVALID_ARGUMENT listing every bad field, by path, plus bad options."""
    inst = pb.Instance(smtt=pb.SmttInstance(processing_times=[3, -1, 2], due_dates=[1, 2]))
    req = pb.SolveRequest(instance=inst, options=pb.SolveOptions(solver="no-such-solver", time_limit_s=-1))
    with pytest.raises(grpc.RpcError) as info:
        stub.Solve(req, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = _field_violations(info.value)
    assert "instance.smtt.processing_times[1]" in fields
    assert any(f.startswith("instance.smtt.due_dates") for f in fields)
    assert "options.time_limit_s" in fields


def test_every_family_rejects_an_empty_instance(stub: pb_grpc.AllotmentStub) -> None:
    """An instance of each family with required fields missing is refused with violations, not solved."""
    for kind in ("smtt", "task_allocation", "pod_packing", "seq_parallel"):
        inst = pb.Instance()
        getattr(inst, kind).SetInParent()
        with pytest.raises(grpc.RpcError) as info:
            stub.Solve(pb.SolveRequest(instance=inst), timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, kind
        assert all(f.startswith(f"instance.{kind}") for f in _field_violations(info.value)), kind


def test_validate_reports_instance_and_solution_problems(stub: pb_grpc.AllotmentStub) -> None:
    """Validate answers (without solving) whether an instance is valid and a given solution feasible."""
    doc = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    n = len(doc["processing_times"])
    good = stub.Validate(
        pb.ValidateRequest(
            instance=wire.instance_to_pb(doc),
            solution=pb.Solution(smtt=pb.SmttSolution(sequence=list(range(n)))),
        )
    )
    assert good.valid and good.problem == "smtt" and good.HasField("objective")
    bad = stub.Validate(
        pb.ValidateRequest(
            instance=wire.instance_to_pb(doc), solution=pb.Solution(smtt=pb.SmttSolution(sequence=[0, 0]))
        )
    )
    assert not bad.valid and bad.solution_violations


def test_short_deadline_returns_best_incumbent(stub: pb_grpc.AllotmentStub) -> None:
    """With a 1.5 s RPC deadline and a 60 s requested limit, the client gets a verified incumbent in time
    rather than DEADLINE_EXCEEDED."""
    from instances import smtt as gen

    doc = gen.generate(seed=3, n=400).to_dict()
    t0 = time.monotonic()
    resp = stub.Solve(
        pb.SolveRequest(instance=wire.instance_to_pb(doc), options=pb.SolveOptions(time_limit_s=60)),
        timeout=1.5,
    )
    assert time.monotonic() - t0 < 1.5
    assert resp.status in STATUS_OK
    _check_answer(doc, resp)


def test_stream_sends_progress_then_result(stub: pb_grpc.AllotmentStub) -> None:
    """SolveStream yields verified progress and ends with exactly one final result."""
    doc = json.loads((ROOT / "instances" / "samples" / "task_allocation.json").read_text())
    updates = list(
        stub.SolveStream(
            pb.SolveRequest(instance=wire.instance_to_pb(doc), options=pb.SolveOptions(time_limit_s=5)),
            timeout=60,
        )
    )
    kinds = [u.WhichOneof("update") for u in updates]
    assert kinds[-1] == "result" and kinds.count("result") == 1
    _check_answer(doc, updates[-1].result)
    for u in updates[:-1]:
        if u.progress.HasField("solution"):
            model = models.family(doc["problem"])
            sol = wire.solution_from_pb(doc["problem"], u.progress.solution)
            assert model.evaluate(model.Instance.from_dict(doc), sol).feasible


def test_cancelled_streams_free_their_workers(stub: pb_grpc.AllotmentStub) -> None:
    """Two long solves occupy both workers; meanwhile the server still answers ListSolvers and Validate
    at once, and cancelling the streams frees both workers for a new request within a couple of seconds
    (instead of after their 60 s budgets)."""
    from instances import smtt as gen

    big = gen.generate(seed=11, n=400).to_dict()
    req = pb.SolveRequest(
        instance=wire.instance_to_pb(big), options=pb.SolveOptions(time_limit_s=60, solver="cpsat")
    )
    calls = [stub.SolveStream(req, timeout=120) for _ in range(2)]
    time.sleep(1.5)  # both are running now
    # the event loop stays responsive while both workers are busy with CPU-bound solves
    t0 = time.monotonic()
    assert stub.ListSolvers(pb.ListSolversRequest(problem="smtt"), timeout=2).solvers
    bad = stub.Validate(pb.ValidateRequest(instance=pb.Instance(smtt=pb.SmttInstance())), timeout=2)
    assert not bad.valid
    assert time.monotonic() - t0 < 0.5
    for c in calls:
        c.cancel()
    small = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    t0 = time.monotonic()
    resp = stub.Solve(
        pb.SolveRequest(instance=wire.instance_to_pb(small), options=pb.SolveOptions(time_limit_s=2)),
        timeout=30,
    )
    assert resp.status in STATUS_OK
    assert time.monotonic() - t0 < 6.0


def test_instant_solver_on_tiny_instance_does_not_wait_for_workers(stub: pb_grpc.AllotmentStub) -> None:
    """With both workers busy on long solves, a tiny instance with a one-pass construction (edd) is
    answered (verified) in the server process while the long ones still run; auto on the same tiny
    instance would queue behind them (it is not instant)."""
    from instances import smtt as gen

    big = gen.generate(seed=11, n=400).to_dict()
    long_req = pb.SolveRequest(instance=wire.instance_to_pb(big), options=pb.SolveOptions(time_limit_s=30))
    busy = [stub.Solve.future(long_req, timeout=60) for _ in range(2)]
    try:
        time.sleep(1.0)  # both workers have taken their job
        doc = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
        tiny = pb.SolveRequest(instance=wire.instance_to_pb(doc), options=pb.SolveOptions(solver="edd"))
        resp = stub.Solve(tiny, timeout=20)
        assert not any(f.done() for f in busy), "the tiny solve waited for a worker"
        assert resp.solver == "edd" and resp.status in STATUS_OK
        _check_answer(doc, resp)
        queued = stub.Solve.future(pb.SolveRequest(instance=tiny.instance), timeout=60)
        time.sleep(0.5)
        assert not queued.done(), "auto is not instant: it waits for a worker"
        queued.cancel()
    finally:
        for f in busy:
            f.cancel()


def test_list_solvers_covers_every_family(stub: pb_grpc.AllotmentStub) -> None:
    """Each family offers auto plus at least one heuristic and one exact solver."""
    resp = stub.ListSolvers(pb.ListSolversRequest())
    by_problem: dict[str, set[str]] = {}
    for s in resp.solvers:
        by_problem.setdefault(s.problem, set()).add(s.kind)
    for problem in models.FAMILIES:
        assert {"portfolio", "heuristic", "exact"} <= by_problem.get(problem, set()), problem


def test_postfilter_plans_from_kubernetes_objects(stub: pb_grpc.AllotmentStub) -> None:
    """A PostFilter plugin sends v1.Node / v1.Pod JSON and gets a nominated node and the victims on it;
    the plan passes the checker on the instance rebuilt here from the same objects. Bad objects are
    INVALID_ARGUMENT naming the request field."""
    from test_service_postfilter import cluster, request  # tests/ is on sys.path (pytest rootdir import)

    from models import pod_packing
    from service.postfilter import instance_from_request

    nodes, pods = cluster()
    req = request(nodes, pods, pod="default/p", options=pb.PackingOptions(allow_evictions=True))
    resp = stub.PostFilter(req, timeout=30)
    assert resp.result.status in STATUS_OK, resp.result.message
    assert resp.nominated_node == "n0"
    assert [(v.pod, v.node) for v in resp.victims] == [("default/r-low", "n0")]
    inst = instance_from_request(req)
    ev = pod_packing.evaluate(inst, wire.solution_from_pb("pod_packing", resp.result.solution))
    assert ev.feasible and ev.objective == pytest.approx(resp.result.objective)
    assert resp.result.bound <= resp.result.objective
    bad = pb.PostFilterRequest(nodes=["{"], pods=req.pods, solve=pb.SolveOptions(time_limit_s=-1))
    with pytest.raises(grpc.RpcError) as info:
        stub.PostFilter(bad, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"nodes[0]", "solve.time_limit_s"} <= set(_field_violations(info.value))


def _busy_worker(server_pid: int) -> int:
    """The PID of the server's worker process that is using the CPU (the one solving)."""
    children = [int(p) for p in Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()]
    workers = [p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]

    def cpu(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = {p: cpu(p) for p in workers}
    time.sleep(0.5)
    return max(workers, key=lambda p: cpu(p) - before[p])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_killed_worker_answers_with_incumbent_and_is_replaced() -> None:
    """A worker killed (SIGKILL) mid-solve costs only its own request: the client gets the best incumbent
    the worker had streamed (verified, FEASIBLE, with a message saying what happened) and the pool
    replaces the worker, so the next request is served normally."""
    import signal as _signal

    from instances import smtt as gen

    big = gen.generate(seed=5, n=400).to_dict()
    small = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    with running_server("--workers", "1") as (address, proc), grpc.insecure_channel(address) as ch:
        stub = pb_grpc.AllotmentStub(ch)
        req = pb.SolveRequest(instance=wire.instance_to_pb(big), options=pb.SolveOptions(time_limit_s=60))
        future = stub.Solve.future(req, timeout=60)
        time.sleep(1.5)  # rules and local search have reported an incumbent by now
        os.kill(_busy_worker(proc.pid), _signal.SIGKILL)
        resp = future.result()
        assert resp.status == pb.FEASIBLE
        assert "died" in resp.message
        _check_answer(big, resp)
        again = stub.Solve(
            pb.SolveRequest(instance=wire.instance_to_pb(small), options=pb.SolveOptions(time_limit_s=5)),
            timeout=60,
        )
        assert again.status in STATUS_OK


def test_full_queue_is_refused_with_retry_hint() -> None:
    """With one worker busy and the queue (size 1) full, a further request is refused at once with
    RESOURCE_EXHAUSTED and a RetryInfo detail, instead of waiting without bound."""
    from instances import smtt as gen

    big = gen.generate(seed=6, n=400).to_dict()
    with (
        running_server("--workers", "1", "--max-queue", "1") as (address, _),
        grpc.insecure_channel(address) as ch,
    ):
        stub = pb_grpc.AllotmentStub(ch)
        req = pb.SolveRequest(instance=wire.instance_to_pb(big), options=pb.SolveOptions(time_limit_s=30))
        running = stub.Solve.future(req, timeout=60)
        time.sleep(1.0)
        queued = stub.Solve.future(req, timeout=60)
        time.sleep(2.0)  # generous: the machine may be loaded
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            stub.Solve(req, timeout=30)
        assert time.monotonic() - t0 < 2.0
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
        assert status is not None
        assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
        running.cancel()
        queued.cancel()


def test_metrics_endpoint_counts_rpcs_and_solves() -> None:
    """With --metrics-port, Prometheus metrics count RPCs by method and code, and solves by status."""
    import urllib.request

    port = _free_port()
    doc = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
    with (
        running_server("--workers", "1", "--metrics-port", str(port)) as (address, _),
        grpc.insecure_channel(address) as ch,
    ):
        stub = pb_grpc.AllotmentStub(ch)
        stub.Solve(pb.SolveRequest(instance=wire.instance_to_pb(doc)), timeout=60)
        with pytest.raises(grpc.RpcError) as err:
            stub.Solve(pb.SolveRequest(instance=pb.Instance(smtt=pb.SmttInstance())), timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # grpc.aio's context.abort sends the status before it raises, so the client can see the error
        # before the server's handler wrapper has counted it: read until it has (or 10 s have passed)
        invalid = 'allot_rpcs_total{code="INVALID_ARGUMENT",method="Solve"}'
        deadline = time.monotonic() + 10
        while True:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            lines = {
                line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line[:1] != "#"
            }
            if invalid in lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert lines['allot_rpcs_total{code="OK",method="Solve"}'] == 1.0, lines
    assert lines[invalid] == 1.0, lines
    assert sum(v for k, v in lines.items() if k.startswith("allot_solve_seconds_count")) == 1.0
    assert lines["allot_queue_depth"] == 0.0


def test_graceful_shutdown_answers_in_flight_solve() -> None:
    """SIGTERM during a long sync solve: the client still gets a verified incumbent within the grace
    period (not CANCELLED), and the server exits cleanly."""
    import signal as _signal

    from instances import smtt as gen

    big = gen.generate(seed=8, n=300).to_dict()
    with (
        running_server("--workers", "1", "--grace", "4") as (address, proc),
        grpc.insecure_channel(address) as ch,
    ):
        stub = pb_grpc.AllotmentStub(ch)
        req = pb.SolveRequest(instance=wire.instance_to_pb(big), options=pb.SolveOptions(time_limit_s=60))
        future = stub.Solve.future(req, timeout=60)
        time.sleep(1.5)
        t0 = time.monotonic()
        proc.send_signal(_signal.SIGTERM)
        resp = future.result()
        assert time.monotonic() - t0 < 4.0  # within --grace 4
        assert resp.status == pb.FEASIBLE and resp.limit == pb.LIMIT_CANCELLED
        _check_answer(big, resp)
        assert proc.wait(timeout=20) == 0


def test_malformed_bytes_answered_invalid_argument(server: str) -> None:
    """Random bytes sent to every unary RPC are answered INVALID_ARGUMENT (undecodable, or decodable but
    not a valid request) or served — never UNKNOWN/INTERNAL, and the server stays up."""
    import random

    rng = random.Random(7)
    methods = ["Solve", "Validate", "SubmitJob", "GetJob", "WaitJob", "CancelJob", "ListJobs", "ListSolvers"]
    codes: dict[str, int] = {}
    with grpc.insecure_channel(server) as ch:
        calls = {m: ch.unary_unary(f"/allot.v1.Allotment/{m}") for m in methods}
        for i in range(300):
            method = methods[i % len(methods)]
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            try:
                calls[method](data, timeout=10)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name
                if code == "INVALID_ARGUMENT":
                    assert _field_violations(exc), "no field violations"
            codes[code] = codes.get(code, 0) + 1
    assert set(codes) <= {"OK", "INVALID_ARGUMENT", "NOT_FOUND"}, codes
    assert codes.get("INVALID_ARGUMENT", 0) > 100
