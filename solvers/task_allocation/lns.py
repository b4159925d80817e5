"""``lns``: MIP-based large-neighbourhood search for the GAP (cost objective).

Method
    Start from the hint, or from the ``tabu`` incumbent (given a fifth of the budget). Repeatedly pick
    a small set S of agents -- one at random, plus the k-1 agents that appear most often among the
    cheapest agents (:func:`.tabu.candidate_agents`) of its tasks, so that the chosen agents can trade
    tasks -- free every task currently on S, and re-optimise those tasks over S exactly with the HiGHS
    MIP of :mod:`.exact` (warm-started with the current sub-assignment, ``mip_rel_gap`` 0). The rest
    of the assignment is untouched, so the sub-problem is a GAP on |S| agents with the agents' full
    capacities, every solution of it is feasible for the whole instance, and the incumbent never gets
    worse. k adapts: it grows while sub-MIPs are proved quickly and shrinks when one hits its time
    cap (``SUB_LIMIT`` seconds). This exploits what the measurements say HiGHS is good at (proving
    10-agent, 50-task GAPs in about a second) on instances far too large for it as a whole.

Budget and determinism
    Every sub-MIP gets a child budget (at most ``SUB_LIMIT`` s) and the budget is polled between them.
    Agents are drawn from ``numpy.random.default_rng(budget.seed)``; in deterministic mode HiGHS runs
    with one thread, a sub-MIP stops on a node limit (``DET_NODES``) instead of its time cap, k adapts
    on proofs only, and the number of sub-MIPs is fixed (``DET_ITERATIONS``), so the answer is
    repeatable unless the overall budget (or the 10x safety time cap of a sub-MIP) expires first.

The makespan objective is passed to ``tabu`` (which hands it to ``greedy``).

``bnb-lns``: the same search with the Lagrangian branch and bound as the sub-solver (one resource)
    Type D instances are where every other method here stalls: at d40400's usual tabu end point 24450
    = LP bound 24347.6 + 72 of reduced cost on the pairs used + 30 of unused capacity, while the best
    known solution, 24357, leaves under 10 for both -- 351 of the 400 tasks already sit on an agent of
    reduced cost 0, and what is missing is packing every agent to within a unit of its capacity. HiGHS
    and CP-SAT do not find such packings (CP-SAT, 2 workers, 30 s on the 1,900 pairs of reduced cost
    <= 2 from the 24450 start: 24449); the knapsack DP in :mod:`.bnb` does. So each neighbourhood --
    k related agents and every task on them -- is restricted to a *core*: the pairs of LP reduced
    cost (:func:`.lagrange.capacity_relaxation`) at most a threshold that keeps ``CORE_PAIRS_PER_TASK``
    pairs per task on average, plus the incumbent's pairs. :func:`.bnb.improve` computes the
    neighbourhood's own knapsack Lagrangian bound -- when it shows the current sub-assignment optimal,
    the neighbourhood is done in a few milliseconds -- and otherwise searches below the sub-assignment's
    cost, depth first, for at most ``SUB_NODES`` nodes.

    * Agents: one at random, then the agents with the most core pairs to the tasks already chosen,
      each agent's count scaled by a random factor in [1, 1 + ``NOISE``]; k = ``TARGET_TASKS`` / (tasks
      per agent) within [``K_MIN``, ``K_MAX``].
    * A neighbourhood already searched is skipped until one of its agents' task sets changes (agent
      versions); the search ends when ``IDLE_DRAWS`` x m draws in a row hit searched ones.
    * Up to ``WHOLE_MAX_TASKS`` tasks (or when k reaches m) the one neighbourhood is the whole
      instance; cores of ``WHOLE_CORE_SIZES`` pairs per task take turns, each searched for
      ``WHOLE_NODES`` nodes (different cores lead the depth-first search to different assignments).
      Prototyped with an
      8 s search after 1 s of lptabu on Chu-Beasley d10200 / d20100 / d20200: 12433-12437 /
      6195-6215 / 12260-12267 over four settings of cores and node limits, where lptabu alone
      ends at 12450 / 6228-6242 / 12287-12291 however long it runs.

    Measured on d40400 from an 8 s lptabu start (24450-24462), 40 s, k = 8, at load 1.0: core by
    threshold 2 (1,900 pairs) 24428 / 24433 with relatedness noise 0.5 and no memory, 24424 / 24426
    with memory, 24420 / 24422 with noise 1, 24417 / 24429 with noise 2 (seeds 1 / 2); k = 10 and
    12: 24434 / 24435 and 24433; threshold 3: 24430 / 24439; the 4 / 6 lowest reduced costs of each
    task instead of one threshold 24439 / 24443 and 24425 / 24438; 8 s lptabu then this on d60900 /
    d801600 / d201600: 54697 -> 54670, 97240 -> 97181, 97929 -> 97925 (k = 8 on d201600 searched only
    13 neighbourhoods of 640 tasks, hence the task target). The neighbourhood's multipliers matter: warm
    starting them from the whole instance's knapsack multipliers with 30-100 steps (cheaper roots)
    ended at 24441-24454; stopping their subgradient at a step factor of 1e-2 or 1e-3 instead of 1e-4
    (cheaper roots, weaker bounds) left fewer neighbourhoods settled at the root and ended 24424 /
    24436 and 24425 / 24429. Nodes per neighbourhood, 30 s from one 24450 start, seeds 1-3: 100 ->
    24432 / 24427, 300 -> 24422 / 24425, 1,000 -> 24418 / 24423 / 24420, 3,000 -> 24424 / 24425 /
    24422; on d801600 (25 s from 97239) 300 -> 97173 / 97189, 1,000 -> 97179 / 97179. On type C the
    core neighbourhoods are almost all optimal at their root (c801600: 12 of 55,915 searched):
    nothing to gain there, and little time lost.
"""

from __future__ import annotations

import time

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import bnb, lagrange, tabu
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible
from solvers.task_allocation.exact import _build_highs, _decode, run_highs_within

#: seconds a single sub-MIP may take
SUB_LIMIT = 1.0
#: number of sub-MIPs in deterministic mode
DET_ITERATIONS = 60
#: branch-and-bound node limit of a sub-MIP in deterministic mode
DET_NODES = 300


def _subproblem(a: Arrays, agents: np.ndarray, tasks: np.ndarray) -> Arrays:
    return Arrays(
        len(agents),
        len(tasks),
        False,
        np.ascontiguousarray(a.obj[np.ix_(agents, tasks)]),
        np.ascontiguousarray(a.dem[:, agents][:, :, tasks]),
        np.ascontiguousarray(a.cap[:, agents]),
        np.ascontiguousarray(a.allowed[np.ix_(agents, tasks)]),
        (),
    )


def search(a: Arrays, x: np.ndarray, budget: Budget, stats: dict) -> np.ndarray:
    """Improve the feasible ``x`` (a copy is returned) by exact re-optimisation of agent subsets."""
    import highspy

    x = x.copy()
    rng = np.random.default_rng(budget.seed)
    cand = tabu.candidate_agents(a, min(a.m, 8))
    k = min(a.m, 4)
    iters = improvements = 0
    cur = assignment_objective(a, x)
    while not budget.should_stop():
        if budget.deterministic and iters >= DET_ITERATIONS:
            break
        if k >= a.m and iters > 0 and stats.get("lns_whole_proved"):
            break  # the whole instance was solved exactly: nothing left to improve
        iters += 1
        i0 = int(rng.integers(a.m))
        score = np.zeros(a.m)
        mine = cand[x == i0].ravel()
        np.add.at(score, mine[mine >= 0], 1.0)
        score += rng.random(a.m) * 0.5
        score[i0] = -np.inf
        others = np.argsort(-score, kind="stable")[: k - 1]
        agents = np.sort(np.concatenate(([i0], others))).astype(np.int64)
        tasks = np.flatnonzero(np.isin(x, agents))
        if len(tasks) == 0:
            continue
        sub = _subproblem(a, agents, tasks)
        # deterministic mode: a node limit (repeatable) stops a sub-MIP, the time cap is only a safety net
        sb = budget.child(seconds=SUB_LIMIT * (10 if budget.deterministic else 1))
        t = time.perf_counter()
        h, pa, pt = _build_highs(sub, sb, integral=True)
        if budget.deterministic:
            h.setOptionValue("threads", 1)
            h.setOptionValue("mip_max_nodes", DET_NODES)
        local = np.searchsorted(agents, x[tasks])
        sol = highspy.HighsSolution()
        sol.col_value = (local[pt] == pa).astype(np.float64).tolist()
        h.setSolution(sol)
        got = run_highs_within(h, sb, is_mip=True)
        dt = time.perf_counter() - t
        if got is None:  # overran its cap (e.g. inside presolve): smaller subsets from now on
            k = max(2, k - 1)
            continue
        out = got
        proved = out.model_status == highspy.HighsModelStatus.kOptimal
        if proved and k >= a.m:
            stats["lns_whole_proved"] = True
        if out.x is not None:
            y = _decode(sub, pa, pt, out.x[: len(pa)])
            if y.min() >= 0:
                cand_x = x.copy()
                cand_x[tasks] = agents[y]
                v = assignment_objective(a, cand_x)
                if v < cur - 1e-9 and is_feasible(a, cand_x):
                    x, cur = cand_x, v
                    improvements += 1
                    budget.report("lns", cur, None, Solution.from_array(x))
        if proved and (dt < 0.25 * SUB_LIMIT or budget.deterministic):
            k = min(a.m, k + 1)
        elif not proved and k > 2:
            k -= 1
    stats.update(lns_iterations=iters, lns_improvements=improvements, lns_final_k=k)
    return x


def _feasible_hint(a: Arrays, hint: Solution | None) -> np.ndarray | None:
    from solvers.task_allocation.exact import _hint_assignment

    x = _hint_assignment(a, hint)
    return x if x is not None and is_feasible(a, x) else None


@register(PROBLEM, "lns", "heuristic", "tabu incumbent, then exact HiGHS re-optimisation of agent subsets")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans or a.makespan:
        return tabu.run(inst, budget, hint).with_(solver="lns")
    stats: dict = {}
    x = _feasible_hint(a, hint)
    if x is None:
        x = tabu.improve(inst, budget.child(fraction=0.2), hint, stats)
    if x is not None and not budget.should_stop():
        x = search(a, x, budget, stats)
    return Result(
        PROBLEM,
        Status.FEASIBLE if x is not None else Status.NO_SOLUTION,
        "lns",
        solution=None if x is None else Solution.from_array(x),
        limit=budget.limit_reason(),
        stats=stats,
    )


#: bnb-lns (see the module doc): core pairs per task, tasks per neighbourhood, agents per neighbourhood,
#: relatedness noise, nodes and root seconds per neighbourhood, draws in a row on searched
#: neighbourhoods (x m) before the search ends, neighbourhoods in deterministic mode
CORE_PAIRS_PER_TASK = 5.0
TARGET_TASKS = 120
K_MIN, K_MAX = 3, 8
NOISE = 1.0
SUB_NODES = 1000
SUB_ROOT_S = 0.2
IDLE_DRAWS = 20
DET_BNB_ITERATIONS = 40
#: instances of at most this many tasks are one neighbourhood, the whole instance; then the core sizes
#: (pairs per task) that take turns, and the nodes and root seconds of each search
WHOLE_MAX_TASKS = 200
WHOLE_CORE_SIZES = (3.0, 5.0, 2.0, 7.0)
WHOLE_NODES = 3000
WHOLE_ROOT_S = 0.5


def bnb_lns_applicable(a: Arrays) -> bool:
    """One capacitated resource and the cost objective: what :func:`.bnb.improve` handles. Unlike
    ``bnb`` itself there is no limit on the whole instance's knapsack tables (the neighbourhoods are
    about ``TARGET_TASKS`` tasks on at most ``K_MAX`` agents)."""
    return not a.makespan and a.dem.shape[0] == 1 and not a.orphans


def core_pairs(a: Arrays, rc: np.ndarray, per_task: float = CORE_PAIRS_PER_TASK) -> np.ndarray:
    """The allowed pairs of reduced cost ``rc`` at most the threshold that keeps ``per_task`` pairs per
    task on average (ties at the threshold all stay)."""
    vals = np.sort(rc[a.allowed])
    if len(vals) == 0:
        return a.allowed.copy()
    theta = vals[min(len(vals) - 1, int(per_task * a.n))]
    return a.allowed & (rc <= theta)


def _related_agents(core: np.ndarray, x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """One agent at random, then k - 1 more, each time the one with the most core pairs to the tasks on
    the agents chosen so far (counts scaled by random factors in [1, 1 + NOISE])."""
    m = core.shape[0]
    chosen = [int(rng.integers(m))]
    on = np.isin(x, chosen)
    while len(chosen) < k:
        score = core[:, on].sum(axis=1) * (1.0 + NOISE * rng.random(m))
        score[chosen] = -1.0
        i = int(np.argmax(score))
        chosen.append(i)
        on |= x == i
    return np.sort(np.asarray(chosen, dtype=np.int64))


def search_bnb(a: Arrays, x: np.ndarray, rc: np.ndarray, budget: Budget, stats: dict) -> np.ndarray:
    """Improve the feasible ``x`` (a copy is returned) by neighbourhoods of related agents searched by the
    Lagrangian branch and bound on the reduced-cost core (module doc); one capacitated resource."""
    from dataclasses import replace

    x = x.copy()
    rng = np.random.default_rng(budget.seed)
    k = int(min(a.m, max(K_MIN, min(K_MAX, round(TARGET_TASKS * a.m / max(a.n, 1))))))
    whole = k >= a.m or a.n <= WHOLE_MAX_TASKS  # one neighbourhood, the whole instance: cores take turns
    cores = [core_pairs(a, rc, size) for size in (WHOLE_CORE_SIZES if whole else (CORE_PAIRS_PER_TASK,))]
    nodes, root_s = (WHOLE_NODES, WHOLE_ROOT_S) if whole else (SUB_NODES, SUB_ROOT_S)
    version = np.zeros(a.m, np.int64)
    searched: set[tuple[int, tuple[tuple[int, int], ...]]] = set()
    cur = assignment_objective(a, x)
    draws = tried = at_root = improvements = idle = 0
    while not budget.should_stop() and idle < IDLE_DRAWS * a.m:
        if budget.deterministic and tried >= DET_BNB_ITERATIONS:
            break
        turn = draws % len(cores)
        core = cores[turn]
        draws += 1
        agents = np.arange(a.m, dtype=np.int64) if whole else _related_agents(core, x, k, rng)
        key = (turn, tuple((int(i), int(version[i])) for i in agents))
        if key in searched:
            idle += 1
            continue
        idle = 0
        searched.add(key)
        tasks = np.flatnonzero(np.isin(x, agents))
        if len(tasks) == 0:
            continue
        tried += 1
        mask = core.copy()
        mask[x, np.arange(a.n)] = True  # the incumbent's pairs: the sub-assignment stays a solution
        sub = _subproblem(replace(a, allowed=mask), agents, tasks)
        local = np.searchsorted(agents, x[tasks])
        y, optimal = bnb.improve(sub, local, budget, nodes, root_s)
        at_root += optimal
        if y is None:
            continue
        cand_x = x.copy()
        cand_x[tasks] = agents[y]
        v = assignment_objective(a, cand_x)
        if v < cur - 1e-9 and is_feasible(a, cand_x):
            moved = tasks[cand_x[tasks] != x[tasks]]
            version[np.union1d(x[moved], cand_x[moved])] += 1  # the agents whose task sets changed
            x, cur = cand_x, v
            improvements += 1
            budget.report("bnb-lns", cur, None, Solution.from_array(x))
    stats.update(
        bnb_lns_draws=draws,
        bnb_lns_searched=tried,
        bnb_lns_optimal_at_root=at_root,
        bnb_lns_improvements=improvements,
        bnb_lns_k=k,
        bnb_lns_whole=whole,
        bnb_lns_core_pairs=int(cores[0].sum()),
    )
    return x


@register(PROBLEM, "bnb-lns", "heuristic", "lptabu, then agent subsets re-solved by Lagrangian B&B on a core")
def run_bnb_lns(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    """Start from the hint (else ``lptabu`` with a third of the budget), take the LP reduced costs that
    ``lptabu`` left (else compute them) and run :func:`search_bnb`. Instances ``bnb`` does not handle
    (several resources, makespan) go to ``lns``."""
    from solvers.task_allocation.exact import known_lp, remember_lp

    a = arrays(inst)
    if not bnb_lns_applicable(a):
        return run(inst, budget, hint).with_(solver="bnb-lns")
    stats: dict = {}
    x = _feasible_hint(a, hint)
    bound = None
    if x is None:
        first = tabu.run_lp_tabu(inst, budget.child(fraction=1 / 3), hint)
        stats.update(first.stats)
        bound = first.bound
        if first.solution is not None:
            x = np.asarray(first.solution.assignment, dtype=np.int64)
    lp = known_lp(a)
    if lp is None and x is not None and not budget.should_stop():
        got = lagrange.capacity_relaxation(a, budget.child(fraction=0.2), assignment_objective(a, x), stats)
        if got is not None:
            remember_lp(a, got[0], got[3])
            lp = (got[0], got[3])
    if x is not None and lp is not None and not budget.should_stop():
        x = search_bnb(a, x, lp[1], budget, stats)
    if lp is not None:
        bound = lp[0] if bound is None else max(bound, lp[0])
    return Result(
        PROBLEM,
        Status.FEASIBLE if x is not None else Status.NO_SOLUTION,
        "bnb-lns",
        solution=None if x is None else Solution.from_array(x),
        bound=bound,
        bound_source="Lagrangian relaxation of the capacities (LP bound)" if bound is not None else "",
        limit=budget.limit_reason(),
        stats=stats,
    )
