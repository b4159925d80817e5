"""SMTT solvers: every solver against brute force on tiny instances, known optima, bounds, budget,
determinism, and the dominance rule the exact models rely on."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instances.smtt import generate
from models.smtt import Instance, Solution, evaluate, read_orlib_optima, read_orlib_wt
from solvers import Budget, Status, solve, solvers_for, warmup
from solvers.smtt.bounds import assignment_bound, best_bound, spt_edd_bound, trivial_bound
from solvers.smtt.common import cost
from solvers.smtt.dominance import precedence_pairs, precedes_matrix, repair

ALL = ["edd", "spt", "wspt", "mdd", "atc", "rules", "ls", "dynasearch", "ids", "dp", "cpsat", "mip", "auto"]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warmup(["smtt"])


def brute_force(inst: Instance) -> int:
    return min(int(evaluate(inst, Solution(s)).objective) for s in itertools.permutations(range(inst.n)))


def tiny_instances() -> list[Instance]:
    out = [generate(seed=s, n=n, tf=tf, rdd=0.6) for s, (n, tf) in enumerate([(5, 0.6), (6, 0.8), (7, 0.4)])]
    out.append(generate(seed=9, n=6, weighted=False))
    # zero-length jobs, zero weights and identical jobs: the corner cases of rules and dominance
    out.append(Instance.from_arrays([0, 3, 3, 2, 0, 4], [0, 2, 2, 1, 5, 3], [1, 2, 2, 0, 3, 1]))
    return out


def test_registry_lists_the_family_solvers() -> None:
    """All documented solvers are registered with their kinds; auto is the portfolio."""
    reg = solvers_for("smtt")
    assert set(ALL) <= set(reg)
    assert reg["auto"].kind == "portfolio"
    assert reg["cpsat"].kind == reg["mip"].kind == "exact"
    assert reg["ls"].kind == "heuristic"


@pytest.mark.parametrize("idx", range(5))
def test_every_solver_against_brute_force(idx: int) -> None:
    """Each solver's answer is feasible with objective >= optimum >= bound; exact ones and auto prove
    the optimum on these tiny instances."""
    inst = tiny_instances()[idx]
    opt = brute_force(inst)
    for name in ALL:
        # heuristics use their whole budget unless they meet the cheap bound: keep theirs short
        r = solve(inst, name, Budget(5.0 if name in ("cpsat", "mip", "auto", "dp") else 0.2))
        assert r.status in (Status.FEASIBLE, Status.OPTIMAL), (name, r.message)
        assert r.objective is not None and r.objective >= opt, name
        assert r.bound is not None and r.bound <= opt, (name, r.bound, opt)
        if name in ("cpsat", "mip", "auto", "dp"):
            assert r.status is Status.OPTIMAL and r.objective == opt, (name, r.objective, opt, r.message)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 9), min_size=n, max_size=n),
            st.lists(st.integers(0, 30), min_size=n, max_size=n),
            st.lists(st.integers(0, 4), min_size=n, max_size=n),
        )
    )
)
def test_bounds_dominance_and_ls_property(data: tuple[list[int], list[int], list[int]]) -> None:
    """On random tiny instances: every cheap bound <= optimum; some optimal sequence obeys all
    dominance precedences (the brute-force optimum over obeying sequences equals the optimum);
    repair never increases a sequence's cost and removes every inversion; ls is never worse than it
    starts and auto proves the optimum."""
    p, d, w = data
    inst = Instance.from_arrays(p, d, w)
    perms = list(itertools.permutations(range(inst.n)))
    costs = {s: int(evaluate(inst, Solution(s)).objective) for s in perms}
    opt = min(costs.values())
    assert trivial_bound(inst) <= opt
    assert spt_edd_bound(inst) <= opt
    assert assignment_bound(inst) <= opt
    assert best_bound(inst)[0] <= opt
    prec = precedes_matrix(inst)
    assert not (prec & prec.T).any()
    pairs = precedence_pairs(inst)

    def obeys(s: tuple[int, ...]) -> bool:
        pos = {j: k for k, j in enumerate(s)}
        return all(pos[i] < pos[j] for i, j in zip(*np.nonzero(prec), strict=True))

    assert min(c for s, c in costs.items() if obeys(s)) == opt
    for s in perms[:: max(1, len(perms) // 10)]:
        fixed = repair(inst, np.asarray(s, dtype=np.int64))
        assert obeys(tuple(int(x) for x in fixed))
        assert cost(inst, fixed) <= costs[s]
    assert all(prec[i, j] for i, j in pairs)
    r = solve(inst, "auto", Budget(5.0))
    assert r.status is Status.OPTIMAL and r.objective == opt


def test_assignment_bound_hand_value() -> None:
    """Assignment bound on p=(4,1), d=(0,0), w=(1,5): E = [[4,5],[5,1]]-based costs; min is job 1 first
    (5*1 + 1*5 = 10), which is also the optimum, so the bound is tight here."""
    inst = Instance.from_arrays([4, 1], [0, 0], [1, 5])
    assert assignment_bound(inst) == 10
    assert brute_force(inst) == 10
    assert trivial_bound(inst) == 4 + 5


@pytest.fixture(scope="module")
def wt40(shared_data: Path) -> tuple[list[Instance], list[int]]:
    t = shared_data / "tardiness"
    return read_orlib_wt((t / "wt40.txt").read_text(), 40, "wt40"), read_orlib_optima(
        (t / "wtopt40.txt").read_text()
    )


def test_known_optima_wt40_first_five(wt40: tuple[list[Instance], list[int]]) -> None:
    """On wt40 #1..#5 (published optima) auto's objective >= optimum >= bound, never a bound above it;
    the ILS incumbent reaches the optimum on these (they are easy for it)."""
    insts, opt = wt40
    for k in range(5):
        r = solve(insts[k], "auto", Budget(1.0))
        assert r.objective is not None and r.bound is not None
        assert r.objective >= opt[k] >= r.bound, (k, r.objective, opt[k], r.bound)
        assert r.objective == opt[k], (k, r.objective, opt[k])
        assert "discarded" not in r.message


def test_cpsat_bound_never_above_known_optimum(wt40: tuple[list[Instance], list[int]]) -> None:
    """cpsat alone (no hint, short budget) on two wt40 instances: objective >= optimum >= bound."""
    insts, opt = wt40
    for k in (5, 20):
        r = solve(insts[k], "cpsat", Budget(0.7))
        assert r.objective is not None and r.bound is not None
        assert r.objective >= opt[k] >= r.bound


def test_budget_is_honoured_on_wt100(shared_data: Path) -> None:
    """cpsat with 0.3 s and ls / auto with 0.2 s on a 100-job instance return within ~0.3 s extra."""
    insts = read_orlib_wt((shared_data / "tardiness" / "wt100.txt").read_text(), 100, "wt100")
    inst = insts[60]
    for name, limit in (("cpsat", 0.3), ("ls", 0.2), ("auto", 0.2)):
        t0 = time.perf_counter()
        r = solve(inst, name, Budget(limit))
        took = time.perf_counter() - t0
        assert took < limit + 0.3, (name, took)
        assert r.solution is not None and evaluate(inst, r.solution).feasible


def test_cancellation_stops_ls() -> None:
    """A cancelled budget stops the ILS at once with a feasible answer and limit CANCELLED."""
    inst = generate(seed=2, n=60, tf=0.8)
    b = Budget(30.0)
    b.cancel.set()
    t0 = time.perf_counter()
    r = solve(inst, "ls", b)
    assert time.perf_counter() - t0 < 1.0
    assert r.solution is not None and str(r.limit) == "CANCELLED"


def test_ls_is_deterministic_for_a_seed() -> None:
    """Deterministic mode: same instance and seed -> same sequence (fixed kick count, seeded RNG)."""
    inst = generate(seed=5, n=30, tf=0.6, rdd=0.4)
    a = solve(inst, "ls", Budget(1.0, deterministic=True, seed=11))
    b = solve(inst, "ls", Budget(1.0, deterministic=True, seed=11))
    assert a.solution == b.solution
    assert a.stats["kicks"] == b.stats["kicks"] > 0


def test_hint_is_used_and_never_lost() -> None:
    """Given the optimum as hint, cpsat and ls return a solution at least as good."""
    inst = generate(seed=4, n=7, tf=0.6)
    opt = brute_force(inst)
    best = min(itertools.permutations(range(7)), key=lambda s: evaluate(inst, Solution(s)).objective)
    for name in ("cpsat", "ls", "mip", "auto"):
        r = solve(inst, name, Budget(2.0 if name != "ls" else 0.2), hint=Solution(best))
        assert r.objective == opt, name


def test_mip_refuses_large_instances_without_error() -> None:
    """mip is a reference model for n <= 30: a larger instance gets NO_SOLUTION, not an error."""
    r = solve(generate(seed=1, n=31), "mip", Budget(1.0))
    assert r.status is Status.NO_SOLUTION


def test_progress_reports_improvements() -> None:
    """auto reports incumbents through budget.report, never worse than the final objective."""
    seen: list[float] = []
    inst = generate(seed=3, n=25, tf=0.8)
    b = Budget(1.0, on_progress=lambda pr: seen.append(pr.objective) if pr.objective is not None else None)
    r = solve(inst, "auto", b)
    assert seen and r.objective is not None and min(seen) >= r.objective


def test_ids_restarts_keep_the_best_and_stay_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny restart patience the two ILS runs restart often: the answer is a permutation whose
    recomputed cost is what ids reports, never worse than the best rule or than the descent of its
    sequence (the first run's start), and the same for the same seed; the restart starts are distinct
    permutations other than the first start."""
    from solvers.smtt import dynasearch
    from solvers.smtt.rules import best_rule

    inst = generate(seed=11, n=30, tf=0.8, rdd=0.4)
    start, rule_cost, _ = best_rule(inst)
    others = dynasearch.restart_starts(inst, start)
    keys = {s.tobytes() for s in others}
    assert len(keys) == len(others) and start.tobytes() not in keys
    assert all(sorted(s.tolist()) == list(range(inst.n)) for s in others)
    monkeypatch.setattr(dynasearch, "RESTART_MIN_KICKS", 1)
    monkeypatch.setattr(dynasearch, "RESTART_KICKS_PER_JOB", 0.1)
    runs = []
    for _ in range(2):
        seq, c, stats = dynasearch.iterated_dynasearch(inst, Budget(1.0, deterministic=True, seed=4), start)
        assert sorted(seq.tolist()) == list(range(inst.n))
        assert c == cost(inst, seq) <= rule_cost
        assert stats["restarts"] > 0 and stats["runs"] == 2
        runs.append((seq.tolist(), c, stats["kicks"]))
    assert runs[0] == runs[1]
    first = start.copy()
    assert runs[0][1] <= dynasearch.polled_descent(first, inst, Budget(1.0))
