"""Prometheus metrics of the server, served over HTTP by ``allot serve --metrics-port PORT``.

* ``allot_rpcs_total{method, code}``          RPCs answered, by method and gRPC status code
* ``allot_solve_seconds{problem, status}``     wall time of solves (histogram)
* ``allot_gap_at_return{problem}``             gap of answers that have one (histogram, inf excluded)
* ``allot_queue_depth``                        solves waiting for a worker
* ``allot_active_workers``                     workers busy with a solve
* ``allot_worker_restarts_total``              workers replaced after dying

Each server process has its own registry (tests may run several servers in one process).
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from solvers.result import Result

SOLVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
GAP_BUCKETS = (0.0, 1e-6, 1e-4, 1e-3, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 10.0)


class Metrics:
    def __init__(self, pool: Any = None):
        self.registry = CollectorRegistry()
        self.rpcs = Counter("allot_rpcs", "RPCs answered", ["method", "code"], registry=self.registry)
        self.solve_seconds = Histogram(
            "allot_solve_seconds",
            "Solve wall time",
            ["problem", "status"],
            buckets=SOLVE_BUCKETS,
            registry=self.registry,
        )
        self.gap = Histogram(
            "allot_gap_at_return",
            "Relative gap of answers",
            ["problem"],
            buckets=GAP_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge("allot_queue_depth", "Solves waiting for a worker", registry=self.registry)
        self.active_workers = Gauge(
            "allot_active_workers", "Workers busy with a solve", registry=self.registry
        )
        self.worker_restarts = Gauge(
            "allot_worker_restarts_total", "Workers replaced after dying", registry=self.registry
        )
        if pool is not None:  # read at scrape time
            self.queue_depth.set_function(lambda: pool.queued)
            self.active_workers.set_function(lambda: pool.busy)
            self.worker_restarts.set_function(lambda: pool.restarts)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def observe(self, res: Result) -> None:
        self.solve_seconds.labels(res.problem, str(res.status)).observe(res.wall_time_s)
        if res.gap is not None and math.isfinite(res.gap):
            self.gap.labels(res.problem).observe(res.gap)

    def _code(self, context: grpc.aio.ServicerContext, failed: bool) -> str:
        code = context.code()
        if code is None:
            return "UNKNOWN" if failed else "OK"
        return code.name if isinstance(code, grpc.StatusCode) else str(code)

    def unary(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """Count a unary handler's answers by status code."""
        name = method.__name__

        @functools.wraps(method)
        async def wrapper(servicer: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            failed = True
            try:
                out = await method(servicer, request, context)
                failed = False
                return out
            finally:
                self.rpcs.labels(name, self._code(context, failed)).inc()

        return wrapper

    def stream(self, method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        """Count a server-streaming handler's outcomes by status code."""
        name = method.__name__

        @functools.wraps(method)
        async def wrapper(
            servicer: Any, request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            failed = True
            try:
                async for item in method(servicer, request, context):
                    yield item
                failed = False
            finally:
                self.rpcs.labels(name, self._code(context, failed)).inc()

        return wrapper


def _methods(streaming: bool) -> tuple[str, ...]:
    """The service's RPC names, from the proto itself, so a new RPC cannot go uncounted."""
    from service._proto.allot.v1 import allot_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["Allotment"]
    return tuple(m.name for m in service.methods if m.server_streaming == streaming)


UNARY_METHODS = _methods(streaming=False)
STREAM_METHODS = _methods(streaming=True)


def instrument(servicer: Any, metrics: Metrics) -> None:
    """Wrap the servicer's RPC handlers (on the instance) so that every answer is counted."""
    import types

    for name in UNARY_METHODS:
        setattr(servicer, name, types.MethodType(metrics.unary(getattr(type(servicer), name)), servicer))
    for name in STREAM_METHODS:
        setattr(servicer, name, types.MethodType(metrics.stream(getattr(type(servicer), name)), servicer))
