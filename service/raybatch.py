"""``allot solve FILE... --ray ADDRESS``: a batch of instances solved as Ray tasks.

Ray does the cluster work — scheduling tasks onto nodes' CPUs, queueing, retrying a task whose worker
died — and this module only maps instances to tasks and results back:

* one task per instance, ``num_cpus`` = the solve's thread count, so Ray never runs more solves on a node
  than it has cores (CP-SAT and Numba are CPU-bound); ``max_retries=1``: a worker lost to a crash or an
  out-of-memory kill gets one more try on another worker, then the instance is reported ERROR;
* at most as many tasks in flight as the cluster has CPUs for (the rest are submitted as answers come
  back), so every task starts when it is submitted and its deadline can count from there;
* the worker compiles (or loads from Numba's cache) its family's kernels once per worker process,
  before the solve's clock starts, as ``allot serve`` workers do;
* every answer is verified twice: by :func:`solvers.registry.solve` in the worker and again on the
  driver by :func:`solvers.registry.finalize` with the driver's checker, so a cluster running another
  version of the code cannot slip an unchecked solution through;
* a task that has not answered ``ANSWER_GRACE_S`` after its budget is cancelled (``force=True`` kills
  its worker) and the instance is reported ERROR with the reason; the batch goes on.

``ADDRESS`` is what :func:`ray.init` takes: ``auto`` (the cluster this machine belongs to),
``ray://HOST:10001`` (Ray Client), or ``local`` to start a private local Ray for this run. Cluster nodes
need the same ``allotment`` package installed (the container image of ``service/deploy/Dockerfile``).
Ray is an optional dependency: ``pip install 'allotment[ray]'``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from solvers import Budget, Result, Status, registry

#: Time a task may take beyond its budget (worker start, kernel loading, the hop back) before it is
#: cancelled. Generous: a cold worker on a busy node loads Numba's cache in seconds.
ANSWER_GRACE_S = 60.0


class RayUnavailable(RuntimeError):
    """``ray`` is not installed, or the cluster cannot be reached."""


_warm: set[str] = set()


def _solve_task(instance: Any, solver: str, budget_kwargs: dict[str, Any]) -> Result:
    """Runs in a Ray worker process."""
    problem = instance.PROBLEM
    if problem not in _warm:  # once per worker process, before the budget's clock starts
        registry.warmup([problem])
        _warm.add(problem)
    return registry.solve(instance, solver, Budget(**budget_kwargs))


def connect(address: str) -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs the 'ray' package: pip install 'allotment[ray]'") from None
    kwargs: dict[str, Any] = {"log_to_driver": False, "ignore_reinit_error": True}
    if address == "local":
        kwargs.update(include_dashboard=False, object_store_memory=128 * 1024 * 1024)
    else:
        _probe(address)
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError... all mean "no cluster"
        raise RayUnavailable(f"cannot connect to Ray at {address!r}: {exc}") from None
    return ray


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at: ``ray.init`` would retry for minutes."""
    import socket

    if address == "auto":
        return  # Ray looks the local cluster up itself and fails at once without one
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailable(f"--ray {address!r}: expected 'auto', 'local', HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot connect to Ray at {address!r}: {exc}") from None


def solve_batch(
    entries: Iterable[tuple[str, Any]],
    solver: str,
    budget_kwargs: dict[str, Any],
    address: str,
    on_result: Callable[[int, Result], None],
) -> None:
    """Solve ``(name, instance)`` pairs on Ray; ``on_result(index, result)`` in completion order, from the
    calling thread. Every entry gets exactly one result."""
    ray = connect(address)
    try:
        cpus = max(1, int(budget_kwargs.get("workers", 1)))
        task = ray.remote(_solve_task).options(num_cpus=cpus, max_retries=1, retry_exceptions=False)
        # As many tasks in flight as the cluster has room for: each starts as soon as it is submitted,
        # so its deadline can count from submission, and the driver never floods the object store.
        window = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        limit = budget_kwargs.get("time_limit")
        allowed = (limit if limit is not None else 3600.0) + ANSWER_GRACE_S
        todo = iter(enumerate(entries))
        pending: dict[Any, tuple[int, str, Any, float]] = {}
        while True:
            while len(pending) < window:
                nxt = next(todo, None)
                if nxt is None:
                    break
                i, (name, inst) = nxt
                pending[task.remote(inst, solver, budget_kwargs)] = (i, name, inst, time.monotonic())
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                i, name, inst, _t = pending.pop(ref)
                on_result(i, _collect(ray, ref, name, inst))
            now = time.monotonic()
            for ref, (i, name, inst, submitted) in list(pending.items()):
                if now - submitted > allowed:
                    ray.cancel(ref, force=True)
                    del pending[ref]
                    message = f"no answer from Ray within the budget + {ANSWER_GRACE_S:.0f} s; cancelled"
                    on_result(i, Result(inst.PROBLEM, Status.ERROR, solver, message=message, instance=name))
    finally:
        ray.shutdown()


def _collect(ray: Any, ref: Any, name: str, inst: Any) -> Result:
    try:
        res = ray.get(ref)
    except Exception as exc:  # the task failed twice (worker died) or raised
        message = f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return Result(inst.PROBLEM, Status.ERROR, "", message=message, instance=name)
    if res.status in (Status.INVALID, Status.ERROR):
        return res.with_(instance=name)
    return registry.finalize(inst, res, res.wall_time_s).with_(instance=name)
