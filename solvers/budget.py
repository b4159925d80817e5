"""The budget/stop protocol every solver obeys: a deadline, a gap target, cancellation, progress.

A :class:`Budget` is created once per request (by the CLI or the service worker) and handed down.
Solvers must

* poll :meth:`Budget.should_stop` (cheap: a clock read and an ``Event.is_set``) between units of work;
  compiled (Numba) loops run in bounded chunks between polls, never unbounded;
* give CP-SAT / HiGHS the :meth:`Budget.remaining` seconds as their own limit *and* stop them from
  outside on cancellation (see :mod:`solvers.cpsat`, :mod:`solvers.highs`) because native time limits
  are not always honoured (e.g. inside HiGHS presolve);
* report every improved incumbent or bound through :meth:`Budget.report`, which the service turns into
  ``SolveStream`` messages;
* in ``deterministic`` mode, derive work limits (iterations, CP-SAT deterministic time) from the budget
  instead of reading the clock, and use ``seed``, so the same request gives the same answer.

A portfolio splits its budget with :meth:`Budget.child`: the child has an earlier (never later)
deadline but shares cancellation and progress reporting with the parent.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solvers.result import Limit


@dataclass(frozen=True)
class Progress:
    """An improvement found during a solve. ``solution`` is the family's Solution (or None for a bound)."""

    solver: str
    objective: float | None
    bound: float | None
    solution: Any
    elapsed_s: float


class Budget:
    def __init__(
        self,
        time_limit: float | None = None,
        *,
        gap_target: float = 0.0,
        cancel: threading.Event | None = None,
        workers: int = 1,
        seed: int = 0,
        deterministic: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        _start: float | None = None,
        _deadline: float | None = None,
    ):
        if time_limit is not None and not (time_limit >= 0):
            raise ValueError(f"time_limit must be >= 0, got {time_limit}")
        if not (gap_target >= 0):
            raise ValueError(f"gap_target must be >= 0, got {gap_target}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.start = time.monotonic() if _start is None else _start
        if _deadline is not None:
            self.deadline = _deadline
        else:
            self.deadline = math.inf if time_limit is None else self.start + time_limit
        self.gap_target = gap_target
        self.cancel = cancel if cancel is not None else threading.Event()
        self.workers = workers
        self.seed = seed
        self.deterministic = deterministic
        self.on_progress = on_progress

    # -- time -------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, 0 once cancelled)."""
        if self.cancel.is_set():
            return 0.0
        return max(0.0, self.deadline - time.monotonic())

    def time_limit(self, cap: float = 1e9) -> float:
        """Remaining seconds as a finite number for native solver limits."""
        return min(self.remaining(), cap)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def expired(self) -> bool:
        return self.cancel.is_set() or time.monotonic() >= self.deadline

    def should_stop(self, objective: float | None = None, bound: float | None = None) -> bool:
        """True when out of time, cancelled, or the incumbent is within the gap target of the bound."""
        if self.expired():
            return True
        if objective is not None and bound is not None:
            from solvers.result import gap

            g = gap(objective, bound)
            if g is not None and g <= self.gap_target:
                return True
        return False

    def limit_reason(self) -> Limit:
        """Which limit stopped the search (call after the search stopped before a proof)."""
        if self.cancel.is_set():
            return Limit.CANCELLED
        if time.monotonic() >= self.deadline:
            return Limit.TIME
        return Limit.NONE

    # -- composition ------------------------------------------------------------------------------
    def child(self, seconds: float | None = None, fraction: float | None = None) -> Budget:
        """A sub-budget ending at the earliest of the parent's deadline, now + seconds, and now +
        fraction of the remaining time. Shares cancellation, progress, seed and worker count."""
        now = time.monotonic()
        deadline = self.deadline
        if seconds is not None:
            deadline = min(deadline, now + max(0.0, seconds))
        if fraction is not None and math.isfinite(self.deadline):
            deadline = min(deadline, now + max(0.0, self.deadline - now) * fraction)
        return Budget(
            gap_target=self.gap_target,
            cancel=self.cancel,
            workers=self.workers,
            seed=self.seed,
            deterministic=self.deterministic,
            on_progress=self.on_progress,
            _start=self.start,
            _deadline=deadline,
        )

    def report(self, solver: str, objective: float | None, bound: float | None, solution: Any = None) -> None:
        """Tell whoever listens (SolveStream) about an improved incumbent or bound. Never raises."""
        if self.on_progress is None:
            return
        try:
            self.on_progress(Progress(solver, objective, bound, solution, self.elapsed()))
        except Exception:  # a broken listener must not kill the solve
            self.on_progress = None
