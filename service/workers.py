"""Supervised pool of spawn-started solver processes, driven from an asyncio event loop.

Why not ``ProcessPoolExecutor``: a solve must be cancellable while it runs, must stream its improving
incumbents, and a worker that dies must cost only its own request (ENGINEERING.md §2). So each worker
is a ``spawn`` process with two one-way pipes:

* parent -> worker: ``("solve", job_id, instance, solver, spec)``, ``("cancel", job_id)``, ``("stop",)``;
  a listener thread in the worker receives them, so a cancel arrives while the main thread solves and
  simply sets that job's ``threading.Event`` (which every solver polls through its Budget);
* worker -> parent: ``("ready", pid, warmup_seconds)``, ``("progress", job_id, ProgressMsg)``,
  ``("result", job_id, Result)``. The parent reads them with ``loop.add_reader`` (no thread per worker).

Every incumbent a worker streams has passed the family's ``evaluate`` inside the worker; every final
result went through :func:`solvers.solve`, which verifies it.

Supervision: a job that outlives its budget by ``grace_s`` is cancelled, and if it still does not
answer after another ``grace_s`` its worker is killed. A worker that dies (killed, OOM, crash) is
replaced; its job is answered with the best verified incumbent it streamed (status FEASIBLE, message
saying what happened) or an ERROR. Workers are recycled after ``max_tasks`` jobs to bound memory growth,
and may be given an address-space limit (``memory_limit_mb``, RLIMIT_AS) so a runaway solve fails alone.
Numba kernels are compiled (or loaded from the on-disk cache) when a worker starts, before it reports
ready, so no request pays JIT time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import math
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from solvers.result import Limit, Result, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolveSpec:
    """What a worker needs besides the instance to build the Budget."""

    time_limit: float | None
    gap_target: float = 0.0
    seed: int = 0
    deterministic: bool = False
    workers: int = 1
    #: ``time.monotonic()`` by which the caller must have its answer (an RPC deadline, less the hop
    #: back). If the solver has not answered by then, the pool answers with the best incumbent it has
    #: streamed and tells the solver to stop. With it, ``time_limit`` is measured from ``admitted_at``
    #: (when the request arrived), so time spent parsing and queueing comes out of the solver's budget.
    answer_by: float | None = None
    admitted_at: float | None = None


@dataclass(frozen=True)
class ProgressMsg:
    elapsed_s: float
    solver: str
    objective: float | None
    bound: float | None
    solution: Any  # verified Solution or None


# --------------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------------


def _worker_main(conn_in: Connection, conn_out: Connection, warm: bool, memory_limit_mb: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if memory_limit_mb:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import models
    from solvers import registry
    from solvers.budget import Budget, Progress

    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            conn_out.send(msg)

    t0 = time.perf_counter()
    times = registry.warmup() if warm else {}
    send(("ready", os.getpid(), round(time.perf_counter() - t0, 3), times))

    tasks: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
    cancel_events: dict[int, threading.Event] = {}
    lock = threading.Lock()

    def event_for(job_id: int) -> threading.Event:
        with lock:
            return cancel_events.setdefault(job_id, threading.Event())

    def listen() -> None:
        while True:
            try:
                msg = conn_in.recv()
            except (EOFError, OSError):
                tasks.put(None)
                return
            if msg[0] == "solve":
                event_for(msg[1])
                tasks.put(msg)
            elif msg[0] == "cancel":
                event_for(msg[1]).set()
            elif msg[0] == "stop":
                tasks.put(None)
                return

    threading.Thread(target=listen, name="worker-listener", daemon=True).start()
    while True:
        task = tasks.get()
        if task is None:
            break
        _, job_id, instance, solver, spec = task
        cancel = event_for(job_id)
        model = models.family(instance.PROBLEM)
        last_sent = [0.0]

        def on_progress(
            p: Progress,
            job_id: int = job_id,
            model: Any = model,
            instance: Any = instance,
            last_sent: list[float] = last_sent,
        ) -> None:
            solution, objective = None, p.objective
            if p.solution is not None:
                ev = model.evaluate(instance, p.solution)
                if not ev.feasible:
                    return  # never stream an unverified incumbent
                solution, objective = p.solution, ev.objective
            now = time.monotonic()
            if solution is None and now - last_sent[0] < 0.05:
                return  # throttle bound-only updates
            last_sent[0] = now
            send(("progress", job_id, ProgressMsg(p.elapsed_s, p.solver, objective, p.bound, solution)))

        # The family's cheap bound first (the registry adds it to the final answer anyway, from the same
        # per-instance cache): should the pool have to answer before the solver does, it has a bound.
        t_bound = time.perf_counter()
        with contextlib.suppress(Exception):  # a failing bound must not cost the solve
            value, source = registry.cheap_bound(instance)
            if math.isfinite(value):
                send(("progress", job_id, ProgressMsg(0.0, source, None, value, None)))
        if spec.time_limit is not None:  # finalize used to pay for it after the budget; now it comes first
            spent = time.perf_counter() - t_bound
            spec = dataclasses.replace(spec, time_limit=max(0.0, spec.time_limit - spent))
        budget = Budget(
            spec.time_limit,
            gap_target=spec.gap_target,
            cancel=cancel,
            workers=spec.workers,
            seed=spec.seed,
            deterministic=spec.deterministic,
            on_progress=on_progress,
        )
        res = registry.solve(instance, solver, budget)
        if cancel.is_set() and res.status is not Status.OPTIMAL:
            res = res.with_(limit=Limit.CANCELLED)
        send(("result", job_id, res))
        with lock:
            cancel_events.pop(job_id, None)


# --------------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Job:
    id: int
    instance: Any
    solver: str
    spec: SolveSpec
    future: asyncio.Future[Result]  # the caller's answer; may be settled early (spec.answer_by)
    finished: asyncio.Future[None]  # the worker is done with the job (result sent, or it died)
    on_progress: Callable[[ProgressMsg], None] | None = None
    best: ProgressMsg | None = None
    bound: float | None = None  # best bound streamed so far, and who proved it
    bound_source: str = ""
    cancelled: bool = False
    started: float = 0.0
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


@dataclass(eq=False)
class _Worker:
    process: Any
    conn_in: Connection  # parent writes
    conn_out: Connection  # parent reads
    ready: asyncio.Future[None]
    job: Job | None = None
    tasks_done: int = 0
    stopping: bool = False
    dead: bool = False


class WorkerPool:
    def __init__(
        self,
        size: int = 2,
        *,
        max_tasks: int = 200,
        grace_s: float = 2.0,
        warm: bool = True,
        memory_limit_mb: int | None = None,
    ):
        if size < 1:
            raise ValueError("pool size must be >= 1")
        self.size = size
        self.max_tasks = max_tasks
        self.grace_s = grace_s
        self.warm = warm
        self.memory_limit_mb = memory_limit_mb
        self._ctx = mp.get_context("spawn")
        self._ids = itertools.count(1)
        # (-priority, submission order, job): higher priority first, FIFO within a priority
        self._queue: asyncio.PriorityQueue[tuple[int, int, Job]] = asyncio.PriorityQueue()
        self._workers: list[_Worker] = []
        self._loops: list[asyncio.Task[None]] = []
        self._closed = False
        self.restarts = 0
        self.warmup_seconds: list[float] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        workers = [self._spawn() for _ in range(self.size)]
        # This process verifies incumbents too (``_from_best``, on the event loop, when a worker dies or
        # a deadline comes first): load its kernels now, while the workers boot, not in that moment.
        warm_here = asyncio.to_thread(_warm_verification) if self.warm else asyncio.sleep(0)
        await asyncio.gather(warm_here, *(w.ready for w in workers))
        for i, w in enumerate(workers):
            self._loops.append(asyncio.create_task(self._slot(w), name=f"worker-slot-{i}"))

    def _spawn(self) -> _Worker:
        loop = asyncio.get_running_loop()
        child_in, parent_in = self._ctx.Pipe(duplex=False)
        parent_out, child_out = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child_in, child_out, self.warm, self.memory_limit_mb),
            daemon=True,
            name="allot-worker",
        )
        proc.start()
        child_in.close()
        child_out.close()
        w = _Worker(proc, parent_in, parent_out, loop.create_future())
        loop.add_reader(parent_out.fileno(), self._on_readable, w)
        self._workers.append(w)
        return w

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting work, cancel what runs, and stop every worker (killing stragglers)."""
        self._closed = True
        for t in self._loops:
            t.cancel()
        while not self._queue.empty():
            _, _, job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_result(self._no_result(job, Status.ERROR, "server shutting down"))
        for w in list(self._workers):
            if w.job is not None:
                self.cancel(w.job)
            with contextlib.suppress(OSError):
                w.conn_in.send(("stop",))
        deadline = time.monotonic() + grace_s
        while any(w.process.is_alive() for w in self._workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for w in list(self._workers):
            if w.process.is_alive():
                w.process.kill()
            self._retire(w)

    def cancel_running(self) -> int:
        """Ask every running job to stop now and answer with its best incumbent. Returns how many."""
        running = [w.job for w in self._workers if w.job is not None]
        for job in running:
            self.cancel(job)
        return len(running)

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers if w.job is not None)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    # -- jobs --------------------------------------------------------------------------------------
    def enqueue(
        self,
        instance: Any,
        solver: str,
        spec: SolveSpec,
        on_progress: Callable[[ProgressMsg], None] | None = None,
        priority: int = 0,
    ) -> Job:
        """Queue a solve and return its Job (``await job.future`` for the Result). Queued work runs by
        priority (higher first), then in submission order."""
        if self._closed:
            raise RuntimeError("worker pool is closed")
        loop = asyncio.get_running_loop()
        job = Job(next(self._ids), instance, solver, spec, loop.create_future(), loop.create_future())
        job.on_progress = on_progress
        job.started = time.monotonic()
        if spec.answer_by is not None:
            wait = max(0.0, spec.answer_by - time.monotonic())
            job.timers.append(loop.call_later(wait, self._answer_now, job))
        self._queue.put_nowait((-priority, job.id, job))
        return job

    def _answer_now(self, job: Job) -> None:
        """The caller's deadline has come and the solver has not answered (it overran its budget, or the
        job is still queued): answer with the best verified incumbent streamed so far and stop the job.
        The worker stays busy until it has really stopped (``job.finished``)."""
        if job.future.done():
            return
        running = any(w.job is job for w in self._workers)
        reason = (
            "the RPC deadline came before the solver answered"
            if running
            else ("the RPC deadline came while the job was still queued")
        )
        if job.best is None:
            res = self._no_result(job, Status.NO_SOLUTION, reason + "; no incumbent had been found")
            job.future.set_result(res.with_(limit=Limit.TIME))
        else:
            job.future.set_result(self._streamed_best(job, reason))
        log.warning("job %s: %s; answered early", job.id, reason)
        self.cancel(job)

    def _streamed_best(self, job: Job, reason: str) -> Result:
        """The best incumbent as the worker streamed it: its solution and objective were verified by the
        family's checker in the worker, so unlike :meth:`_from_best` (a worker that died may have been
        anything) it is not checked again here -- on a large pod-packing instance that check alone takes
        tens of milliseconds the deadline does not leave."""
        from models import family
        from solvers.result import bounds_meet, gap, round_bound

        best = job.best
        assert best is not None and best.objective is not None
        integral = bool(getattr(family(job.instance.PROBLEM), "INTEGRAL_OBJECTIVE", False))
        # the worker streams the family's cheap bound first thing (computing it here, on a fresh copy of
        # the instance, takes 14 ms of the loop for the 52-node, 302-pod cluster of `allot bench
        # deadlines` at load 0.3, several times that under load), then every better one
        bound, source = job.bound, job.bound_source
        bound = round_bound(bound, integral)
        if bound is not None and bound > best.objective:
            bound = None  # never report a bound above the verified objective
        proved = bound is not None and bounds_meet(best.objective, bound)
        return Result(
            job.instance.PROBLEM,
            Status.OPTIMAL if proved else Status.FEASIBLE,
            best.solver,
            objective=best.objective,
            bound=bound,
            bound_source=source if bound is not None else "",
            gap=gap(best.objective, bound),
            solution=best.solution,
            limit=Limit.NONE if proved else Limit.TIME,
            message=reason + "; returning the best incumbent it reported (verified in the worker)",
            wall_time_s=time.monotonic() - job.started,
            instance=job.instance.name,
        )

    async def submit(
        self,
        instance: Any,
        solver: str,
        spec: SolveSpec,
        on_progress: Callable[[ProgressMsg], None] | None = None,
        priority: int = 0,
    ) -> Result:
        """Solve in a worker; if the awaiting task is cancelled, the job is cancelled too."""
        job = self.enqueue(instance, solver, spec, on_progress, priority)
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            self.cancel(job)
            raise

    def cancel(self, job: Job) -> None:
        """Stop a job: a running one returns its best verified incumbent (limit CANCELLED) through its
        future; a queued one is answered at once and skipped by the workers."""
        job.cancelled = True
        for w in self._workers:
            if w.job is job:
                with contextlib.suppress(OSError):
                    w.conn_in.send(("cancel", job.id))
                return
        if not job.future.done():
            job.future.set_result(self._no_result(job, Status.NO_SOLUTION, "cancelled before it started"))

    async def _slot(self, first: _Worker) -> None:
        """One dispatch loop per worker slot: take a job, run it on this slot's current worker.

        A worker due for recycling keeps serving while its replacement boots (``spare``); the swap
        happens between jobs once the replacement is ready, so recycling never makes a request wait.
        """
        worker: _Worker | None = first
        spare: _Worker | None = None
        while True:
            if spare is not None and spare.ready.done():
                if spare.ready.exception() is None and not spare.dead:
                    if worker is not None and not worker.dead:
                        worker.stopping = True
                        with contextlib.suppress(OSError):
                            worker.conn_in.send(("stop",))
                    worker = spare
                spare = None
            # Replace a dead worker *before* taking the next job, so no job waits for a worker's
            # start-up while another slot could serve it.
            worker = await self._healthy_worker(worker)
            _, _, job = await self._queue.get()
            if job.cancelled or job.future.done():
                continue
            worker = await self._healthy_worker(worker)  # it may have died while idle
            worker.job = job
            try:
                worker.conn_in.send(("solve", job.id, job.instance, job.solver, _budget_now(job.spec)))
            except (OSError, ValueError) as exc:  # e.g. unpicklable instance: the job's error only
                worker.job = None
                if not job.future.done():
                    job.future.set_result(self._no_result(job, Status.ERROR, f"could not send job: {exc}"))
                continue
            self._arm_watchdog(worker, job)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(job.finished)
            for t in job.timers:
                t.cancel()
            worker.job = None
            worker.tasks_done += 1
            if worker.tasks_done >= self.max_tasks and spare is None and not worker.dead:
                spare = self._spawn()  # boots in the background; swapped in when ready

    async def _healthy_worker(self, current: _Worker | None) -> _Worker:
        if current is None or current.dead:
            if current is not None and current.dead:
                self.restarts += 1
            current = self._spawn()
            await current.ready
        return current

    def _arm_watchdog(self, worker: _Worker, job: Job) -> None:
        if job.spec.time_limit is None:
            return
        loop = asyncio.get_running_loop()
        soft = job.spec.time_limit + self.grace_s

        def soft_stop() -> None:
            if worker.job is job:
                log.warning("job %s overran its budget by %.1fs: cancelling", job.id, self.grace_s)
                self.cancel(job)
                job.timers.append(loop.call_later(self.grace_s, hard_stop))

        def hard_stop() -> None:
            if worker.job is job and worker.process.is_alive():
                log.error("job %s ignored cancellation: killing worker pid %s", job.id, worker.process.pid)
                worker.process.kill()

        job.timers.append(loop.call_later(soft, soft_stop))

    # -- messages from workers ---------------------------------------------------------------------
    def _on_readable(self, w: _Worker) -> None:
        try:
            while w.conn_out.poll():
                self._handle(w, w.conn_out.recv())
        except (EOFError, OSError):
            self._on_death(w)

    def _handle(self, w: _Worker, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "ready":
            self.warmup_seconds.append(msg[2])
            if not w.ready.done():
                w.ready.set_result(None)
        elif kind == "progress":
            job = w.job
            if job is None or job.id != msg[1]:
                return
            p: ProgressMsg = msg[2]
            if p.solution is not None and (job.best is None or _better(p, job.best)):
                job.best = p
            if p.bound is not None and (job.bound is None or p.bound > job.bound):
                job.bound, job.bound_source = p.bound, p.solver
            if job.on_progress is not None:
                try:
                    job.on_progress(p)
                except Exception:
                    log.exception("progress listener failed")
        elif kind == "result":
            job = w.job
            if job is not None and job.id == msg[1]:
                if not job.future.done():
                    job.future.set_result(msg[2])
                if not job.finished.done():
                    job.finished.set_result(None)

    def _on_death(self, w: _Worker) -> None:
        if w.dead:
            return
        w.process.join(timeout=1.0)
        code = w.process.exitcode
        self._retire(w)
        if not w.ready.done():
            w.ready.set_exception(RuntimeError(f"worker failed to start (exit code {code})"))
        job = w.job
        if job is not None and not job.future.done():
            reason = f"worker process died (exit code {code}) during the solve"
            if w.stopping or self._closed:
                reason = "worker stopped during the solve"
            log.error("job %s: %s", job.id, reason)
            job.future.set_result(self._from_best(job, reason))
        if job is not None and not job.finished.done():
            job.finished.set_result(None)

    def _retire(self, w: _Worker) -> None:
        w.dead = True
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(w.conn_out.fileno())
        for c in (w.conn_in, w.conn_out):
            with contextlib.suppress(OSError):
                c.close()
        if w in self._workers:
            self._workers.remove(w)

    # -- answers without a worker result -----------------------------------------------------------
    def _no_result(self, job: Job, status: Status, message: str) -> Result:
        return Result(
            job.instance.PROBLEM,
            status,
            job.solver,
            message=message,
            limit=Limit.CANCELLED if job.cancelled else Limit.NONE,
            wall_time_s=time.monotonic() - job.started,
            instance=job.instance.name,
        )

    def _from_best(self, job: Job, reason: str) -> Result:
        """The best incumbent a dead worker streamed (already verified in the worker), or an ERROR."""
        from solvers.registry import finalize

        if job.best is None:
            return self._no_result(job, Status.ERROR, reason + "; no incumbent had been found")
        raw = Result(
            job.instance.PROBLEM,
            Status.FEASIBLE,
            job.best.solver,
            solution=job.best.solution,
            bound=job.best.bound,
            bound_source=job.best.solver if job.best.bound is not None else "",
            limit=Limit.CANCELLED if job.cancelled else Limit.TIME,
            message=reason + "; returning the best incumbent it reported",
        )
        return finalize(job.instance, raw, time.monotonic() - job.started)


def _budget_now(spec: SolveSpec) -> SolveSpec:
    """The spec a worker gets: for a caller with a deadline, the time since admission (parsing, the
    queue) is taken off the time limit."""
    if spec.admitted_at is None or spec.time_limit is None:
        return spec
    spent = time.monotonic() - spec.admitted_at
    return dataclasses.replace(spec, time_limit=max(0.0, spec.time_limit - spent))


def _warm_verification() -> None:
    from solvers import registry

    registry.warmup()


def _better(a: ProgressMsg, b: ProgressMsg) -> bool:
    if a.objective is None:
        return False
    return b.objective is None or a.objective < b.objective
