"""``allot serve``: the grpc.aio server of ``allot.v1.Allotment``.

The event loop only parses, validates and maps messages; solves run in the supervised spawn worker pool
(:mod:`service.workers`), so the server stays responsive while CPU-bound solves run. The one exception
is a one-pass construction (a dispatching rule, the kube-scheduler replica, FlexSP's baselines: the
registry's ``instant`` solvers) on a request of at most :data:`INLINE_SOLVE_BYTES`: it takes less time
than the hop to a worker would, and is solved on the loop.

Budget: ``min(options.time_limit_s or default, RPC deadline - margin)`` with
``margin = min(2 s, 0.1 s + 15 % of the time remaining)``, so a client with a deadline receives the
best incumbent rather than DEADLINE_EXCEEDED. Should a solver overrun its budget anyway (a model build
under load, a native call that polls late) or the request still be queued, the pool answers shortly
before the deadline (:func:`answer_hop`) with the best verified incumbent the solver has streamed, and
stops the solve. A cancelled RPC cancels its job (the worker's solver sees
the cancel event within milliseconds and the slot is free for the next request).

Admission: at most ``max_queue`` solves wait for a worker; beyond that a request is refused at once with
RESOURCE_EXHAUSTED and a ``google.rpc.RetryInfo`` hint, instead of queueing without bound. Instances
are parsed and validated in a thread, so a large one does not stall the event loop.

Errors: an invalid instance or option is answered INVALID_ARGUMENT with a ``google.rpc.BadRequest``
listing every field violation (paths as in native JSON), never a traceback. Health checking
(``grpc.health.v1``; SERVING once the workers are warm, NOT_SERVING while shutting down) and server
reflection are enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

import models
from models.common import FieldViolation, InstanceError
from service import postfilter, wire
from service._proto.allot.v1 import allot_pb2 as pb
from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc
from service.jobs import JobManager, JobStore
from service.metrics import Metrics, instrument
from service.security import BearerTokenInterceptor, https_context, server_credentials
from service.workers import ProgressMsg, SolveSpec, WorkerPool
from solvers import registry
from solvers.budget import Budget
from solvers.result import Result

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Allotment"].full_name
DEFAULT_TIME_LIMIT_S = 10.0
MAX_TIME_LIMIT_S = 3600.0
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Requests up to this size are validated on the event loop (well under a millisecond); larger ones in a
#: thread, so a big instance cannot stall the loop (the 54 KB pod-packing request of `allot bench deadlines`
#: took 134 ms to validate at load 5).
INLINE_PARSE_BYTES = 4 * 1024
#: Requests up to this size whose solver is a one-pass construction are solved in the server process
#: (:meth:`AllotmentServicer._solve_here`), everything else in the worker pool.
INLINE_SOLVE_BYTES = 4 * 1024


def deadline_margin(remaining: float) -> float:
    """Time kept back from the RPC deadline for the hop back, verification, and solvers' overrun under
    load (a Python model build before a native solver's own limit starts, for instance)."""
    return min(2.0, 0.1 + 0.15 * remaining)


def answer_hop(remaining: float) -> float:
    """Time kept for the answer's way back (mapping, gRPC, the network) when the pool answers at the
    deadline on behalf of a solver that has not stopped: the client still gets the incumbent in time."""
    return min(0.1, 0.03 + 0.05 * remaining)


class InvalidRequest(Exception):
    def __init__(self, violations: list[FieldViolation]):
        super().__init__("; ".join(map(str, violations)))
        self.violations = violations


def _bad_request_status(message: str, violations: list[FieldViolation]) -> grpc.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.path, description=v.message)
            for v in violations
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    st = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[packed])
    return rpc_status.to_status(st)


def _log_result(method: str, request_id: str, res: Result) -> None:
    """One line per answered solve; the fields are also structured (``allot --log-format json``)."""
    log.info(
        "%s request_id=%s problem=%s status=%s objective=%s gap=%s time=%.3fs",
        method,
        request_id,
        res.problem,
        res.status,
        res.objective,
        res.gap,
        res.wall_time_s,
        extra={
            "request_id": request_id,
            "problem": res.problem,
            "status": str(res.status),
            "objective": res.objective,
            "gap": res.gap,
            "solve_seconds": round(res.wall_time_s, 6),
            "solver": res.solver,
        },
    )


class AllotmentServicer(pb_grpc.AllotmentServicer):
    def __init__(
        self,
        pool: WorkerPool,
        *,
        max_workers_per_solve: int = 1,
        max_queue: int = 64,
        jobs_db: str = ":memory:",
        retention_s: float = 7 * 24 * 3600,
    ):
        self.pool = pool
        self.max_workers_per_solve = max_workers_per_solve
        self.max_queue = max_queue
        self.jobs = JobManager(
            JobStore(jobs_db),
            pool,
            lambda req: self._prepare(req, None),
            retention_s=retention_s,
            on_result=lambda res: self.on_result(res),
        )
        self.on_result: Callable[[Result], None] = lambda res: None  # replaced by metrics when enabled

    async def _admit(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        *,
        use_deadline: bool = True,
        prepare: Callable[[Any, float | None], tuple[Any, str, SolveSpec]] | None = None,
    ) -> tuple[Any, str, SolveSpec] | None:
        """Validate (in a thread: a large instance must not stall the event loop) and admit a request.
        Aborts the RPC (and returns None) when it is invalid or the queue is full. ``prepare``: how the
        request becomes (instance, solver, spec); default: a SolveRequest's."""
        if self.pool.queued >= self.max_queue:
            await self._overloaded(context)
            return None
        prepare = prepare or self._prepare
        # read on the loop (the context is not thread-safe); a job outlives its RPC: no deadline. The
        # deadline is absolute from here on: parsing a large request counts against it.
        remaining = context.time_remaining() if use_deadline else None
        deadline_at = None if remaining is None else time.monotonic() + remaining
        try:
            if request.ByteSize() <= INLINE_PARSE_BYTES:  # small: a thread hop would cost more than parsing
                return prepare(request, deadline_at)
            return await asyncio.to_thread(prepare, request, deadline_at)
        except InvalidRequest as exc:
            await self._reject(context, exc)
            return None

    async def _overloaded(self, context: grpc.aio.ServicerContext) -> None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(500)
        packed = any_pb2.Any()
        packed.Pack(retry)
        message = f"solve queue is full ({self.pool.queued} waiting); retry later"
        st = rpc_status.to_status(
            status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[packed])
        )
        await context.abort(st.code, st.details, st.trailing_metadata)

    # -- request handling shared by Solve and SolveStream ------------------------------------------
    def _prepare(self, request: pb.SolveRequest, deadline_at: float | None) -> tuple[Any, str, SolveSpec]:
        violations: list[FieldViolation] = []
        instance = None
        try:
            instance = wire.instance_from_pb(request.instance)
        except InstanceError as exc:
            violations.extend(_prefixed(request.instance, exc))
        spec, solver = self._spec(request.options, instance, deadline_at, violations, "options")
        return instance, solver, spec

    def _prepare_postfilter(
        self, request: pb.PostFilterRequest, deadline_at: float | None
    ) -> tuple[Any, str, SolveSpec]:
        violations: list[FieldViolation] = []
        instance = None
        try:
            instance = postfilter.instance_from_request(request)
        except InstanceError as exc:
            violations.extend(exc.violations)
        spec, solver = self._spec(
            request.solve, instance, deadline_at, violations, "solve", postfilter.DEFAULT_TIME_LIMIT_S
        )
        return instance, solver, spec

    def _spec(
        self,
        opts: pb.SolveOptions,
        instance: Any,
        deadline_at: float | None,
        violations: list[FieldViolation],
        path: str,
        default_limit: float = DEFAULT_TIME_LIMIT_S,
    ) -> tuple[SolveSpec, str]:
        """The budget of a request's SolveOptions (at ``path``); raises InvalidRequest listing every
        violation, those already found in the instance included. ``deadline_at``: the RPC deadline as
        ``time.monotonic()``; parsing has already used some of it."""
        solver = opts.solver or "auto"
        if instance is not None:
            known = registry.solvers_for(instance.PROBLEM)
            if solver not in known:
                violations.append(
                    FieldViolation(
                        f"{path}.solver",
                        f"unknown solver {solver!r} for {instance.PROBLEM}; known: {', '.join(known)}",
                    )
                )
        if not math.isfinite(opts.time_limit_s) or opts.time_limit_s < 0:
            violations.append(FieldViolation(f"{path}.time_limit_s", "must be a finite number >= 0"))
        elif opts.time_limit_s > MAX_TIME_LIMIT_S:
            violations.append(FieldViolation(f"{path}.time_limit_s", f"must be <= {MAX_TIME_LIMIT_S}"))
        if not math.isfinite(opts.gap_target) or opts.gap_target < 0:
            violations.append(FieldViolation(f"{path}.gap_target", "must be a finite number >= 0"))
        if violations:
            raise InvalidRequest(violations)
        limit = opts.time_limit_s or default_limit
        answer_by = admitted_at = None
        if deadline_at is not None:
            admitted_at = time.monotonic()
            remaining = deadline_at - admitted_at
            limit = max(0.0, min(limit, remaining - deadline_margin(remaining)))
            answer_by = deadline_at - answer_hop(remaining)
        spec = SolveSpec(
            time_limit=limit,
            gap_target=opts.gap_target,
            seed=opts.seed,
            deterministic=opts.deterministic,
            workers=max(1, min(opts.workers or 1, self.max_workers_per_solve)),
            answer_by=answer_by,
            admitted_at=admitted_at,
        )
        return spec, solver

    async def _reject(self, context: grpc.aio.ServicerContext, exc: InvalidRequest) -> None:
        st = _bad_request_status(f"invalid request: {exc}"[:2000], exc.violations)
        await context.abort(st.code, st.details, st.trailing_metadata)

    # -- RPCs ----------------------------------------------------------------------------------------
    async def Solve(self, request: pb.SolveRequest, context: grpc.aio.ServicerContext) -> pb.SolveResponse:
        admitted = await self._admit(request, context)
        if admitted is None:  # pragma: no cover - _admit aborted the RPC
            raise AssertionError("unreachable")
        instance, solver, spec = admitted
        instant = registry.solvers_for(instance.PROBLEM)[solver].instant
        if instant and request.ByteSize() <= INLINE_SOLVE_BYTES:
            res = self._solve_here(instance, solver, spec)
        else:
            res = await self.pool.submit(instance, solver, spec)
        self.on_result(res)
        _log_result("Solve", request.request_id, res)
        return wire.result_to_pb(res)

    def _solve_here(self, instance: Any, solver: str, spec: SolveSpec) -> Result:
        """A one-pass construction (``instant`` in the registry) on a tiny instance, on the event loop:
        tens of microseconds of solving would otherwise pay a round trip to a worker process (two process
        wake-ups, two pickles: `allot bench rpc --solver edd` gave p50 3.8 ms through a worker and 1.1 ms
        here, at load 3.4). The answer goes
        through :func:`solvers.registry.solve` and its checker like every other."""
        budget = Budget(spec.time_limit, gap_target=spec.gap_target, seed=spec.seed, workers=1)
        return registry.solve(instance, solver, budget)

    async def SolveStream(
        self, request: pb.SolveRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SolveUpdate]:
        admitted = await self._admit(request, context)
        if admitted is None:
            return
        instance, solver, spec = admitted
        updates: asyncio.Queue[ProgressMsg] = asyncio.Queue()
        task = asyncio.create_task(self.pool.submit(instance, solver, spec, updates.put_nowait))
        try:
            while not task.done():
                getter = asyncio.create_task(updates.get())
                done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield pb.SolveUpdate(progress=wire.progress_to_pb(instance.PROBLEM, getter.result()))
                else:
                    getter.cancel()
            while not updates.empty():
                yield pb.SolveUpdate(progress=wire.progress_to_pb(instance.PROBLEM, updates.get_nowait()))
            self.on_result(task.result())
            _log_result("SolveStream", request.request_id, task.result())
            yield pb.SolveUpdate(result=wire.result_to_pb(task.result()))
        finally:
            if not task.done():  # the client went away: stop the solve, free the worker
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def Validate(
        self, request: pb.ValidateRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateResponse:
        out = pb.ValidateResponse()
        try:
            instance = wire.instance_from_pb(request.instance)
        except InstanceError as exc:
            out.valid = False
            out.violations.extend(
                pb.FieldViolation(field=v.path, description=v.message)
                for v in _prefixed(request.instance, exc)
            )
            with contextlib.suppress(Exception):
                out.problem = wire.instance_to_native(request.instance).get("problem", "")
            return out
        out.problem = instance.PROBLEM
        out.valid = True
        if request.HasField("solution"):
            try:
                solution = wire.solution_from_pb(instance.PROBLEM, request.solution)
            except InstanceError as exc:
                out.valid = False
                out.violations.extend(
                    pb.FieldViolation(
                        field=v.path if v.path.startswith("solution") else f"solution.{v.path}",
                        description=v.message,
                    )
                    for v in exc.violations
                )
                return out
            ev = models.family(instance.PROBLEM).evaluate(instance, solution)
            out.solution_violations.extend(ev.violations)
            if ev.feasible:
                out.objective = float(ev.objective)
            else:
                out.valid = False
        return out

    async def ListSolvers(
        self, request: pb.ListSolversRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSolversResponse:
        if request.problem and request.problem not in models.FAMILIES:
            await self._reject(
                context,
                InvalidRequest(
                    [FieldViolation("problem", f"unknown problem; known: {', '.join(models.FAMILIES)}")]
                ),
            )
        problems = [request.problem] if request.problem else list(models.FAMILIES)
        out = pb.ListSolversResponse()
        for p in problems:
            for info in registry.solvers_for(p).values():
                out.solvers.add(problem=p, name=info.name, kind=info.kind, description=info.description)
        return out

    async def PostFilter(
        self, request: pb.PostFilterRequest, context: grpc.aio.ServicerContext
    ) -> pb.PostFilterResponse:
        admitted = await self._admit(request, context, prepare=self._prepare_postfilter)
        if admitted is None:  # pragma: no cover - _admit aborted the RPC
            raise AssertionError("unreachable")
        instance, solver, spec = admitted
        res = await self.pool.submit(instance, solver, spec)
        self.on_result(res)
        _log_result("PostFilter", request.request_id, res)
        return postfilter.response(instance, request.pod, wire.result_to_pb(res), res.solution)

    # -- asynchronous jobs (service.jobs) ------------------------------------------------------------
    async def SubmitJob(self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        if request.request_id:
            existing = self.jobs.store.by_request_id(request.request_id)
            if existing is not None:
                return existing
        admitted = await self._admit(request.solve, context, use_deadline=False)
        if admitted is None:  # pragma: no cover - _admit aborted the RPC
            raise AssertionError("unreachable")
        job = self.jobs.submit(request, admitted)
        log.info(
            "job %s submitted",
            job.id,
            extra={"request_id": request.request_id, "job_id": job.id, "problem": job.problem},
        )
        return job

    async def _found(self, job: pb.Job | None, job_id: str, context: grpc.aio.ServicerContext) -> pb.Job:
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id!r}")
            raise AssertionError("unreachable")
        return job

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return await self._found(self.jobs.get(request.id), request.id, context)

    async def WaitJob(self, request: pb.WaitJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        if not math.isfinite(request.timeout_s) or request.timeout_s < 0:
            st = _bad_request_status(
                "invalid timeout", [FieldViolation("timeout_s", "must be a finite number >= 0")]
            )
            await context.abort(st.code, st.details, st.trailing_metadata)
        timeout = min(request.timeout_s or 30.0, 3600.0)
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = max(0.0, min(timeout, remaining - deadline_margin(remaining)))
        return await self._found(await self.jobs.wait(request.id, timeout), request.id, context)

    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return await self._found(await self.jobs.cancel(request.id), request.id, context)

    async def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobsResponse:
        limit = request.limit or 100
        if not 1 <= limit <= 1000:
            st = _bad_request_status("invalid limit", [FieldViolation("limit", "must be between 1 and 1000")])
            await context.abort(st.code, st.details, st.trailing_metadata)
        return pb.ListJobsResponse(jobs=self.jobs.list_jobs(request.state, limit))


def register(servicer: Any, server: grpc.aio.Server) -> None:
    """Add the servicer's RPCs, decoding requests ourselves so that undecodable bytes are answered
    INVALID_ARGUMENT naming the message type (gRPC's own deserializer would answer UNKNOWN with a Python
    exception text)."""
    service = pb.DESCRIPTOR.services_by_name["Allotment"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        impl = getattr(servicer, method.name)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _decoding_stream(impl, request_cls), response_serializer=response_cls.SerializeToString
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _decoding_unary(impl, request_cls), response_serializer=response_cls.SerializeToString
            )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


async def _decode(data: bytes, request_cls: Any, context: grpc.aio.ServicerContext) -> Any:
    try:
        return request_cls.FromString(data)
    except DecodeError as exc:
        name = request_cls.DESCRIPTOR.full_name
        st = _bad_request_status(
            f"request is not a valid {name}", [FieldViolation("request", f"{name}: {exc}")]
        )
        await context.abort(st.code, st.details, st.trailing_metadata)


def _decoding_unary(impl: Any, request_cls: Any) -> Any:
    async def handler(data: bytes, context: grpc.aio.ServicerContext) -> Any:
        return await impl(await _decode(data, request_cls, context), context)

    return handler


def _decoding_stream(impl: Any, request_cls: Any) -> Any:
    async def handler(data: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for item in impl(await _decode(data, request_cls, context), context):
            yield item

    return handler


def _prefixed(inst: pb.Instance, exc: InstanceError) -> list[FieldViolation]:
    """Instance violations with paths as the request names them: ``instance.smtt.due_dates[3]``
    (or ``instance.json.due_dates[3]`` for a native JSON payload)."""
    kind = inst.WhichOneof("kind")
    out = []
    for v in exc.violations:
        if v.path.startswith("instance"):
            out.append(v)
        else:
            base = f"instance.{kind}" if kind else "instance"
            out.append(FieldViolation(f"{base}.{v.path}" if v.path else base, v.message))
    return out


def start_extender(
    address: str,
    port: int,
    prefix: str,
    snapshot: str | None,
    tls: ssl.SSLContext | None = None,
    snapshot_poll_s: float = 2.0,
) -> Any:
    """The kube-scheduler extender (:mod:`service.extender`) on its own HTTP port, in a thread: its
    requests are short (one pod, names of nodes) and need no worker process. ``snapshot``: a
    ``kubectl get nodes,pods -A -o json`` file giving the running pods (needed for nodeCacheCapable),
    re-read whenever it changes (looked at every ``snapshot_poll_s`` seconds; 0: read once), see
    :class:`service.extender.SnapshotFile`.
    ``tls``: serve HTTPS; the handshake runs in the request's own thread (not in the accept loop), so a
    slow or silent client cannot hold up the others."""
    import threading
    from http.server import ThreadingHTTPServer

    from service.extender import Extender, SnapshotFile, make_handler

    ext = Extender()
    watcher = SnapshotFile(ext, snapshot, snapshot_poll_s).start() if snapshot else None
    httpd = ThreadingHTTPServer((address, port), make_handler(ext, prefix))
    httpd.snapshot_watcher = watcher  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=httpd.serve_forever, name="extender-http", daemon=True).start()
    scheme = "https" if tls is not None else "http"
    bound = httpd.server_address[1]
    log.info(
        "scheduler extender on %s://%s:%d%s/{filter,prioritize,preempt}",
        scheme,
        address,
        bound,
        prefix.rstrip("/"),
    )
    return httpd


async def serve(
    address: str = "127.0.0.1:50051",
    *,
    workers: int = 2,
    max_tasks: int = 200,
    grace_s: float = 5.0,
    memory_limit_mb: int | None = None,
    max_queue: int = 64,
    jobs_db: str = ":memory:",
    retention_s: float = 7 * 24 * 3600,
    metrics_port: int | None = None,
    metrics_address: str = "127.0.0.1",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_client_ca: str | None = None,
    auth_token: str | None = None,
    max_message_mb: int = 256,
    extender_port: int | None = None,
    extender_address: str = "127.0.0.1",
    extender_prefix: str = "/allotment",
    cluster_snapshot: str | None = None,
    cluster_snapshot_poll_s: float = 2.0,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the server until SIGTERM/SIGINT; then NOT_SERVING, refuse new work, finish in-flight solves."""
    pool = WorkerPool(workers, max_tasks=max_tasks, memory_limit_mb=memory_limit_mb)
    interceptors = [BearerTokenInterceptor(auth_token)] if auth_token else []
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            # refused by gRPC itself (RESOURCE_EXHAUSTED) before the message is parsed
            ("grpc.max_receive_message_length", max_message_mb * 1024 * 1024),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    servicer = AllotmentServicer(pool, max_queue=max_queue, jobs_db=jobs_db, retention_s=retention_s)
    if metrics_port is not None:
        metrics = Metrics(pool)
        instrument(servicer, metrics)
        servicer.on_result = metrics.observe
        metrics.serve(metrics_port, metrics_address)
        log.info("metrics on http://%s:%d/metrics", metrics_address, metrics_port)
    register(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise RuntimeError("TLS needs both --tls-cert and --tls-key")
        port = server.add_secure_port(address, server_credentials(tls_cert, tls_key, tls_client_ca))
    elif tls_client_ca:
        raise RuntimeError("--tls-client-ca needs --tls-cert and --tls-key")
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    # the extender first: a bad snapshot file or port is reported before any worker starts
    extender_http = None
    if extender_port is not None:
        tls = https_context(tls_cert, tls_key, tls_client_ca) if tls_cert and tls_key else None
        extender_http = start_extender(
            extender_address, extender_port, extender_prefix, cluster_snapshot, tls, cluster_snapshot_poll_s
        )
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    log.info("listening on %s; starting %d workers", address, workers)
    # The server process checks solver names against the registry: import every family's solver
    # package now (numba, ortools, highspy: about 2 s) rather than inside the first request's deadline.
    await asyncio.to_thread(registry.all_solvers)
    await pool.start()
    resumed = await servicer.jobs.start()
    if resumed:
        log.info("resumed %d unfinished job(s) from %s", resumed, jobs_db)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving (worker warm-up %s s)", pool.warmup_seconds)
    # Everything built so far (imported numba, ortools, highspy, grpc; the extender's snapshot) lives as
    # long as the process: move it out of the cyclic collector's way, so a full collection during a
    # request walks only that request's objects, not the whole heap.
    gc.collect()
    gc.freeze()
    print(f"allot: serving allot.v1.Allotment on {address} with {workers} workers", flush=True)
    if ready is not None:
        ready.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: NOT_SERVING, grace %.1fs", grace_s)
    if extender_http is not None:
        extender_http.shutdown()  # kube-scheduler treats the extender as ignorable: it goes on without it
        if extender_http.snapshot_watcher is not None:
            extender_http.snapshot_watcher.stop()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    # Async jobs first: their bookkeeping stops and they stay QUEUED/RUNNING in the store, resumable.
    await servicer.jobs.close()
    # In-flight sync solves get the first half of the grace period to finish, then are told to stop
    # and answer with their incumbent (test_graceful_shutdown_answers_in_flight_solve checks this fits
    # in a 4 s grace), so their clients get an answer rather than CANCELLED.
    wrap_up = loop.call_later(grace_s / 2, pool.cancel_running)
    await server.stop(grace_s)  # refuses new RPCs at once, waits for in-flight ones up to grace_s
    wrap_up.cancel()
    await pool.close()
    servicer.jobs.store.close()
    log.info("stopped")
