"""Task allocation: tabu search, MIP-based LNS and the ``allot bench gap`` module."""

from __future__ import annotations

import itertools
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instances.task_allocation import generate
from models.task_allocation import Instance, Solution, evaluate, read_best_known, read_orlib_gap
from solvers import Budget, Status, solve
from solvers.registry import warmup
from solvers.task_allocation import bench, tabu
from solvers.task_allocation._data import arrays, assignment_objective, is_feasible


def brute_force(inst: Instance) -> float | None:
    """Optimum by enumeration (None when infeasible)."""
    best = math.inf
    for x in itertools.product(range(inst.num_agents), repeat=inst.num_tasks):
        ev = evaluate(inst, Solution(x))
        if ev.feasible:
            best = min(best, ev.objective)
    return None if math.isinf(best) else best


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup(["task_allocation"])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000), m=st.integers(2, 3), n=st.integers(3, 7), kind=st.sampled_from(["C", "D"])
)
def test_tabu_and_lns_never_beat_brute_force(seed: int, m: int, n: int, kind: str) -> None:
    """On tiny instances tabu and lns return feasible answers no better than the brute-force optimum
    (and nothing when the instance is infeasible)."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=1.0)
    opt = brute_force(inst)
    for name in ("tabu", "lns"):
        r = solve(inst, name, Budget(1, deterministic=True))
        if opt is None:
            assert r.solution is None, name
            continue
        if r.solution is not None:
            assert evaluate(inst, r.solution).feasible, name
            assert r.objective is not None and r.objective >= opt, name


def test_tabu_reaches_feasibility_from_an_infeasible_start() -> None:
    """The penalty search started with every task on agent 0 (grossly overloaded) still returns a
    feasible assignment on a tight Chu-Beasley D-type instance."""
    inst = generate(3, num_agents=5, num_tasks=40, kind="D", tightness=0.8)
    a = arrays(inst)
    start = np.zeros(a.n, dtype=np.int64)
    assert not is_feasible(a, start)
    best = tabu.search(a, start, Budget(1.0, deterministic=True, seed=1))
    assert best is not None and is_feasible(a, best)
    assert evaluate(inst, Solution.from_array(best)).feasible


def test_tabu_improves_on_greedy(shared_data: Path) -> None:
    """On Chu-Beasley c05100 tabu (1 s) ends no worse than greedy and at or above the best known."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["chu1997/c05100"]
    [inst] = read_orlib_gap((shared_data / "gap/chu1997/c05100").read_text(), "c05100")
    g = solve(inst, "greedy", Budget(1))
    t = solve(inst, "tabu", Budget(1))
    assert g.objective is not None and t.objective is not None
    assert best <= t.objective <= g.objective


@pytest.mark.parametrize("name", ["tabu", "lns"])
def test_deterministic_for_a_seed(name: str) -> None:
    """Deterministic mode with the same seed gives the same assignment twice."""
    inst = generate(5, num_agents=6, num_tasks=30, kind="C", tightness=0.85)
    r1 = solve(inst, name, Budget(20, deterministic=True, seed=3))
    r2 = solve(inst, name, Budget(20, deterministic=True, seed=3))
    assert r1.solution is not None and r1.solution == r2.solution


@pytest.mark.parametrize("name", ["tabu", "lns"])
def test_budget_honoured_on_large_instance(shared_data: Path, name: str) -> None:
    """With 0.5 s on Yagiura e801600 (80 x 1600) tabu and lns return within ~1.2 s with a feasible answer."""
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/e801600").read_text(), "e801600")
    t = time.perf_counter()
    r = solve(inst, name, Budget(0.5))
    assert time.perf_counter() - t < 1.2
    assert r.solution is not None and evaluate(inst, r.solution).feasible


def test_lns_keeps_a_feasible_hint_and_never_worsens_it() -> None:
    """lns started from a feasible hint returns an assignment at most as costly as the hint."""
    inst = generate(11, num_agents=8, num_tasks=60, kind="C", tightness=0.8)
    g = solve(inst, "greedy", Budget(1))
    assert g.solution is not None and g.objective is not None
    r = solve(inst, "lns", Budget(2, deterministic=True), hint=g.solution)
    assert r.solution is not None and r.objective is not None and r.objective <= g.objective


def test_makespan_goes_to_the_load_heuristics() -> None:
    """tabu and lns accept the makespan objective (through greedy) and return feasible answers."""
    inst = generate(4, num_agents=4, num_tasks=25, objective="makespan")
    for name in ("tabu", "lns"):
        r = solve(inst, name, Budget(1))
        assert r.status is Status.FEASIBLE or r.status is Status.OPTIMAL
        assert r.solution is not None and evaluate(inst, r.solution).feasible


def test_candidate_agents_are_the_cheapest_allowed() -> None:
    """candidate_agents lists each task's cheapest allowed agents in order and never a forbidden one."""
    doc = generate(2, num_agents=4, num_tasks=6).to_dict()
    doc["forbidden"] = [[0, 0], [1, 0]]
    inst = Instance.from_dict(doc)
    a = arrays(inst)
    cand = tabu.candidate_agents(a, 3)
    for j in range(a.n):
        row = [i for i in cand[j] if i >= 0]
        costs = [a.obj[i, j] for i in row]
        assert costs == sorted(costs)
        assert all(a.allowed[i, j] for i in row)
        allowed = np.flatnonzero(a.allowed[:, j])
        assert set(row) <= set(allowed.tolist()) and len(row) == min(3, len(allowed))
    assert 0 not in cand[0] and 1 not in cand[0]


def test_makespan_variant_of_a_gap_file(shared_data: Path) -> None:
    """bench.makespan_variant keeps the resource matrix as processing times and drops capacities/costs."""
    [inst] = read_orlib_gap((shared_data / "gap/cattrysse1994/gap1-0").read_text(), "gap1-0")
    mk = bench.makespan_variant(inst)
    assert mk.objective == "makespan" and mk.costs is None and mk.capacitated == ()
    assert mk.resources[0].demands == inst.resources[0].demands
    x = Solution(tuple(j % inst.num_agents for j in range(inst.num_tasks)))
    loads = [0] * inst.num_agents
    for j, i in enumerate(x.assignment):
        loads[i] += inst.resources[0].demands[i][j]
    assert evaluate(mk, x).objective == max(loads)


def test_bench_gap_table(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`allot bench gap` on a one-instance copy of the data prints a per-set row: 1 instance, best
    known found, proved, 0 gap; --instances filters; an unknown set is an error (exit 2)."""
    (tmp_path / "gap/cattrysse1994").mkdir(parents=True)
    shutil.copy(shared_data / "gap/best-known.csv", tmp_path / "gap/best-known.csv")
    for name in ("gap1-0", "gap1-1"):
        shutil.copy(shared_data / "gap/cattrysse1994" / name, tmp_path / "gap/cattrysse1994" / name)
    rc = bench.main(["--data", str(tmp_path), "--sets", "gap", "--instances", "gap1-0$", "--time-limit", "5"])
    out = capsys.readouterr().out
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("cattrysse1994"))
    assert row.split()[1:6] == ["1", "1", "1", "0.000%", "0.000%"]
    assert bench.main(["--data", str(tmp_path), "--sets", "nope"]) == 2


def test_tabu_result_matches_its_reported_objective() -> None:
    """The assignment tabu returns has the objective the solver-side arrays compute (no stale state)."""
    inst = generate(8, num_agents=5, num_tasks=50, kind="D", tightness=0.85)
    a = arrays(inst)
    r = solve(inst, "tabu", Budget(1, deterministic=True))
    assert r.solution is not None and r.objective is not None
    x = np.asarray(r.solution.assignment)
    assert math.isclose(assignment_objective(a, x), r.objective)


def test_knapsack_dp_matches_enumeration() -> None:
    """knapsack_max returns the enumerated optimum of small 0-1 knapsacks and flags a feasible item set
    achieving it (items with non-positive profit are never taken)."""
    from solvers.task_allocation import _kernels as K

    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 9))
        profit = rng.integers(-5, 20, n).astype(np.float64)
        weight = rng.integers(0, 12, n).astype(np.int64)
        cap = int(rng.integers(0, 30))
        take = np.zeros(n, dtype=np.int64)
        got = K.knapsack_max(profit, weight, cap, take)
        best = max(
            sum(profit[j] for j in range(n) if s >> j & 1)
            for s in range(1 << n)
            if sum(weight[j] for j in range(n) if s >> j & 1) <= cap
        )
        assert got == pytest.approx(max(best, 0.0))
        assert weight @ take <= cap and profit @ take == pytest.approx(got)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000), m=st.integers(2, 3), n=st.integers(3, 7), kind=st.sampled_from(["C", "D"])
)
def test_lagrangian_bound_below_brute_force(seed: int, m: int, n: int, kind: str) -> None:
    """The Lagrangian bound never exceeds the brute-force optimum, and is at least the cheap bound."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=1.0, forbidden_fraction=0.2)
    opt = brute_force(inst)
    r = solve(inst, "lagrange", Budget(2, deterministic=True))
    if opt is None or r.bound is None:
        return
    assert r.bound <= opt + 1e-9
    cheap = float(np.where(arrays(inst).allowed, arrays(inst).obj, np.inf).min(axis=0).sum())
    assert r.bound >= cheap - 1e-6


@pytest.mark.parametrize("name", ["chu1997/c05100", "chu1997/d05100", "cattrysse1994/gap8-0"])
def test_lagrangian_bound_on_known_optima(shared_data: Path, name: str) -> None:
    """On instances with proved optima the Lagrangian bound is <= the optimum and >= the LP bound - 1
    (the assignment-relaxed dual is at least as strong as the LP up to subgradient convergence)."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, status = table[name]
    assert status == "optimal"
    [inst] = read_orlib_gap((shared_data / "gap" / name).read_text(), name)
    lag = solve(inst, "lagrange", Budget(4))
    lp = solve(inst, "lp", Budget(4))
    assert lag.bound is not None and lp.bound is not None
    assert lag.bound <= best
    assert lag.bound >= lp.bound - 1


def test_lptabu_bound_and_solution(shared_data: Path) -> None:
    """lptabu on Chu-Beasley d05100: its LP bound is <= the proved optimum <= its feasible objective."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["chu1997/d05100"]
    [inst] = read_orlib_gap((shared_data / "gap/chu1997/d05100").read_text(), "d05100")
    r = solve(inst, "lptabu", Budget(2))
    assert r.solution is not None and evaluate(inst, r.solution).feasible
    assert r.bound is not None and r.objective is not None
    assert r.bound <= best <= r.objective


def test_auto_on_a_large_instance_uses_the_lp_start(shared_data: Path) -> None:
    """auto on Yagiura c10400 (4000 < m*n pairs) returns a feasible answer whose bound (LP at least)
    is <= the best known and whose objective is >= it."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    _lb, best, _ = table["yagiura2004/c10400"]
    [inst] = read_orlib_gap((shared_data / "gap/yagiura2004/c10400").read_text(), "c10400")
    r = solve(inst, "auto", Budget(4))
    assert r.solution is not None and r.objective is not None and r.bound is not None
    assert r.bound <= best <= r.objective


@pytest.mark.slow
@pytest.mark.parametrize("group", ["cattrysse1994", "chu1997"])
def test_auto_bounds_and_objectives_on_whole_sets(shared_data: Path, group: str) -> None:
    """Slow: auto (5 s each) on every OR-Library / Chu-Beasley instance is feasible with
    bound <= best known <= objective, and every OPTIMAL claim equals the best known value."""
    table = read_best_known((shared_data / "gap/best-known.csv").read_text())
    for path in sorted((shared_data / "gap" / group).iterdir()):
        [inst] = read_orlib_gap(path.read_text(), path.name)
        _lb, best, _ = table[f"{group}/{path.name}"]
        r = solve(inst, "auto", Budget(5))
        assert r.solution is not None and r.objective is not None, path.name
        assert r.objective >= best, path.name
        assert r.bound is not None and r.bound <= best, path.name
        if r.status is Status.OPTIMAL:
            assert r.objective == best, path.name


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000), m=st.integers(2, 3), n=st.integers(4, 7), kind=st.sampled_from(["C", "D"])
)
def test_reduced_cost_fixing_keeps_the_optimum(seed: int, m: int, n: int, kind: str) -> None:
    """After lptabu has stored its LP reduced costs, the MIP warm-started from the worst or from an
    optimal hint fixes pairs (an optimal hint lets it fix the most) and still proves exactly the
    brute-force optimum, with bound <= optimum: a wrongly fixed pair would show as a wrong proof."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=1.0)
    opt = brute_force(inst)
    if opt is None:
        return
    feasible = [x for x in itertools.product(range(m), repeat=n) if evaluate(inst, Solution(x)).feasible]
    by_cost = sorted(feasible, key=lambda x: evaluate(inst, Solution(x)).objective)
    for hint in (by_cost[-1], by_cost[0]):  # worst hint: little fixing; an optimal one: the most
        lp = solve(inst, "lptabu", Budget(1, deterministic=True))
        assert lp.bound is not None and lp.bound <= opt
        r = solve(inst, "mip", Budget(5, deterministic=True), hint=Solution(hint))
        assert r.bound is not None and r.bound <= opt
        assert r.status is Status.OPTIMAL and r.objective == opt


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000), m=st.integers(2, 3), n=st.integers(3, 6), kind=st.sampled_from(["C", "D"])
)
def test_forced_pair_lagrangian_bounds_below_brute_force(seed: int, m: int, n: int, kind: str) -> None:
    """For subgradient multipliers and for random ones, L(u) matches the bound kernel, and the bound
    with a pair forced in (out) never exceeds the cheapest feasible assignment using (avoiding) it;
    the fixing mask keeps every pair of an optimal assignment when ub = optimum + 1."""
    from solvers.task_allocation import _kernels as K
    from solvers.task_allocation import lagrange

    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=1.0, forbidden_fraction=0.2)
    a = arrays(inst)
    if not lagrange.applicable(a):
        return
    feasible = [x for x in itertools.product(range(m), repeat=n) if evaluate(inst, Solution(x)).feasible]
    if not feasible:
        return
    obj = {x: evaluate(inst, Solution(x)).objective for x in feasible}
    mus: list[np.ndarray] = []
    lagrange.lagrangian_bound(a, Budget(2, deterministic=True), None, None, mus)
    rng = np.random.default_rng(seed)
    mus.append(rng.uniform(0, 2 * float(a.obj.max()), n))
    dem = np.ascontiguousarray(a.dem[0])
    cap = np.minimum(a.cap[0], dem.sum(axis=1)).astype(np.int64)
    for u in mus:
        L, one, zero = K.lagrangian_forced(u, a.obj, dem, cap, a.allowed)
        x = np.zeros((m, n), np.int64)
        value = K.lagrangian_value(u, a.obj, dem, cap, a.allowed, x)
        assert value == pytest.approx(L)
        for i in range(m):
            for j in range(n):
                using = [v for s, v in obj.items() if s[j] == i]
                avoiding = [v for s, v in obj.items() if s[j] != i]
                if using:
                    assert one[i, j] <= min(using) + 1e-6
                if avoiding:
                    assert zero[i, j] <= min(avoiding) + 1e-6
        opt = min(obj.values())
        keep = lagrange.fixing_mask(a, u, opt + 1)
        assert any(keep[list(s), np.arange(n)].all() for s, v in obj.items() if v == opt)


NO_COMPILE = r"""
from models.task_allocation import read_orlib_gap
from instances.task_allocation import generate
registry.warmup(["task_allocation"])
before = dispatchers()
[chu] = read_orlib_gap(Path(sys.argv[1]).read_text(), "d05100")
instances = [chu, generate(3, num_agents=4, num_tasks=30, kind="D", tightness=1.0)]
for inst in instances:
    for name in ("greedy", "tabu", "lptabu", "lns", "bnb-lns", "lagrange", "bnb", "mip", "auto"):
        solve(inst, name, Budget(0.5))
"""


def test_no_task_allocation_solver_compiles_inside_a_solve(shared_data: Path) -> None:
    """Every task-allocation solver, not only the ``auto`` path the shared warm-up test takes, runs on
    kernels the family's warm-up compiled (a tabu target passed as an int once compiled a second
    signature inside the first solve, ~10 s on a loaded machine)."""
    from test_warmup import grown_signatures  # tests/ is on sys.path (pytest rootdir import)

    grown = grown_signatures(NO_COMPILE, str(shared_data / "gap/chu1997/d05100"))
    assert grown == {}, f"compiled during a solve (missing from warm-up): {grown}"


def test_highs_run_abandoned_when_it_ignores_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_highs_within stops waiting for a HiGHS run that does not return after its deadline (as
    HiGHS does inside presolve) and answers None; the mip solver then answers without a solution
    rather than late."""
    import threading

    from solvers.task_allocation import exact

    finished = threading.Event()

    def stuck(h: object, budget: Budget, *, is_mip: bool = True) -> None:
        finished.wait(30)  # ignores the budget until the test releases it

    monkeypatch.setattr(exact, "run_highs", stuck)
    try:
        assert exact.run_highs_within(object(), Budget(0.05), is_mip=True) is None
        inst = generate(5, num_agents=3, num_tasks=8)
        r = exact.run_mip(inst, Budget(0.05))
        assert r.solution is None and r.status is Status.NO_SOLUTION
        assert r.stats["model_status"] == "abandoned after the deadline"
    finally:
        finished.set()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000), m=st.integers(2, 3), n=st.integers(4, 7), kind=st.sampled_from(["C", "D"])
)
def test_lagrangian_fixing_keeps_the_optimum(seed: int, m: int, n: int, kind: str) -> None:
    """After ``lagrange`` has stored its multipliers, the MIP warm-started from the worst or from an
    optimal hint (which lets it fix the most pairs) still proves exactly the brute-force optimum."""
    inst = generate(seed, num_agents=m, num_tasks=n, kind=kind, tightness=1.0)
    opt = brute_force(inst)
    if opt is None:
        return
    feasible = [x for x in itertools.product(range(m), repeat=n) if evaluate(inst, Solution(x)).feasible]
    by_cost = sorted(feasible, key=lambda x: evaluate(inst, Solution(x)).objective)
    for hint in (by_cost[-1], by_cost[0]):
        lag = solve(inst, "lagrange", Budget(1, deterministic=True), hint=Solution(hint))
        assert lag.bound is None or lag.bound <= opt
        r = solve(inst, "mip", Budget(5, deterministic=True), hint=Solution(hint))
        assert r.bound is not None and r.bound <= opt
        assert r.status is Status.OPTIMAL and r.objective == opt
