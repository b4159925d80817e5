"""The shared solver contract: gap formula, status derivation, budget, portfolio, answer verification."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import pytest

import models
from models import smtt
from service import wire
from solvers import Budget, Limit, Result, Status, finalize, gap
from solvers.portfolio import Step, run_portfolio
from solvers.result import bounds_meet, round_bound

ROOT = Path(__file__).resolve().parent.parent
TINY = smtt.Instance.from_dict({"processing_times": [3, 2, 4], "due_dates": [2, 6, 4], "weights": [2, 1, 3]})


def _cost(seq: list[int]) -> float:
    return smtt.evaluate(TINY, smtt.Solution(tuple(seq))).objective


def test_gap_formula() -> None:
    """0 when the bounds meet (including 0 = 0); relative to max(|objective|, 1) otherwise; inf without
    a bound; None without an objective."""
    assert gap(0.0, 0.0) == 0.0
    assert gap(10.0, 10.0) == 0.0
    assert gap(10.0, 8.0) == pytest.approx(0.2)
    assert gap(3.0, 0.0) == pytest.approx(3.0 / 3.0)
    assert gap(0.5, 0.0) == pytest.approx(0.5)  # denominator floored at 1
    assert gap(5.0, None) == math.inf
    assert gap(5.0, -math.inf) == math.inf
    assert gap(None, 3.0) is None


def test_bounds_meet_and_rounding() -> None:
    """Integer objectives: a fractional bound rounds up (12.2 proves 13), float noise does not."""
    assert round_bound(12.2, True) == 13.0
    assert round_bound(12.0000000001, True) == 12.0
    assert round_bound(12.2, False) == 12.2
    assert bounds_meet(13.0, round_bound(12.2, True) or 0)
    assert not bounds_meet(13.0, 12.9)


def test_budget_deadline_child_and_cancel() -> None:
    """A child never outlives its parent, shares cancellation, and should_stop honours the gap target."""
    b = Budget(1.0, gap_target=0.1)
    c = b.child(seconds=10.0)
    assert c.deadline <= b.deadline
    half = b.child(fraction=0.5)
    assert half.remaining() <= 0.5 + 1e-3
    assert not b.should_stop(100.0, 80.0)
    assert b.should_stop(100.0, 95.0)
    b.cancel.set()
    assert c.expired() and c.remaining() == 0.0 and c.limit_reason() is Limit.CANCELLED
    assert Budget(0.0).limit_reason() is Limit.TIME
    with pytest.raises(ValueError):
        Budget(-1.0)


def test_finalize_derives_status_from_verified_objective() -> None:
    """Objective comes from evaluate, never from the solver; OPTIMAL only when the bound meets it."""
    best = min(_cost([a, b, c]) for a in range(3) for b in range(3) for c in range(3) if len({a, b, c}) == 3)
    sol = smtt.Solution((0, 1, 2))
    raw = Result(
        "smtt", Status.FEASIBLE, "test", objective=-123.0, solution=sol, bound=best, bound_source="x"
    )
    res = finalize(TINY, raw, 0.0)
    assert res.objective == _cost([0, 1, 2])
    assert res.status is (Status.OPTIMAL if res.objective == best else Status.FEASIBLE)
    assert res.gap == gap(res.objective, res.bound)


def test_finalize_drops_infeasible_solution() -> None:
    """A solution that fails the checker is never returned: ERROR naming the violation."""
    raw = Result("smtt", Status.FEASIBLE, "test", solution=smtt.Solution((0, 0, 1)))
    res = finalize(TINY, raw, 0.0)
    assert res.status is Status.ERROR and res.solution is None and "checker" in res.message


def test_finalize_discards_a_bound_above_the_objective() -> None:
    """A bound above a verified objective is a bug in that bound: discarded (and said), never OPTIMAL."""
    sol = smtt.Solution((0, 1, 2))
    obj = _cost([0, 1, 2])
    raw = Result("smtt", Status.FEASIBLE, "test", solution=sol, bound=obj + 50, bound_source="broken")
    res = finalize(TINY, raw, 0.0)
    assert res.bound is not None and res.bound <= obj
    assert "discarded bound" in res.message
    assert res.bound_source != "broken"


def test_portfolio_first_step_runs_on_spent_budget_and_keeps_best() -> None:
    """Even with no time left the first (fast) step answers; later steps are skipped; the best verified
    incumbent and the best bound are kept with their sources."""
    calls: list[str] = []

    def step(name: str, seq: tuple[int, ...], bound: float | None):
        def run(inst, budget, hint):
            calls.append(name)
            return Result("smtt", Status.FEASIBLE, name, solution=smtt.Solution(seq), bound=bound)

        return run

    spent = Budget(0.0)
    res = run_portfolio(
        TINY, spent, [Step("a", step("a", (2, 0, 1), 1.0)), Step("b", step("b", (0, 1, 2), 2.0))]
    )
    assert calls == ["a"] and res.solution == smtt.Solution((2, 0, 1))
    calls.clear()
    worse, better = sorted([(0, 1, 2), (2, 0, 1)], key=lambda s: -_cost(list(s)))
    res = run_portfolio(
        TINY, Budget(5), [Step("a", step("a", better, 1.0)), Step("b", step("b", worse, 2.0))]
    )
    assert calls == ["a", "b"]
    assert res.solution == smtt.Solution(better) and res.bound == 2.0 and res.bound_source == "b"
    assert res.solver == "auto(a)"


def test_portfolio_keeps_the_incumbent_when_a_later_step_raises() -> None:
    """A step that raises (here MemoryError, as under a worker's address-space limit) is recorded in
    the stats; the incumbent and bound of the earlier step survive and the next step still runs."""
    calls: list[str] = []

    def good(name: str, seq: tuple[int, ...], bound: float):
        def run(inst, budget, hint):
            calls.append(name)
            return Result("smtt", Status.FEASIBLE, name, solution=smtt.Solution(seq), bound=bound)

        return run

    def broken(inst, budget, hint):
        calls.append("broken")
        raise MemoryError("arc table")

    best = min([(0, 1, 2), (2, 0, 1)], key=lambda s: _cost(list(s)))
    res = run_portfolio(
        TINY,
        Budget(5),
        [Step("a", good("a", best, 1.0)), Step("x", broken), Step("c", good("c", best, 2.0))],
    )
    assert calls == ["a", "broken", "c"]
    assert res.solution == smtt.Solution(best) and res.solver == "auto(a)"
    assert res.bound == 2.0 and res.bound_source == "c" and res.status is not Status.ERROR
    assert res.stats["x.error"] == "MemoryError: arc table"


def test_budget_cancellation_stops_a_running_cpsat_solve() -> None:
    """CP-SAT is stopped from outside within a fraction of a second when the budget is cancelled."""
    from instances import smtt as gen
    from solvers import solve

    inst = gen.generate(seed=1, n=200)
    b = Budget(30)
    threading.Timer(0.5, b.cancel.set).start()
    t0 = time.monotonic()
    res = solve(inst, "cpsat", b)
    assert time.monotonic() - t0 < 3.0
    assert res.limit is Limit.CANCELLED


@pytest.mark.parametrize(
    "sample", sorted((ROOT / "instances" / "samples").glob("*.json")), ids=lambda p: p.stem
)
def test_wire_round_trip(sample: Path) -> None:
    """native JSON -> typed proto message -> native JSON gives back the same instance."""
    doc = json.loads(sample.read_text())
    inst = models.instance_from_dict(doc)
    again = wire.instance_from_pb(wire.instance_to_pb(inst.to_dict()))
    assert again == inst
