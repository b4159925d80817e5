"""The worker pool (service/workers.py) answering at the caller's deadline on behalf of a solver that has
not stopped, without disturbing the worker's next job."""

from __future__ import annotations

import asyncio
import time

from instances import smtt as gen
from models import smtt
from service.workers import SolveSpec, WorkerPool
from solvers.result import Status


def test_pool_answers_at_the_deadline_with_the_incumbent_and_keeps_serving() -> None:
    """A solve with a 30 s budget but an answer due after 1.5 s (as if the solver overran an RPC
    deadline) is answered at about 1.5 s with the best verified incumbent it had streamed; the solver is
    told to stop, and a job queued behind it on the same (only) worker starts only once the worker is
    free and is answered normally. A job still queued at its own deadline is answered NO_SOLUTION."""
    big = gen.generate(seed=5, n=400)
    small = gen.generate(seed=1, n=8)

    async def run() -> None:
        pool = WorkerPool(1)
        await pool.start()
        try:
            t0 = time.monotonic()
            first = asyncio.ensure_future(
                pool.submit(big, "auto", SolveSpec(time_limit=30, answer_by=t0 + 1.5))
            )
            starved = asyncio.ensure_future(
                pool.submit(small, "auto", SolveSpec(time_limit=5, answer_by=t0 + 0.5))
            )
            after = asyncio.ensure_future(pool.submit(small, "auto", SolveSpec(time_limit=5)))
            res = await first
            elapsed = time.monotonic() - t0
            assert 1.4 <= elapsed < 2.5, elapsed
            assert res.status is Status.FEASIBLE and "deadline" in res.message
            assert res.solution is not None and smtt.evaluate(big, res.solution).feasible
            assert res.objective == smtt.evaluate(big, res.solution).objective
            assert res.bound is not None and res.bound <= res.objective and res.gap is not None
            late = await starved
            assert late.status is Status.NO_SOLUTION and "queued" in late.message
            ok = await after
            assert ok.status is Status.OPTIMAL and ok.solution is not None
            assert smtt.evaluate(small, ok.solution).feasible
        finally:
            await pool.close()

    asyncio.run(run())


def test_memory_limit_fails_the_hungry_solve_alone() -> None:
    """With a per-worker address-space limit, a solve that needs more (the HiGHS LP of a 100 x 20,000
    assignment needs about 1.4 GB; the limit is 1,100 MB) is answered ERROR naming the memory failure;
    the worker, or its replacement, then serves the next request normally."""
    from instances import task_allocation as ta_gen

    big = ta_gen.generate(seed=1, num_agents=100, num_tasks=20000)
    small = ta_gen.generate(seed=1)

    async def run() -> None:
        pool = WorkerPool(1, memory_limit_mb=1100)
        await pool.start()
        try:
            res = await pool.submit(big, "lp", SolveSpec(time_limit=60))
            assert res.status is Status.ERROR and res.solution is None
            assert "MemoryError" in res.message or "died" in res.message, res.message
            ok = await pool.submit(small, "auto", SolveSpec(time_limit=5))
            assert ok.status is Status.OPTIMAL
        finally:
            await pool.close()

    asyncio.run(run())
