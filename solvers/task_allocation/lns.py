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
"""

from __future__ import annotations

import time

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import tabu
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


@register(PROBLEM, "lns", "heuristic", "tabu incumbent, then exact HiGHS re-optimisation of agent subsets")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    if a.orphans or a.makespan:
        return tabu.run(inst, budget, hint).with_(solver="lns")
    stats: dict = {}
    x = None
    if hint is not None and len(hint.assignment) == a.n:
        h = np.asarray(hint.assignment, dtype=np.int64)
        if is_feasible(a, h):
            x = h
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
