"""``lagrange``: the Lagrangian bound of the GAP with the assignment constraints relaxed (cost objective,
one capacitated resource).

Bound
    For multipliers u (one per task, free in sign because Σ_i x_ij = 1 is an equality),

        L(u) = Σ_j u_j + Σ_i min { Σ_j (c_ij - u_j) x_ij : Σ_j d_ij x_ij <= b_i, x_ij ∈ {0,1},
                                                          x_ij = 0 on forbidden / oversize pairs }.

    Proof that L(u) <= OPT: any feasible assignment x* satisfies the capacity constraints, so its
    restriction to agent i is feasible for agent i's knapsack; hence Σ_i min(...) <= Σ_ij (c_ij - u_j)
    x*_ij = OPT - Σ_j u_j (each task assigned exactly once), i.e. L(u) <= OPT. Each agent's minimum is
    -(max 0-1 knapsack with profits u_j - c_ij), solved exactly by dynamic programming over the
    capacity. Because the subproblems lack the integrality property, max_u L(u) is at least the LP bound
    (Ross & Soland 1975, Fisher 1981). To stay valid under floating-point error the reported value is
    lowered by 1e-7 * max(1, |L|) before the registry rounds it up to an integer.
Multipliers
    Start at u_j = the cheapest allowed cost of task j (then L(u) is the cheap bound), then subgradient
    steps u += λ (UB - L(u)) g / ||g||² with g_j = 1 - Σ_i x_ij(u); λ starts at 2 and halves after 15
    iterations without a better bound. UB is the hint's objective (else a sum of the largest costs).
    The budget is polled between iterations. The method only applies when one resource is capacitated
    and Σ_i n·b_i <= ``MAX_DP_WORK`` (each iteration costs that many DP steps); otherwise (or for the
    makespan objective) no bound is returned.
"""

from __future__ import annotations

import math

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import _kernels as K
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible

#: skip instances whose knapsack DPs would take more steps than this per iteration
MAX_DP_WORK = 30_000_000
#: subgradient iterations in deterministic mode (otherwise until the budget or convergence)
DET_ITERATIONS = 300


def applicable(a: Arrays) -> bool:
    if a.makespan or a.dem.shape[0] != 1 or a.orphans:
        return False
    return float(a.n) * float(np.minimum(a.cap[0], a.dem[0].sum(axis=1)).sum()) <= MAX_DP_WORK


def lagrangian_bound(
    a: Arrays,
    budget: Budget,
    ub: float | None = None,
    stats: dict | None = None,
    multipliers: list[np.ndarray] | None = None,
) -> float | None:
    """The best L(u) found (a proved lower bound), or None when the method does not apply; the u
    that gave it is appended to ``multipliers`` when a list is passed."""
    if not applicable(a):
        return None
    cost = a.obj
    dem = np.ascontiguousarray(a.dem[0])
    cap = np.minimum(a.cap[0], dem.sum(axis=1)).astype(np.int64)  # a capacity above the total never binds
    allowed = a.allowed
    masked = np.where(allowed, cost, np.inf)
    u = masked.min(axis=0).astype(np.float64)
    if ub is None or not math.isfinite(ub):
        ub = float(np.where(allowed, cost, -np.inf).max(axis=0).sum()) + 1.0
    x = np.zeros((a.m, a.n), dtype=np.int64)
    best = -math.inf
    best_u = u
    lam, idle, it = 2.0, 0, 0
    while not budget.should_stop(ub, best if math.isfinite(best) else None):
        if budget.deterministic and it >= DET_ITERATIONS:
            break
        it += 1
        val = K.lagrangian_value(u, cost, dem, cap, allowed, x)
        if val > best + 1e-9:
            best, best_u, idle = val, u, 0
            budget.report("lagrange", None, best)
        else:
            idle += 1
            if idle >= 15:
                lam, idle = lam / 2, 0
        g = 1.0 - x.sum(axis=0)
        norm = float(g @ g)
        if norm == 0 or lam < 1e-4 or math.ceil(best - 1e-6) >= ub:
            break  # the relaxed solution is an assignment (L = its cost) or steps vanished
        u = u + lam * max(ub - val, 1e-6 * max(1.0, abs(ub))) * g / norm
    if stats is not None:
        stats.update(lagrange_iterations=it, lagrange_step=lam)
    if not math.isfinite(best):
        return None
    if multipliers is not None:
        multipliers.append(best_u)
    return best - 1e-7 * max(1.0, abs(best))


@register(PROBLEM, "lagrange", "exact", "Lagrangian bound (assignment relaxed, knapsack DP, subgradient)")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    a = arrays(inst)
    ub = None
    if hint is not None and len(hint.assignment) == a.n:
        h = np.asarray(hint.assignment, dtype=np.int64)
        if h.min() >= 0 and h.max() < a.m and is_feasible(a, h):
            ub = assignment_objective(a, h)
    stats: dict = {}
    mus: list[np.ndarray] = []
    bound = lagrangian_bound(a, budget, ub, stats, mus)
    if mus and bound is not None:
        from solvers.task_allocation.exact import remember_multipliers

        remember_multipliers(a, mus[0], bound)  # for the MIP's forced-pair fixing
    return Result(
        PROBLEM,
        Status.NO_SOLUTION,
        "lagrange",
        bound=bound,
        bound_source="Lagrangian relaxation (knapsack subproblems)" if bound is not None else "",
        limit=budget.limit_reason(),
        stats=stats,
    )


def warmup() -> None:
    """Compile the knapsack and Lagrangian kernels (bound and forced-pair bounds) on a 2 x 3 instance."""
    cost = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 1.0]])
    dem = np.array([[1, 1, 1], [1, 1, 1]], dtype=np.int64)
    x = np.zeros((2, 3), dtype=np.int64)
    cap = np.array([2, 2], np.int64)
    ok = np.ones((2, 3), np.bool_)
    K.lagrangian_value(np.ones(3), cost, dem, cap, ok, x)
    K.lagrangian_forced(np.full(3, 3.0), cost, dem, cap, ok)
    a = Arrays(2, 3, False, cost, dem[None], cap[None], ok, ())
    capacity_relaxation(a, Budget(deterministic=True))


def fixing_mask(a: Arrays, u: np.ndarray, ub: float) -> np.ndarray:
    """The allowed pairs that an assignment cheaper than ``ub`` may still use, by Lagrangian bounds with
    one pair forced (:func:`._kernels.lagrangian_forced`): a pair whose forced-in bound exceeds
    ub - 1 is in no such assignment (costs are integers), and when the forced-out bound of (i, j)
    exceeds ub - 1 every such assignment puts j on i, so j's other pairs go. Costs must be integral;
    a 1e-6 relative margin absorbs floating-point error in the bounds."""
    dem = np.ascontiguousarray(a.dem[0])
    cap = np.minimum(a.cap[0], dem.sum(axis=1)).astype(np.int64)
    _L, one, zero = K.lagrangian_forced(np.asarray(u, dtype=np.float64), a.obj, dem, cap, a.allowed)
    limit = ub - 1 + 1e-6 * max(1.0, abs(ub))
    keep = a.allowed & (one <= limit)
    must = a.allowed & (zero > limit)
    forced = must.any(axis=0)
    keep[:, forced] &= must[:, forced]
    return keep


# -- capacities relaxed: the LP bound by subgradient, without an LP solve ------------------------------

#: subgradient iterations per kernel call (the budget is polled between calls)
CAP_CHUNK = 50
#: iterations in deterministic mode
CAP_DET_ITERATIONS = 600
#: stop after this many iterations (λ has usually vanished long before)
CAP_MAX_ITERATIONS = 5000


def capacity_relaxation(
    a: Arrays, budget: Budget, ub: float | None = None, stats: dict | None = None
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """max_{v >= 0} L(v) with the capacity constraints relaxed (cost objective, any number of
    resources), by projected subgradient (:func:`._kernels.lagcap_subgradient`).

    L(v) = Σ_j min_i (c_ij + Σ_r v_ri d_rij) - Σ_ri v_ri b_ri <= OPT: for a feasible x, adding
    Σ v_ri (load_ri(x) - b_ri) <= 0 to its cost and taking each task's minimum gives L(v). The
    assignment constraints keep the integrality property, so sup L(v) is the LP bound; each iteration is
    O(R m n) instead of an LP solve (the 80 x 1600 LPs take seconds). Returns (bound lowered by a
    1e-7 relative margin, v, x(v) -- every task on its Lagrangian-cheapest agent, a near-LP start for
    the local search --, reduced costs rc m x n with L + rc_ij a bound on every assignment using
    (i, j), +inf off the allowed pairs), or None when it does not apply (makespan, no task, orphans).
    """
    if a.makespan or a.orphans or a.n == 0:
        return None
    R, m, n = a.dem.shape[0], a.m, a.n
    cost_t = np.ascontiguousarray(a.obj.T)
    dem_t = np.ascontiguousarray(a.dem.transpose(0, 2, 1))
    allowed_t = np.ascontiguousarray(a.allowed.T)
    if ub is None or not math.isfinite(ub):
        ub = float(np.where(a.allowed, a.obj, -np.inf).max(axis=0).sum()) + 1.0
    v = np.zeros((R, m))
    best_v = v.copy()
    best_x = np.zeros(n, dtype=np.int64)
    freq = np.zeros((n, m), dtype=np.int64)
    fs = np.array([-math.inf, 2.0, float(ub), 0.0])
    it = 0
    limit = CAP_DET_ITERATIONS if budget.deterministic else CAP_MAX_ITERATIONS
    while it < limit and fs[1] >= 1e-6:
        if it > 0 and budget.should_stop(ub, float(fs[0])):
            break
        it += K.lagcap_subgradient(
            v, best_v, best_x, fs, cost_t, dem_t, a.cap, allowed_t, freq, min(CAP_CHUNK, limit - it)
        )
    L = float(fs[0])
    if stats is not None:
        stats.update(lagcap_iterations=it, lagcap_step=float(fs[1]))
    if not math.isfinite(L):
        return None
    red = a.obj + np.einsum("ri,rij->ij", best_v, a.dem) if R else a.obj.copy()
    red = np.where(a.allowed, red, np.inf)
    rc = red - red.min(axis=0)
    # the rounded ergodic average: each task on the agent its relaxed solutions used most (ties: the
    # cheapest reduced cost); x(v) itself when the averaging never started
    if freq.any():
        score = np.where(a.allowed.T, freq - 1e-9 * rc.T, -np.inf)
        best_x = np.argmax(score, axis=1).astype(np.int64)
    return L - 1e-7 * max(1.0, abs(L)), best_v, best_x, rc
