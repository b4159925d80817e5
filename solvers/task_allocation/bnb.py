"""``bnb``: depth-first branch and bound on the Lagrangian (knapsack) bound of the GAP (cost objective,
one capacitated resource, integral costs).

Why
    On Chu-Beasley C / D the knapsack Lagrangian bound is within 0.1 % of the optimum, but the LP
    relaxation that HiGHS and CP-SAT branch on is weaker, and their primal heuristics stall: on c20200,
    with the pairs that Lagrangian fixing leaves against 2393 (461 of 4,000), HiGHS needs 10 s to find
    and prove 2391 and CP-SAT (2 workers) does not within 10 s; on d05100 neither finds a solution
    of at most 6353 on the 209 pairs left within 20-30 s. Branching on the Lagrangian bound itself,
    with the pair fixing of :func:`._kernels.lagrangian_forced` at every node, proved c20200 in
    718 nodes and d05100 in 3,064 in a first prototype (the method of Ross & Soland 1975, with the
    fixing of Posta, Ferland & Michelon 2012).

Node
    A node is a set of allowed pairs. Tasks with one pair left are fixed: their cost is a constant and
    their demand comes off the agent's capacity (:func:`._kernels.bnb_residual`); the free tasks get
    the knapsack Lagrangian L(u) with the residual capacities, by subgradient warm-started from the
    parent's multipliers (``NODE_ITERATIONS`` steps, :func:`._kernels.bnb_subgradient`). Costs are
    integers, so a node whose bound exceeds UB - 1 holds nothing better than the incumbent and is cut.
    A relaxed solution that covers every free task exactly once is an assignment whose cost equals
    the bound: the node's optimum (a new incumbent when cheaper). Otherwise every free pair whose
    forced-in bound exceeds UB - 1 is dropped and a task whose forced-out bound does is fixed
    (:func:`.lagrange.fixing_mask`'s argument on the residual problem); when that changed the node
    it is evaluated again (at most ``MAX_ROUNDS`` times).
Branching
    One child per remaining agent of one free task. The forced-in bounds already give every child's
    bound, so the task is the one whose cheapest child has the highest bound (ties: its second
    child), and the children are explored cheapest bound first, depth first (memory: depth x m
    nodes). Measured against branching on the largest-demand task the relaxation covers 0 or 2+ times
    (children: the relaxation's agent first, then by cost), 20 steps per node with step factor 1, a
    1 s ``lptabu`` incumbent, one search below it: d05100 proved in 1.1 s (was 3.2 s), d05200 in
    6.4 s (29.5 s); c20200 / c10200 0.08 / 0.29 s (0.06 / 0.19 s).
Guesses
    The proof time was dominated by finding the optimum: below the 1 s incumbent 6367, d10100's
    search found 6347 after 37,653 nodes (20.6 s) and finished 1,200 nodes later. So with a feasible
    hint the search runs by guesses G = ceil(root bound) + 1, + 2, ...: each round searches only for
    solutions cheaper than G (cutting at G - 1) with no incumbent; a round that ends without one
    proves OPT >= G, and the first round that finds one finishes with it as the incumbent, which is
    then optimal. The last guess is the hint's UB itself, so the answer is never worse than the hint.
    d10100 took 6 rounds, 13,129 nodes, 8.5 s. Without a hint one round runs below a UB above every
    assignment's cost. A round stops as soon as it finds an assignment that meets the bound already
    proved (the rest of its tree could only confirm it): d10100's last round found 6347 after 6,566 of
    its 7,577 nodes, 4.5 of its 5.5 s.
Giving up (``quick`` and ``resume``, for chains)
    Each round costs a roughly constant factor more than the one before (nodes per round, d20100: 39,
    152, 542, 1,999, 7,705, 26,544, 84,463 for guesses 6178-6184, 74 s for the last; d10200: 91, 738,
    6,122 -- 0.1, 1.1, 10 s). So before the next round these stop when the last round's time times
    its node growth exceeds the time left, keeping what they proved, and the chain's later steps get
    the time; and a round that has not ended within ``ROUND_SHARE`` of the time left is the last (a
    first round has nothing to project from).
    ``run`` (the standalone solver) never gives up; nor does anything in deterministic mode.
    Why proofs of Chu-Beasley d10200, d20100 and d20200 are out of reach in 10 s: the Lagrangian bound
    is the Dantzig-Wolfe bound (column generation gives 12425.6, 6176.1, 12229.7, within 0.03 of the
    subgradient's), 6-9 below the best known values, and each unit above it costs 3.5-10x the last.
Bound and answer
    Every open node carries a valid bound for its subtree (its parent's, or its forced-in bound when
    higher); when the search stops early, the proved bound is the largest of the root bound, the
    last guess proved and min(current round's UB, the smallest open bound).
    When the tree is exhausted the incumbent (the hint's solution when nothing cheaper turned up) is
    optimal; without a hint UB starts above every assignment's cost, so an exhausted tree without an
    incumbent proves the instance infeasible. The budget is polled between nodes; in deterministic
    mode the search also stops after ``DET_NODES`` nodes.
"""

from __future__ import annotations

import math
import time

import numpy as np

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result, Status
from solvers.task_allocation import _kernels as K
from solvers.task_allocation import lagrange
from solvers.task_allocation._data import Arrays, arrays, assignment_objective, is_feasible, tiny_arrays

#: subgradient steps per node evaluation (warm-started from the parent's multipliers). With a 1 s
#: lptabu hint, 20 s limit: 10 steps proved d10100 in 8.2 s, d05200 1.3 s, c15900 6.3 s; 30 steps
#: 11.3 / 2.0 / 3.0 s; 6 steps 10.0 / 1.2 / 10.0 s (c15900 open); e20400 was open at 20 s with all three
NODE_ITERATIONS = 10
#: initial step factor at a node
NODE_LAMBDA = 0.5
#: evaluations of one node while fixing keeps removing pairs
MAX_ROUNDS = 3
#: node limit in deterministic mode
DET_NODES = 20_000
#: share of the budget for the root multipliers when none are known
ROOT_SHARE = 0.2
#: giving up (``quick``, ``resume``): share of what is left that one round may take (a first round has
#: nothing to project its time from: d40400's did not end in 9.6 s, c20400's ended in 0.6 s)
ROUND_SHARE = 0.5


#: the last run's root multipliers, proved bound and root bound: id(arrays) -> (arrays, u, proved, root),
#: so that a later run on the same instance in one chain (``auto`` runs bnb before and after lptabu on
#: large ones, the second through :func:`resume`) goes on from the guesses already proved, and reuses
#: the multipliers unless a better bound is known by then (e.g. lptabu's LP bound above a root from a
#: short first run)
_ROOT: dict[int, tuple[Arrays, np.ndarray, float, float]] = {}


def applicable(a: Arrays) -> bool:
    return lagrange.applicable(a)


class _Tree:
    """The search state: incumbent, counters, the Lagrangian work arrays of one node."""

    def __init__(self, a: Arrays, ub: float, x: np.ndarray | None, floor: float = -math.inf) -> None:
        self.a = a
        #: a proved lower bound on every assignment: an incumbent that meets it is optimal, the search
        #: closes (``closed``) instead of exhausting the rest of the tree
        self.floor = floor
        self.closed = False
        self.cost = a.obj
        self.dem = np.ascontiguousarray(a.dem[0])
        self.cap = a.cap[0].astype(np.int64)
        self.ub = ub
        self.x = x
        self.nodes = 0
        self.found = 0
        m, n = a.m, a.n
        self.fixed = np.full(n, -1, np.int64)
        self.rcap = np.zeros(m, np.int64)
        self.free_ok = np.zeros((m, n), np.bool_)
        self.kx = np.zeros((m, n), np.int64)
        self.best_x = np.zeros((m, n), np.int64)
        self.one = np.full((m, n), np.inf)

    def incumbent(self, assign: np.ndarray, budget: Budget) -> None:
        v = assignment_objective(self.a, assign)
        if v < self.ub and is_feasible(self.a, assign):
            self.ub, self.x = v, assign.copy()
            self.found += 1
            self.closed = math.isfinite(self.floor) and v <= math.ceil(self.floor - 1e-6)
            budget.report("bnb", v, None, Solution.from_array(assign))

    def evaluate(self, allowed: np.ndarray, u: np.ndarray, budget: Budget) -> tuple[float, np.ndarray]:
        """Bound the node, fixing pairs in ``allowed`` in place and leaving the forced-in bound of every
        pair kept in ``self.one``; returns (bound, multipliers), bound +inf when the node is closed."""
        best_u = u.copy()
        bound = -math.inf
        for _ in range(MAX_ROUNDS):
            const = K.bnb_residual(
                self.cost, self.dem, self.cap, allowed, self.fixed, self.rcap, self.free_ok
            )
            if not math.isfinite(const):
                return math.inf, best_u
            fs = np.array([-math.inf, NODE_LAMBDA, 0.0])
            work = best_u.copy()
            state = K.bnb_subgradient(
                work, best_u, self.kx, self.best_x, fs, self.cost, self.dem, self.rcap, self.free_ok,
                self.fixed, const, float(self.ub), NODE_ITERATIONS,
            )  # fmt: skip
            bound = max(bound, float(fs[0]))
            if state == 1:
                return math.inf, best_u
            if state == 2:
                assign = self.fixed.copy()
                free = assign < 0
                assign[free] = np.argmax(self.best_x[:, free], axis=0)
                self.incumbent(assign, budget)
                return math.inf, best_u
            # fixing on the residual problem: pairs whose forced-in bound exceeds UB - 1 go, tasks whose
            # forced-out bound does are fixed
            _L, one, zero = K.lagrangian_forced(best_u, self.cost, self.dem, self.rcap, self.free_ok)
            limit = self.ub - 1 - const + 1e-6 * max(1.0, abs(self.ub))
            keep = self.free_ok & (one <= limit)
            must = self.free_ok & (zero > limit)
            forced = must.any(axis=0)
            keep[:, forced] &= must[:, forced]
            free = self.fixed < 0
            new = allowed.copy()
            new[:, free] = keep[:, free]
            if not new[:, free].any(axis=0).all():
                return math.inf, best_u
            changed = int(new.sum()) != int(allowed.sum())
            allowed[:, :] = new
            self.one = np.where(keep, one + const, np.inf)
            if not changed:
                break
        return bound, best_u

    def branch(self, allowed: np.ndarray) -> tuple[int, list[int]]:
        """The task to branch on and its agents in the order to explore them."""
        counts = allowed.sum(axis=0)
        free = counts > 1
        one = np.where(allowed, self.one, np.inf)
        srt = np.sort(one, axis=0)
        # the task whose cheapest child has the highest bound, ties by the second child
        score = np.where(free, srt[0] + 1e-3 * np.minimum(srt[1], srt[0] + 1e3), -np.inf)
        j = int(np.argmax(score))
        agents = np.flatnonzero(allowed[:, j])
        order = sorted(agents.tolist(), key=lambda i: float(one[i, j]))
        return j, order


def _dfs(
    tree: _Tree, budget: Budget, u0: np.ndarray, root_bound: float, node_limit: int | None = None
) -> tuple[bool, float]:
    """Depth-first search below ``tree.ub`` from root multipliers ``u0`` (at most ``node_limit`` nodes);
    returns (whether the tree was exhausted -- or closed by an incumbent at ``tree.floor`` --, the
    smallest bound among the open nodes, +inf when none is left)."""
    stack: list[tuple[np.ndarray, np.ndarray, float]] = [
        (tree.a.allowed.copy(), u0.astype(np.float64), root_bound)
    ]
    if node_limit is None and budget.deterministic:
        node_limit = DET_NODES
    while stack:
        if tree.closed:
            return True, math.inf
        if budget.should_stop() or (node_limit is not None and tree.nodes >= node_limit):
            break
        allowed, u, parent = stack.pop()
        if parent > tree.ub - 1 + 1e-6 * max(1.0, abs(tree.ub)):
            continue  # cut by an incumbent found since it was pushed
        tree.nodes += 1
        bound, u = tree.evaluate(allowed, u, budget)
        if not math.isfinite(bound):
            continue
        j, order = tree.branch(allowed)
        bound = max(bound, parent)
        for i in reversed(order):
            child = allowed.copy()
            child[:, j] = False
            child[i, j] = True
            stack.append((child, u, max(bound, float(tree.one[i, j]))))
    if tree.closed:
        return True, math.inf
    return not stack, min((p for _, _, p in stack), default=math.inf)


def search(
    a: Arrays,
    budget: Budget,
    ub: float,
    x: np.ndarray | None,
    u0: np.ndarray,
    root_bound: float,
    stats: dict,
    start: float = -math.inf,
    give_up: bool = False,
) -> tuple[np.ndarray | None, float, float, bool]:
    """Branch and bound below UB ``ub`` (``x``: its assignment, if any) from root multipliers ``u0``, by
    guesses (see the module doc) from max(root bound, ``start``: a bound already proved). With
    ``give_up`` it stops before a round that, projected from the last one, would not end within the
    budget (see the module doc). Returns (best assignment or None, its cost, proved bound, whether
    optimality -- or, without ``x``, infeasibility -- is proved)."""
    proved = max(root_bound, start)
    nodes = found = rounds = 0
    guess = float(math.ceil(proved - 1e-6) + 1)
    done = gave_up = False
    last: tuple[int, float] | None = None  # (nodes, seconds) of the last complete round
    while True:
        g = min(guess, ub) if x is not None else ub  # no incumbent: one plain search
        tree = _Tree(a, g, x if g >= ub else None, floor=proved)
        t = time.perf_counter()
        # giving up: a round that is not done with ROUND_SHARE of the time left is the last one
        capped = give_up and not budget.deterministic
        complete, open_min = _dfs(
            tree, budget.child(fraction=ROUND_SHARE) if capped else budget, u0, root_bound
        )
        spent = time.perf_counter() - t
        rounds += 1
        nodes += tree.nodes
        found += tree.found
        if tree.x is not None and tree.ub < ub:
            x, ub = tree.x, tree.ub
        if complete and (g >= ub or tree.found):
            proved, done = ub, True  # nothing cheaper than the incumbent: optimal
            break
        if complete:
            proved = max(proved, g)  # no solution below the guess
            guess = g + 1.0
            if give_up and last is not None and g + 1.0 <= ub:
                growth = tree.nodes / max(last[0], 1)
                if spent * growth > budget.remaining():
                    gave_up = True
                    break
            last = (tree.nodes, spent)
            continue
        proved = max(proved, min(tree.ub, open_min))
        gave_up = capped and not budget.should_stop()
        break
    stats.update(bnb_nodes=nodes, bnb_rounds=rounds, bnb_incumbents=found, bnb_complete=done)
    if gave_up:
        stats["bnb_gave_up"] = True
    return x, ub, min(proved, ub), done


def improve(
    a: Arrays, x: np.ndarray, budget: Budget, node_limit: int, root_s: float
) -> tuple[np.ndarray | None, bool]:
    """Look for an assignment cheaper than the feasible ``x``: root multipliers by subgradient (at most
    ``root_s`` seconds), then a depth-first search below x's cost of at most ``node_limit`` nodes.
    Returns (the cheapest assignment found or None, whether the root bound alone shows that x is
    optimal on these pairs) -- the sub-solver of :func:`.lns.search_bnb`."""
    ub = assignment_objective(a, x)
    mus: list[np.ndarray] = []
    root = lagrange.lagrangian_bound(a, budget.child(seconds=min(root_s, budget.remaining())), ub, None, mus)
    if root is None or not mus:
        return None, False
    if root > ub - 1 + 1e-6 * max(1.0, abs(ub)):
        return None, True  # integral costs: nothing below ub on these pairs
    tree = _Tree(a, ub, x, floor=root)
    _dfs(tree, budget, mus[0], root, node_limit)
    return (tree.x if tree.ub < ub else None), False


def forget() -> None:
    """Drop what an earlier run left for :func:`resume` (``auto`` calls it when a chain starts)."""
    _ROOT.clear()


def resume(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    """:func:`quick`, going on from the guesses the last run on the same instance proved (and its
    multipliers, unless a better bound is known by now). Only for a second run within one chain:
    standalone runs never read what another solve left, so answers stay repeatable."""
    return _run(inst, budget, hint, resume=True, give_up=True)


def quick(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    """:func:`run` that gives up (returning what it proved) as soon as the next guess round, projected
    from the last one, would not end within the budget -- for chains where later steps can use the
    time (not in deterministic mode, where the rounds' times would make the answer vary)."""
    return _run(inst, budget, hint, resume=False, give_up=True)


@register(PROBLEM, "bnb", "exact", "Lagrangian (knapsack) branch and bound with pair fixing, depth first")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    return _run(inst, budget, hint, resume=False, give_up=False)


def _run(inst: Instance, budget: Budget, hint: Solution | None, *, resume: bool, give_up: bool) -> Result:
    from solvers.task_allocation.exact import _hint_assignment, _infeasible, known_bound, known_multipliers

    a = arrays(inst)
    if a.orphans and not a.makespan:
        return _infeasible(a, "bnb")  # a task fits no agent
    if not applicable(a):
        why = (
            "bnb handles the cost objective with one capacitated resource (and knapsack tables of at most "
            f"{lagrange.MAX_DP_WORK:,} steps); use auto or mip for this instance"
        )
        skipped = {"skipped": True}
        return Result(
            PROBLEM, Status.NO_SOLUTION, "bnb", limit=budget.limit_reason(), message=why, stats=skipped
        )
    x0 = _hint_assignment(a, hint)
    if x0 is not None and not is_feasible(a, x0):
        x0 = None
    if x0 is not None:
        ub = assignment_objective(a, x0)
    else:  # above every assignment's cost
        ub = float(np.where(a.allowed, a.obj, -np.inf).max(axis=0).sum()) + 1
    stats: dict = {}
    known = known_multipliers(a)
    mine = _ROOT.get(id(a)) if resume else None
    earlier = mine[2] if mine is not None and mine[0] is a else -math.inf
    if mine is not None and mine[0] is a and mine[3] >= (known_bound(a) or -math.inf) - 1e-6:
        _, u0, _, root = mine  # an earlier run's multipliers, still the best root known
    elif known is not None:
        u0, root = known
    else:
        mus: list[np.ndarray] = []
        got = lagrange.lagrangian_bound(a, budget.child(fraction=ROOT_SHARE), ub, stats, mus)
        if got is None or not mus:
            return Result(PROBLEM, Status.NO_SOLUTION, "bnb", limit=budget.limit_reason(), stats=stats)
        u0, root = mus[0], got
    # the guesses an earlier run proved stay proved (the multipliers only steer the search)
    give_up = give_up and not budget.deterministic
    x, ub, proved, complete = search(a, budget, ub, x0, u0, root, stats, start=earlier, give_up=give_up)
    _ROOT.clear()
    _ROOT[id(a)] = (a, u0, max(earlier, proved), root)
    if x is not None and not is_feasible(a, x):  # defensive: never hand out an infeasible answer
        x = None
    if x is not None:
        status = Status.FEASIBLE
    elif complete and x0 is None:
        status = Status.INFEASIBLE
    else:
        status = Status.NO_SOLUTION
    return Result(
        PROBLEM,
        status,
        "bnb",
        solution=None if x is None else Solution.from_array(x),
        bound=proved,
        bound_source="Lagrangian branch and bound" + (" (search complete)" if complete else ""),
        limit=budget.limit_reason(),
        stats=stats,
    )


def warmup() -> None:
    """Compile the node kernels on a 2-agent, 3-task instance."""
    search(tiny_arrays(), Budget(deterministic=True), 100.0, None, np.full(3, 2.0), 0.0, {})
