"""The deployment files agree with the CLI they run: arguments parse, probes and ports match."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from service.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "service" / "deploy"


def test_kubernetes_manifest_runs_a_valid_serve_command() -> None:
    """The Deployment's args are accepted by `allot serve`, its probes target the gRPC port the server
    listens on, and the grace period outlasts the server's own shutdown grace."""
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    container = containers["allotment"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve"
    port = int(args.address.rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["grpc"] == port and ports["metrics"] == args.metrics_port
    assert ports["extender"] == args.extender_port
    assert container["readinessProbe"]["grpc"]["port"] == port
    assert pod["terminationGracePeriodSeconds"] > args.grace
    service = next(d for d in docs if d["kind"] == "Service")
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    # the sidecar renames into the very file the extender watches, on a volume both mount
    sidecar = containers["snapshot"]
    assert args.cluster_snapshot and args.cluster_snapshot_poll > 0
    script = " ".join(sidecar["args"])
    assert f"mv {args.cluster_snapshot}.tmp {args.cluster_snapshot}" in script
    mounts = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    assert args.cluster_snapshot.startswith(mounts["snapshot"] + "/")
    assert {m["name"] for m in container["volumeMounts"]} >= {"snapshot"}
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {"nodes", "pods"} <= set(role["rules"][0]["resources"]) and "list" in role["rules"][0]["verbs"]


def test_dockerfile_command_parses_and_copies_every_package() -> None:
    """The image's default command is a valid `allot serve` and every top-level package is copied."""
    text = (DEPLOY / "Dockerfile").read_text()
    entry = re.search(r"ENTRYPOINT \[(.*?)\]", text, re.S)
    cmd = re.search(r"CMD \[(.*?)\]", text, re.S)
    assert entry and cmd

    def words(group: str) -> list[str]:
        return re.findall(r'"([^"]*)"', group)

    argv = words(entry.group(1))[1:] + words(cmd.group(1))
    assert build_parser().parse_args(argv).command == "serve"
    for package in ("models", "solvers", "service", "instances", "protos"):
        assert f"COPY {package} {package}" in text


def test_scheduler_config_points_at_the_extender() -> None:
    """The example KubeSchedulerConfiguration is ignorable and targets the extender's port and prefix."""
    config = yaml.safe_load((DEPLOY / "kube-scheduler-config.yaml").read_text())
    (ext,) = config["extenders"]
    assert ext["ignorable"] is True
    assert {ext["filterVerb"], ext["prioritizeVerb"], ext["preemptVerb"]} == {
        "filter",
        "prioritize",
        "preempt",
    }
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "allotment")
    args = build_parser().parse_args(container["args"])
    assert ext["urlPrefix"].endswith(f":{args.extender_port}{args.extender_prefix}")
