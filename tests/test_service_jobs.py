"""Asynchronous jobs over gRPC: submit/wait/get/list/cancel, idempotency, and durability across a crash."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from test_service_grpc import ROOT, _check_answer, running_server

from instances import smtt as gen
from service import wire
from service._proto.allot.v1 import allot_pb2 as pb
from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc

SMALL = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())


@contextlib.contextmanager
def client(db: str) -> Iterator[tuple[pb_grpc.AllotmentStub, subprocess.Popen[bytes]]]:
    """A one-worker server on the job store ``db`` and a stub connected to it."""
    with (
        running_server("--workers", "1", "--jobs-db", db) as (address, proc),
        grpc.insecure_channel(address) as ch,
    ):
        yield pb_grpc.AllotmentStub(ch), proc


def _submit(stub: pb_grpc.AllotmentStub, doc: dict, limit: float, **kw: object) -> pb.Job:
    solve = pb.SolveRequest(instance=wire.instance_to_pb(doc), options=pb.SolveOptions(time_limit_s=limit))
    return stub.SubmitJob(pb.SubmitJobRequest(solve=solve, **kw), timeout=30)


def test_job_lifecycle_idempotency_and_errors(tmp_path: Path) -> None:
    """A job runs to DONE with a verified result; resubmitting its request_id returns the same job;
    it is listed; unknown ids are NOT_FOUND; an invalid instance is refused at submission."""
    with client(str(tmp_path / "jobs.sqlite3")) as (stub, _):
        job = _submit(stub, SMALL, 5, request_id="req-1")
        assert job.state in (pb.JOB_QUEUED, pb.JOB_RUNNING) and job.problem == "smtt"
        again = _submit(stub, SMALL, 5, request_id="req-1")
        assert again.id == job.id
        done = stub.WaitJob(pb.WaitJobRequest(id=job.id, timeout_s=60), timeout=90)
        assert done.state == pb.JOB_DONE
        _check_answer(SMALL, done.result)
        assert stub.GetJob(pb.GetJobRequest(id=job.id)).state == pb.JOB_DONE
        listed = stub.ListJobs(pb.ListJobsRequest(state=pb.JOB_DONE))
        assert [j.id for j in listed.jobs] == [job.id]
        with pytest.raises(grpc.RpcError) as info:
            stub.GetJob(pb.GetJobRequest(id="nope"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        bad = pb.SolveRequest(
            instance=pb.Instance(smtt=pb.SmttInstance(processing_times=[1], due_dates=[-1]))
        )
        with pytest.raises(grpc.RpcError) as info:
            stub.SubmitJob(pb.SubmitJobRequest(solve=bad))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cancel_returns_best_incumbent(tmp_path: Path) -> None:
    """Cancelling a running job ends it CANCELLED with the best verified incumbent found so far."""
    big = gen.generate(seed=2, n=300).to_dict()
    with client(str(tmp_path / "jobs.sqlite3")) as (stub, _):
        job = _submit(stub, big, 60)
        time.sleep(2.0)
        t0 = time.monotonic()
        cancelled = stub.CancelJob(pb.CancelJobRequest(id=job.id), timeout=30)
        assert time.monotonic() - t0 < 5.0
        assert cancelled.state == pb.JOB_CANCELLED
        assert cancelled.result.limit == pb.LIMIT_CANCELLED
        _check_answer(big, cancelled.result)


def test_jobs_survive_a_server_crash(tmp_path: Path) -> None:
    """Kill -9 the server with one job running and one queued; a new server on the same store resumes
    both: the queued one runs, the running one restarts (and says so); both end DONE and verified."""
    db = str(tmp_path / "jobs.sqlite3")
    big = gen.generate(seed=4, n=200).to_dict()
    with client(db) as (stub, proc):
        first = _submit(stub, big, 3)
        second = _submit(stub, SMALL, 3)
        time.sleep(1.0)
        assert stub.GetJob(pb.GetJobRequest(id=first.id)).state == pb.JOB_RUNNING
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with client(db) as (stub, _):
        a = stub.WaitJob(pb.WaitJobRequest(id=first.id, timeout_s=60), timeout=90)
        b = stub.WaitJob(pb.WaitJobRequest(id=second.id, timeout_s=60), timeout=90)
        assert a.state == pb.JOB_DONE and b.state == pb.JOB_DONE
        assert "restarted" in a.message
        _check_answer(big, a.result)
        _check_answer(SMALL, b.result)
