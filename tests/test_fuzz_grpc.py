"""Fuzzing the server itself: every RPC of ``allot.v1.Allotment`` driven over gRPC by a real ``allot serve``
with hypothesis-made requests (mutated instances of every family as typed messages and as JSON,
mutated options, random job ids, timeouts and limits, Kubernetes objects for PostFilter) and with
malformed bytes.

Every answer must be one the API documents: OK; INVALID_ARGUMENT carrying a ``google.rpc.BadRequest``
with at least one field violation (and exactly when the request is invalid, as decided here by the
models' own validation and the documented option ranges); NOT_FOUND for a job id that does not exist;
RESOURCE_EXHAUSTED under load. Never UNKNOWN or INTERNAL (a traceback), never a hung call, and the
server is still SERVING at the end.

The default run sends ``ALLOT_FUZZ_RPC_REQUESTS`` (default 1,500) requests; the dedicated long run is
``ALLOT_FUZZ_RPC_REQUESTS=100000 .venv/bin/pytest tests/test_fuzz_grpc.py -p no:randomly -q``
(it prints the count of every answer code)."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_validation import SAMPLES, json_value, mutated
from test_service_grpc import running_server
from test_service_postfilter import cluster

import models
from service import wire
from service._proto.allot.v1 import allot_pb2 as pb
from solvers import registry

REQUESTS = int(os.environ.get("ALLOT_FUZZ_RPC_REQUESTS", "1500"))
METHODS = {m.name: m for m in pb.DESCRIPTOR.services_by_name["Allotment"].methods}
CODES: Counter[str] = Counter()

numbers = st.one_of(
    st.sampled_from([0.05, 0.1, 0.3]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-5, max_value=5000),
)


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    with (
        running_server("--workers", "2", "--max-queue", "256") as (address, _),
        grpc.insecure_channel(address) as ch,
    ):
        yield ch
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        print(f"\nanswers by RPC and code: {dict(sorted(CODES.items()))}")


def _options_valid(problem: str | None, opts: pb.SolveOptions) -> bool:
    if problem is not None and (opts.solver or "auto") not in registry.solvers_for(problem):
        return False
    t, g = opts.time_limit_s, opts.gap_target
    return math.isfinite(t) and 0 <= t <= 3600 and math.isfinite(g) and g >= 0


@st.composite
def instances(draw: st.DrawFn) -> tuple[pb.Instance, str | None]:
    """A mutated sample as a typed message or as native JSON, and its family when it is valid.

    Validity of a JSON payload is decided by the models directly; that of a typed message by the models
    on the message's native form (a typed message cannot say ``weights: []`` or ``true`` for an int:
    protobuf makes them "absent" and 1)."""
    family = draw(st.sampled_from(sorted(SAMPLES)))
    doc = draw(mutated(SAMPLES[family]))

    def family_if_valid(make: Any) -> str | None:
        try:
            return str(make().PROBLEM)
        except models.InstanceError:
            return None

    as_json = pb.Instance(json=json.dumps(doc)), family_if_valid(lambda: models.instance_from_dict(doc))
    if draw(st.booleans()):
        return as_json
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protobuf's "expected an int, got a boolean"
            typed = wire.instance_to_pb(doc)
    except Exception:  # not expressible as the typed message (this test's conversion, not the server)
        return as_json
    return typed, family_if_valid(lambda: models.instance_from_dict(wire.instance_to_native(typed)))


@st.composite
def options(draw: st.DrawFn) -> pb.SolveOptions:
    solver = draw(st.sampled_from(["", "auto", "", "no-such-solver", "edd", "greedy", "kube", "bfd"]))
    return pb.SolveOptions(
        solver=solver,
        time_limit_s=draw(numbers),
        gap_target=draw(st.one_of(st.just(0.0), numbers)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def solve_like(draw: st.DrawFn) -> tuple[str, bytes, bool | None]:
    inst, problem = draw(instances())
    opts = draw(options())
    valid = problem is not None and _options_valid(problem, opts)
    method = draw(st.sampled_from(["Solve", "SolveStream", "Validate", "SubmitJob"]))
    if method == "Validate":
        return method, pb.ValidateRequest(instance=inst).SerializeToString(), None  # always answered OK
    req = pb.SolveRequest(instance=inst, options=opts, request_id=draw(st.text(max_size=8)))
    if method == "SubmitJob":
        # jobs have no RPC deadline: keep valid ones short so the fuzz run stays bounded
        if math.isfinite(opts.time_limit_s) and 0 <= opts.time_limit_s <= 3600:
            req.options.time_limit_s = 0.05
        job = pb.SubmitJobRequest(solve=req, priority=draw(st.integers(-(2**31), 2**31 - 1)))
        return method, job.SerializeToString(), problem is not None and _options_valid(problem, req.options)
    return method, req.SerializeToString(), valid


@st.composite
def job_calls(draw: st.DrawFn) -> tuple[str, bytes, bool | None]:
    method = draw(st.sampled_from(["GetJob", "WaitJob", "CancelJob", "ListJobs", "ListSolvers"]))
    job_id = draw(st.text(max_size=20))
    if method == "WaitJob":
        t = draw(st.one_of(st.just(0.01), st.floats(allow_nan=True, allow_infinity=True)))
        ok = math.isfinite(t) and t >= 0
        if ok:
            t = min(t, 0.05)  # a real wait would only slow the run down
        return method, pb.WaitJobRequest(id=job_id, timeout_s=t).SerializeToString(), None if ok else False
    if method == "ListJobs":
        limit = draw(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 1001))
        state = draw(st.integers(0, 5))
        return (
            method,
            pb.ListJobsRequest(state=state, limit=limit).SerializeToString(),
            1 <= limit <= 1000 or limit == 0,
        )
    if method == "ListSolvers":
        problem = draw(st.one_of(st.sampled_from(["", *models.FAMILIES]), st.text(max_size=8)))
        ok = problem in ("", *models.FAMILIES)
        return method, pb.ListSolversRequest(problem=problem).SerializeToString(), ok
    cls = pb.GetJobRequest if method == "GetJob" else pb.CancelJobRequest
    return method, cls(id=job_id).SerializeToString(), None  # OK or NOT_FOUND


@st.composite
def postfilter_calls(draw: st.DrawFn) -> tuple[str, bytes, bool | None]:
    """The cluster of test_service_postfilter with objects replaced, mutated or garbled."""
    nodes, pods = cluster()
    texts = [json.dumps(n) for n in nodes], [json.dumps(p) for p in pods]
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(0, 1))
        objs, which = (nodes, pods)[k], texts[k]
        i = draw(st.integers(0, len(which) - 1))
        which[i] = draw(
            st.one_of(
                st.builds(json.dumps, mutated(objs[i])),
                st.builds(json.dumps, json_value),
                st.text(max_size=20),
            )
        )
    req = pb.PostFilterRequest(
        nodes=texts[0],
        pods=texts[1],
        pod=draw(st.sampled_from(["", "default/p", "default/nope"])),
        options=pb.PackingOptions(
            allow_evictions=draw(st.booleans()),
            max_moves=draw(st.integers(-3, 3)),
            packing=draw(st.sampled_from(["", "none", "spread", "tight"])),
        ),
        solve=draw(options()),
    )
    return "PostFilter", req.SerializeToString(), None  # validity is the server's to decide here


@st.composite
def garbage(draw: st.DrawFn) -> tuple[str, bytes, bool | None]:
    method = draw(st.sampled_from(sorted(METHODS)))
    return method, draw(st.binary(max_size=256)), None


def _violations(err: grpc.RpcError) -> list[Any]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"INVALID_ARGUMENT without rich status: {err.details()}"
    out = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            out.extend(br.field_violations)
    return out


def _call(channel: grpc.Channel, method: str, data: bytes) -> grpc.StatusCode:
    path = f"/allot.v1.Allotment/{method}"
    try:
        if METHODS[method].server_streaming:
            for _ in channel.unary_stream(path)(data, timeout=10):
                pass
        else:
            channel.unary_unary(path)(data, timeout=10)
    except grpc.RpcError as err:
        code = err.code()
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            assert _violations(err), f"{method}: INVALID_ARGUMENT without field violations"
        return code
    return grpc.StatusCode.OK


ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def test_every_rpc_answers_fuzzed_requests_as_documented(channel: grpc.Channel) -> None:
    """``REQUESTS`` fuzzed calls across every RPC: only documented codes, INVALID_ARGUMENT exactly for
    the requests that are invalid (where validity is known here), always with field violations."""

    @settings(max_examples=REQUESTS, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.one_of(solve_like(), solve_like(), job_calls(), postfilter_calls(), garbage()))
    def run(call: tuple[str, bytes, bool | None]) -> None:
        method, data, valid = call
        code = _call(channel, method, data)
        CODES[f"{method}:{code.name}"] += 1
        assert code in ALLOWED, f"{method} answered {code.name}"
        if valid is True:
            assert code in (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED), method
        elif valid is False:
            assert code == grpc.StatusCode.INVALID_ARGUMENT, method

    run()
