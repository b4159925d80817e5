"""Iterated local search for SMTT (kind ``heuristic``, name ``ls``).

Start: the hint if it is better than the best dispatching rule, else the best rule. Descent: the Numba
swap + insertion neighbourhood of :func:`solvers.smtt.kernels.descend` (O(n) delta evaluation per
insertion scan, O(j - i) per swap), run in chunks of :data:`CHUNK_WORK` elementary steps so the budget
is polled between chunks. When a local optimum is reached, a seeded perturbation
(:func:`~solvers.smtt.kernels.perturb`, a few random nearby swaps / insertions) restarts the descent
from the best sequence found so far (or from the current one when it is as good: plateau moves).

Determinism: the perturbation RNG is a xorshift state seeded from ``budget.seed``. In deterministic
mode the number of kicks is fixed in advance from the remaining budget (:data:`KICKS_PER_SECOND`
scaled by (40/n)^3 above 40 jobs, a conservative rate so the wall-clock deadline is not normally
reached first), so the same instance and seed give the same sequence. The clock is still a hard
stop: under heavy load a deterministic run stops early rather than overrun its deadline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Limit, Result
from solvers.smtt.bounds import best_bound
from solvers.smtt.common import cost, hint_sequence, result
from solvers.smtt.kernels import descend, perturb
from solvers.smtt.rules import best_rule

CHUNK_WORK = 200_000
KICKS_PER_SECOND = 1000.0  # deterministic mode, for n <= 40 (measured ~4000/s on one core)
MAX_KICKS_DETERMINISTIC = 1_000_000


def _descend_fully(seq: np.ndarray, inst: Instance, budget: Budget) -> bool:
    """Local search on ``seq`` in place to a local optimum; False if the budget stopped it first."""
    state = np.zeros(2, dtype=np.int64)
    while not descend(seq, inst.p, inst.d, inst.w, state, CHUNK_WORK):
        if budget.should_stop():
            return False
    return True


def local_search(
    inst: Instance,
    budget: Budget,
    start: np.ndarray,
    *,
    max_kicks: int | None = None,
    lower_bound: float = 0.0,
    stall_kicks: int | None = None,
    name: str = "ls",
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """ILS from ``start``; stops at the budget, after ``max_kicks`` kicks or ``stall_kicks`` kicks in a
    row without improvement, or when the cost reaches ``lower_bound``."""
    n = inst.n
    if budget.deterministic and max_kicks is None:
        # the whole allotment (deadline - start, to 0.1 s), not the clock-dependent remaining time, so
        # the kick count does not depend on how long the rules took
        total = budget.deadline - budget.start
        secs = 10.0 if math.isinf(total) else round(total, 1)
        scale = (40.0 / max(n, 40)) ** 3  # a descent pass costs O(n^3) (swap deltas)
        max_kicks = int(min(MAX_KICKS_DETERMINISTIC, secs * KICKS_PER_SECOND * scale))
    seed = (budget.seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) % 2**64 or 1
    rng = np.array([seed], dtype=np.uint64)
    best = start.copy()
    _descend_fully(best, inst, budget)
    best_cost = cost(inst, best)
    budget.report(name, float(best_cost), None, None)
    cur = best.copy()
    kicks = improvements = last_improvement = 0
    strength_max = max(2, min(8, n // 10))
    while best_cost > lower_bound and n >= 3:
        if max_kicks is not None and kicks >= max_kicks:
            break
        if stall_kicks is not None and kicks - last_improvement >= stall_kicks:
            break
        if budget.should_stop():
            break
        kicks += 1
        strength = 2 + int(rng[0] % np.uint64(strength_max - 1))
        perturb(cur, rng, strength)
        if not _descend_fully(cur, inst, budget):
            break
        c = cost(inst, cur)
        if c < best_cost:
            best, best_cost = cur.copy(), c
            improvements += 1
            last_improvement = kicks
            budget.report(name, float(best_cost), None, None)
        elif c > best_cost:
            cur[:] = best
    return best, best_cost, {"kicks": kicks, "improvements": improvements}


@register(PROBLEM, "ls", "heuristic", "iterated swap/insertion local search (Numba) from the best rule")
def run_ls(inst: Instance, budget: Budget, hint: Any) -> Result:
    start, start_cost, rule = best_rule(inst)
    h = hint_sequence(inst, hint)
    if h is not None and cost(inst, h) < start_cost:
        start, start_cost, rule = h, cost(inst, h), "hint"
    lb, _ = best_bound(inst)  # stop early only when the incumbent is proved optimal
    seq, c, stats = local_search(inst, budget, start, lower_bound=lb)
    stats.update({"start": rule, "start_cost": start_cost})
    lim = budget.limit_reason() if c > lb else Limit.NONE
    return result("ls", seq, limit=lim, stats=stats)
