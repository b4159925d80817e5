"""Asynchronous solve jobs in a durable embedded store (SQLite in WAL mode).

Lifecycle: ``SubmitJob`` validates the request exactly like ``Solve`` (INVALID_ARGUMENT with field
violations), stores it as QUEUED and hands it to the worker pool with its priority; the job becomes
RUNNING when it starts, its latest progress (objective, bound, gap) is kept while it runs, and it ends
DONE with the verified result, CANCELLED (with the best incumbent found, if any) or FAILED.

Durability: the request itself is stored (serialised ``SolveRequest``), so a restart loses no accepted
job. On start-up the manager re-queues every job still QUEUED, and re-runs every job that was RUNNING
from the beginning, saying so in its ``message`` ("restarted after a server restart"). Writes use WAL
with ``synchronous=NORMAL``: a committed job survives a process crash (a power loss may lose the last
transactions, the documented trade-off of that mode).

Idempotency: a non-empty ``request_id`` is unique in the store; resubmitting it returns the job already
accepted instead of solving twice. Retention: finished jobs older than ``retention_s`` are deleted at
start-up and then hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service import wire
from service._proto.allot.v1 import allot_pb2 as pb
from service.workers import ProgressMsg, SolveSpec, WorkerPool
from solvers.result import Result, Status

log = logging.getLogger(__name__)

FINISHED = (pb.JOB_DONE, pb.JOB_CANCELLED, pb.JOB_FAILED)
PROGRESS_WRITE_INTERVAL_S = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    request_id TEXT UNIQUE,
    state INTEGER NOT NULL,
    problem TEXT NOT NULL,
    priority INTEGER NOT NULL,
    request BLOB NOT NULL,
    submitted_at REAL NOT NULL,
    started_at REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL DEFAULT 0,
    progress BLOB,
    result BLOB,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_submitted ON jobs(submitted_at);
"""

_COLUMNS = (
    "id, request_id, state, problem, priority, submitted_at, started_at, finished_at, "
    "progress, result, message"
)


class JobStore:
    """The SQLite table of jobs. All calls are short transactions made from the event loop."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def insert(self, job: pb.Job, request: pb.SolveRequest) -> None:
        self.db.execute(
            "INSERT INTO jobs (id, request_id, state, problem, priority, request, submitted_at, message)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.request_id or None,
                job.state,
                job.problem,
                job.priority,
                request.SerializeToString(),
                job.submitted_at,
                job.message,
            ),
        )

    def update(self, job_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def get(self, job_id: str) -> pb.Job | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def by_request_id(self, request_id: str) -> pb.Job | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        return None if row is None else _job(row)

    def request(self, job_id: str) -> pb.SolveRequest:
        (blob,) = self.db.execute("SELECT request FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return pb.SolveRequest.FromString(blob)

    def list_jobs(self, state: int = 0, limit: int = 100) -> list[pb.Job]:
        if state:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE state = ? ORDER BY submitted_at DESC LIMIT ?",
                (state, limit),
            )
        else:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM jobs ORDER BY submitted_at DESC LIMIT ?", (limit,)
            )
        return [_job(r) for r in rows]

    def unfinished(self) -> list[pb.Job]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE state IN (?, ?) ORDER BY priority DESC, submitted_at",
            (pb.JOB_QUEUED, pb.JOB_RUNNING),
        )
        return [_job(r) for r in rows]

    def purge(self, older_than: float) -> int:
        cur = self.db.execute(
            f"DELETE FROM jobs WHERE state IN ({', '.join('?' * len(FINISHED))}) AND finished_at < ?",
            (*FINISHED, older_than),
        )
        return cur.rowcount


def _job(row: tuple[Any, ...]) -> pb.Job:
    jid, rid, state, problem, prio, sub, start, fin, progress, result, message = row
    job = pb.Job(
        id=jid,
        request_id=rid or "",
        state=state,
        problem=problem,
        priority=prio,
        submitted_at=sub,
        started_at=start,
        finished_at=fin,
        message=message,
    )
    if progress:
        job.progress.ParseFromString(progress)
    if result:
        job.result.ParseFromString(result)
    return job


class JobManager:
    """Runs stored jobs on the worker pool and answers the job RPCs."""

    def __init__(
        self,
        store: JobStore,
        pool: WorkerPool,
        prepare: Callable[[pb.SolveRequest], tuple[Any, str, SolveSpec]],
        *,
        retention_s: float = 7 * 24 * 3600,
        on_result: Callable[[Result], None] | None = None,
    ):
        self.on_result = on_result
        self.store = store
        self.pool = pool
        self.prepare = prepare  # validates; raises the server's InvalidRequest
        self.retention_s = retention_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pool_jobs: dict[str, Any] = {}
        self._cancelled: set[str] = set()
        self._done: dict[str, asyncio.Event] = {}
        self._janitor: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> int:
        """Purge old jobs, then resume every unfinished one. Returns how many were resumed."""
        purged = self.store.purge(time.time() - self.retention_s)
        if purged:
            log.info("retention: removed %d finished jobs", purged)
        resumed = 0
        for job in self.store.unfinished():
            message = "restarted after a server restart" if job.state == pb.JOB_RUNNING else job.message
            try:
                instance, solver, spec = self.prepare(self.store.request(job.id))
            except Exception as exc:  # e.g. a solver removed since: the job fails, with the reason
                self.store.update(
                    job.id, state=pb.JOB_FAILED, finished_at=time.time(), message=str(exc)[:2000]
                )
                continue
            self.store.update(job.id, state=pb.JOB_QUEUED, started_at=0.0, message=message)
            self._launch(job.id, instance, solver, spec, job.priority)
            resumed += 1
        self._janitor = asyncio.create_task(self._purge_hourly())
        return resumed

    async def close(self) -> None:
        """Stop the jobs' bookkeeping before the pool closes: unfinished jobs stay QUEUED/RUNNING in the
        store and are resumed by the next start."""
        if self._janitor is not None:
            self._janitor.cancel()
        for t in list(self._tasks.values()):
            t.cancel()
        for t in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _purge_hourly(self) -> None:
        while True:
            await asyncio.sleep(3600)
            self.store.purge(time.time() - self.retention_s)

    # -- RPC operations ----------------------------------------------------------------------------
    def submit(self, req: pb.SubmitJobRequest, prepared: tuple[Any, str, SolveSpec]) -> pb.Job:
        if req.request_id:
            existing = self.store.by_request_id(req.request_id)
            if existing is not None:
                return existing
        instance, solver, spec = prepared
        job = pb.Job(
            id=uuid.uuid4().hex,
            request_id=req.request_id,
            state=pb.JOB_QUEUED,
            problem=instance.PROBLEM,
            priority=req.priority,
            submitted_at=time.time(),
        )
        try:
            self.store.insert(job, req.solve)
        except sqlite3.IntegrityError:  # the same request_id raced in: return the winner
            existing = self.store.by_request_id(req.request_id)
            if existing is not None:
                return existing
            raise
        self._launch(job.id, instance, solver, spec, req.priority)
        return job

    def get(self, job_id: str) -> pb.Job | None:
        return self.store.get(job_id)

    async def wait(self, job_id: str, timeout_s: float) -> pb.Job | None:
        job = self.store.get(job_id)
        if job is None or job.state in FINISHED:
            return job
        event = self._done.get(job_id)
        if event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout_s)
        return self.store.get(job_id)

    async def cancel(self, job_id: str) -> pb.Job | None:
        job = self.store.get(job_id)
        if job is None or job.state in FINISHED:
            return job
        pool_job = self._pool_jobs.get(job_id)
        task = self._tasks.get(job_id)
        if pool_job is not None and task is not None:
            self._cancelled.add(job_id)
            self.pool.cancel(pool_job)  # the worker answers with its best incumbent
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(task)
        return self.store.get(job_id)

    def list_jobs(self, state: int, limit: int) -> list[pb.Job]:
        return self.store.list_jobs(state, limit)

    # -- running -----------------------------------------------------------------------------------
    def _launch(self, job_id: str, instance: Any, solver: str, spec: SolveSpec, priority: int) -> None:
        self._done[job_id] = asyncio.Event()
        self._tasks[job_id] = asyncio.create_task(self._run(job_id, instance, solver, spec, priority))

    async def _run(self, job_id: str, instance: Any, solver: str, spec: SolveSpec, priority: int) -> None:
        last_write = [0.0]
        best: list[ProgressMsg | None] = [None]

        def on_progress(p: ProgressMsg) -> None:
            if last_write[0] == 0.0:  # first sign of life: the job is running
                self.store.update(job_id, state=pb.JOB_RUNNING, started_at=time.time())
            if p.solution is not None:
                best[0] = p
            now = time.monotonic()
            if now - last_write[0] >= PROGRESS_WRITE_INTERVAL_S:
                last_write[0] = now
                self.store.update(
                    job_id, progress=wire.progress_to_pb(instance.PROBLEM, p).SerializeToString()
                )

        pool_job = self.pool.enqueue(instance, solver, spec, on_progress, priority=priority)
        self._pool_jobs[job_id] = pool_job
        try:
            res = await asyncio.shield(pool_job.future)
        except asyncio.CancelledError:  # server shutting down: leave the job resumable in the store
            self.pool.cancel(pool_job)
            raise
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self.store.update(job_id, state=pb.JOB_FAILED, finished_at=time.time(), message=str(exc)[:2000])
            self._finish(job_id)
            return
        if job_id in self._cancelled:
            self.store.update(
                job_id,
                state=pb.JOB_CANCELLED,
                finished_at=time.time(),
                result=wire.result_to_pb(res).SerializeToString(),
                message="cancelled by the client",
            )
            self._finish(job_id)
            return
        if self.on_result is not None:
            self.on_result(res)
        state = pb.JOB_FAILED if res.status is Status.ERROR else pb.JOB_DONE
        fields: dict[str, Any] = {"state": state, "finished_at": time.time()}
        fields["result"] = wire.result_to_pb(res).SerializeToString()
        if state == pb.JOB_FAILED:
            fields["message"] = res.message[:2000]
        self.store.update(job_id, **fields)  # a "restarted ..." message stays
        self._finish(job_id)

    def _finish(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        self._pool_jobs.pop(job_id, None)
        self._cancelled.discard(job_id)
        event = self._done.pop(job_id, None)
        if event is not None:
            event.set()
