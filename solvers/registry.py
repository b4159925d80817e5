"""Which solvers exist, and the one safe entry point :func:`solve` that checks every answer.

Each family's subpackage (``solvers/<problem>/``) registers its solvers with :func:`register` and its
cheap lower bound with :func:`register_bound` when imported. A solver is a function
``run(instance, budget, hint) -> Result`` where ``hint`` is an incumbent Solution to warm-start from (or
None). It fills ``solution``, ``bound``, ``bound_source``, ``limit`` and ``stats``; it may claim
``INFEASIBLE`` only with a proof. It does **not** decide OPTIMAL/FEASIBLE and does not compute the
objective: :func:`solve` does both, from the family's independent ``evaluate``:

1. run the solver under the budget (exceptions become ``ERROR`` results, never tracebacks);
2. re-evaluate the solution; an infeasible one is dropped with an ``ERROR`` naming the violations;
3. take the better of the solver's bound and the family's cheap bound; a bound above the verified
   objective is a bug in that bound: it is discarded, and the message says so;
4. derive status and gap with :mod:`solvers.result`'s single formula.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models import FAMILIES, family
from solvers.budget import Budget
from solvers.result import Limit, Result, Status, bounds_meet, gap, round_bound

log = logging.getLogger(__name__)

SolverFn = Callable[[Any, Budget, Any], Result]
BoundFn = Callable[[Any], tuple[float, str]]


@dataclass(frozen=True)
class SolverInfo:
    problem: str
    name: str
    kind: str  # "heuristic" | "exact" | "portfolio"
    description: str
    run: SolverFn
    #: a one-pass construction (a dispatching rule, the kube-scheduler replica): no search, no native
    #: solver, time linear-ish in the instance -- safe to run outside a worker on a tiny instance
    instant: bool = False


_SOLVERS: dict[str, dict[str, SolverInfo]] = {p: {} for p in FAMILIES}
_BOUNDS: dict[str, BoundFn] = {}
_WARMUPS: dict[str, list[Callable[[], None]]] = {}
_loaded: set[str] = set()


def register(
    problem: str, name: str, kind: str, description: str, *, instant: bool = False
) -> Callable[[SolverFn], SolverFn]:
    if kind not in ("heuristic", "exact", "portfolio"):
        raise ValueError(f"kind must be heuristic, exact or portfolio, got {kind!r}")
    if instant and kind != "heuristic":
        raise ValueError("only a heuristic can be instant")

    def deco(fn: SolverFn) -> SolverFn:
        _SOLVERS[problem][name] = SolverInfo(problem, name, kind, description, fn, instant)
        return fn

    return deco


def register_bound(problem: str) -> Callable[[BoundFn], BoundFn]:
    """The family's cheap lower bound ``fn(instance) -> (value, source)``, added to every answer."""

    def deco(fn: BoundFn) -> BoundFn:
        _BOUNDS[problem] = fn
        return fn

    return deco


def register_warmup(problem: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """A function that compiles some of the family's Numba kernels on a tiny input (run at worker
    start-up). A family may register several; all of them run."""

    def deco(fn: Callable[[], None]) -> Callable[[], None]:
        _WARMUPS.setdefault(problem, []).append(fn)
        return fn

    return deco


def _load(problem: str) -> None:
    if problem not in _loaded:
        family(problem)  # KeyError for unknown families
        importlib.import_module(f"solvers.{problem}")
        _loaded.add(problem)


def solvers_for(problem: str) -> dict[str, SolverInfo]:
    _load(problem)
    return dict(_SOLVERS[problem])


def all_solvers() -> list[SolverInfo]:
    out: list[SolverInfo] = []
    for problem in FAMILIES:
        out.extend(solvers_for(problem).values())
    return out


def warmup(problems: list[str] | None = None) -> dict[str, float]:
    """Compile every family's kernels now, so no request pays JIT time. Returns seconds per family."""
    times: dict[str, float] = {}
    for problem in problems or list(FAMILIES):
        _load(problem)
        t0 = time.perf_counter()
        for fn in _WARMUPS.get(problem, []):
            try:
                fn()
            except Exception:  # one family's broken warm-up must not take the others (or a server) down
                log.exception("warm-up %s of %s failed; its kernels will compile on first use", fn, problem)
        times[problem] = time.perf_counter() - t0
    return times


def cheap_bound(instance: Any) -> tuple[float, str]:
    _load(instance.PROBLEM)
    fn = _BOUNDS.get(instance.PROBLEM)
    return fn(instance) if fn else (-math.inf, "none")


def solve(instance: Any, solver: str = "auto", budget: Budget | None = None, hint: Any = None) -> Result:
    """Solve ``instance`` with the named solver under ``budget`` and return a verified :class:`Result`."""
    budget = budget or Budget()
    problem = instance.PROBLEM
    t0 = time.perf_counter()
    available = solvers_for(problem)
    if solver not in available:
        return Result(
            problem,
            Status.INVALID,
            solver,
            message=f"unknown solver {solver!r} for {problem}; available: {', '.join(sorted(available))}",
            instance=instance.name,
        )
    try:
        raw = available[solver].run(instance, budget, hint)
    except Exception as exc:  # the service must answer, never crash on a solver bug
        log.exception("solver %s failed on %s", solver, instance.name)
        return Result(
            problem,
            Status.ERROR,
            solver,
            message=f"solver {solver} failed: {type(exc).__name__}: {exc}",
            stats={"traceback": traceback.format_exc(limit=5)},
            wall_time_s=time.perf_counter() - t0,
            instance=instance.name,
        )
    return finalize(instance, raw, time.perf_counter() - t0)


def finalize(instance: Any, raw: Result, wall_time_s: float) -> Result:
    """Verify a solver's raw result and derive objective, bound, status and gap (see module doc)."""
    model = family(instance.PROBLEM)
    integral = bool(getattr(model, "INTEGRAL_OBJECTIVE", False))
    messages = [raw.message] if raw.message else []
    solution, objective, terms = raw.solution, None, dict(raw.terms)
    status = raw.status
    if status in (Status.INVALID, Status.ERROR):
        return raw.with_(wall_time_s=wall_time_s, instance=instance.name)
    if solution is not None:
        ev = model.evaluate(instance, solution)
        if not ev.feasible:
            shown = "; ".join(ev.violations[:5])
            log.error(
                "solver %s returned an infeasible solution for %s: %s", raw.solver, instance.name, shown
            )
            return raw.with_(
                status=Status.ERROR,
                solution=None,
                objective=None,
                gap=None,
                message=f"solver {raw.solver} returned a solution that fails the checker: {shown}",
                wall_time_s=wall_time_s,
                instance=instance.name,
            )
        objective, terms = ev.objective, dict(ev.terms)

    bound, source = raw.bound, raw.bound_source
    cb, cb_source = cheap_bound(instance)
    if bound is None or (cb is not None and cb > bound):
        bound, source = cb, cb_source
    bound = round_bound(bound, integral)
    if objective is not None and bound is not None and bound > objective + 1e-6 * max(1.0, abs(objective)):
        messages.append(f"discarded bound {bound} from {source}: above the verified objective {objective}")
        log.error("invalid bound %s (%s) above objective %s on %s", bound, source, objective, instance.name)
        bound, source = round_bound(cb, integral), cb_source
        if bound is not None and bound > objective:
            bound, source = -math.inf, "none"

    if solution is not None and objective is not None:
        status = Status.OPTIMAL if bound is not None and bounds_meet(objective, bound) else Status.FEASIBLE
    elif status not in (Status.INFEASIBLE,):
        status = Status.NO_SOLUTION
    limit = raw.limit
    if status is Status.OPTIMAL:
        limit = Limit.NONE
    return raw.with_(
        status=status,
        objective=objective,
        bound=bound,
        bound_source=source,
        gap=gap(objective, bound),
        solution=solution,
        terms=terms,
        limit=limit,
        message="; ".join(messages),
        wall_time_s=wall_time_s,
        instance=instance.name,
    )
