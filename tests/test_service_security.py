"""TLS, mutual TLS, bearer tokens and the message size limit of `allot serve`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from test_service_grpc import ROOT, running_server

from service import wire
from service._proto.allot.v1 import allot_pb2 as pb
from service._proto.allot.v1 import allot_pb2_grpc as pb_grpc
from solvers.pod_packing.bench import k8s_pod

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
SMALL = json.loads((ROOT / "instances" / "samples" / "smtt.json").read_text())
OPTS = [("grpc.ssl_target_name_override", "localhost")]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away CA, a server certificate for localhost and a client certificate, all signed by it."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=allot-test-ca",
        cwd=d,
    )
    for name, ext in (
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


def _request() -> pb.SolveRequest:
    return pb.SolveRequest(instance=wire.instance_to_pb(SMALL), options=pb.SolveOptions(time_limit_s=5))


def test_tls_with_bearer_token(pki: Path, tmp_path: Path) -> None:
    """Over TLS with a token: the right token is served, a missing or wrong one is UNAUTHENTICATED, and
    health checks stay open (probes send no metadata)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    args = (
        "--workers",
        "1",
        "--tls-cert",
        str(pki / "server.pem"),
        "--tls-key",
        str(pki / "server.key"),
        "--auth-token-file",
        str(token),
    )
    with (
        running_server(*args, credentials=creds) as (address, _),
        grpc.secure_channel(address, creds, OPTS) as ch,
    ):
        stub = pb_grpc.AllotmentStub(ch)
        resp = stub.Solve(_request(), timeout=60, metadata=[("authorization", "Bearer s3cret-token")])
        assert resp.status in (pb.OPTIMAL, pb.FEASIBLE)
        for metadata in ([], [("authorization", "Bearer wrong")]):
            with pytest.raises(grpc.RpcError) as info:
                stub.Solve(_request(), timeout=30, metadata=metadata)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            list(stub.SolveStream(_request(), timeout=30))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(address) as plain, pytest.raises(grpc.RpcError):
            pb_grpc.AllotmentStub(plain).ListSolvers(pb.ListSolversRequest(), timeout=5)


def test_mutual_tls_requires_a_client_certificate(pki: Path) -> None:
    """With --tls-client-ca a client without a certificate is turned away; one with a signed one is served."""
    ca = (pki / "ca.pem").read_bytes()
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=(pki / "client.key").read_bytes(),
        certificate_chain=(pki / "client.pem").read_bytes(),
    )
    args = (
        "--workers",
        "1",
        "--tls-cert",
        str(pki / "server.pem"),
        "--tls-key",
        str(pki / "server.key"),
        "--tls-client-ca",
        str(pki / "ca.pem"),
    )
    with running_server(*args, credentials=with_cert) as (address, _):
        with grpc.secure_channel(address, with_cert, OPTS) as ch:
            assert pb_grpc.AllotmentStub(ch).ListSolvers(pb.ListSolversRequest(), timeout=10).solvers
        no_cert = grpc.ssl_channel_credentials(root_certificates=ca)
        with grpc.secure_channel(address, no_cert, OPTS) as ch, pytest.raises(grpc.RpcError) as info:
            pb_grpc.AllotmentStub(ch).ListSolvers(pb.ListSolversRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_oversized_request_refused_before_parsing() -> None:
    """A request above --max-message-mb is refused by gRPC with RESOURCE_EXHAUSTED (nothing allocated
    for it in the server beyond the limit); the server keeps serving."""
    n = 200_000
    big = pb.SolveRequest(
        instance=pb.Instance(smtt=pb.SmttInstance(processing_times=[10**9] * n, due_dates=[10**9] * n))
    )
    assert big.ByteSize() > 1024 * 1024
    with (
        running_server("--workers", "1", "--max-message-mb", "1") as (address, _),
        grpc.insecure_channel(address) as ch,
    ):
        stub = pb_grpc.AllotmentStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.Solve(big, timeout=30)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert stub.Solve(_request(), timeout=60).status in (pb.OPTIMAL, pb.FEASIBLE)


def _extender_call(url: str, context: Any) -> Any:
    import urllib.request

    body = json.dumps({"Pod": k8s_pod("default/p", "1", "1Gi"), "Nodes": None, "NodeNames": []}).encode()
    rq = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(rq, timeout=10, context=context) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_extender_serves_https_and_mutual_tls(pki: Path, mutual: bool) -> None:
    """With the server's certificate the extender answers over HTTPS only; with a client CA it also turns
    away clients without a signed certificate, as kube-scheduler's tlsConfig (caFile, certFile) expects."""
    import ssl
    import urllib.error

    from service.security import https_context
    from service.server import start_extender

    tls = https_context(
        str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem") if mutual else None
    )
    httpd = start_extender("127.0.0.1", 0, "/allotment", None, tls)
    try:
        url = f"https://localhost:{httpd.server_address[1]}/allotment/filter"
        client = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        if mutual:
            with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
                _extender_call(url, client)
            client.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        assert _extender_call(url, client)["Error"] == ""
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            _extender_call(url.replace("https", "http"), None)
    finally:
        httpd.shutdown()
        httpd.server_close()
