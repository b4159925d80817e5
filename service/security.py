"""Transport security and authentication for ``allot serve``.

* TLS: ``--tls-cert`` and ``--tls-key`` (PEM) serve gRPC over TLS; adding ``--tls-client-ca`` requires
  and verifies client certificates (mutual TLS). The scheduler-extender endpoint, when enabled, serves
  HTTPS with the same certificate and the same client-certificate requirement (kube-scheduler's
  ``extenders[].tlsConfig`` gives it ``caFile``, and ``certFile``/``keyFile`` for mutual TLS).
* Bearer token: with ``--auth-token-file FILE`` (or the ``ALLOT_AUTH_TOKEN`` environment variable) every
  RPC must carry ``authorization: Bearer <token>`` metadata, compared in constant time; others are
  refused with UNAUTHENTICATED. Health checks stay open, because Kubernetes' gRPC probes send no
  metadata. Tokens are never taken on the command line, where ``ps`` would show them.

No endpoint executes client-supplied code or reads files a client names: instances arrive in the
request itself.
"""

from __future__ import annotations

import hmac
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def server_credentials(cert: str, key: str, client_ca: str | None = None) -> grpc.ServerCredentials:
    pair = [(Path(key).read_bytes(), Path(cert).read_bytes())]
    if client_ca:
        return grpc.ssl_server_credentials(
            pair, root_certificates=Path(client_ca).read_bytes(), require_client_auth=True
        )
    return grpc.ssl_server_credentials(pair)


def https_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """Server-side TLS (1.2 or newer) for the extender's HTTP endpoint; with ``client_ca`` a client
    certificate signed by it is required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


def load_token(path: str | None) -> str | None:
    """The bearer token from a file (stripped) or ``ALLOT_AUTH_TOKEN``; None when neither is set."""
    if path:
        token = Path(path).read_text().strip()
        if not token:
            raise ValueError(f"{path}: the token file is empty")
        return token
    return os.environ.get("ALLOT_AUTH_TOKEN") or None


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)

        async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
            yield  # pragma: no cover - makes this an async generator

        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny_stream)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method or ""
        if method.startswith(OPEN_PREFIXES):
            return await continuation(details)
        given = b""
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
        if hmac.compare_digest(given, self._expected):
            return await continuation(details)
        handler = await continuation(details)
        if handler is not None and handler.response_streaming:
            return self._deny_stream
        return self._deny_unary
