"""Lagrangian time-indexed bound for 1||ΣwjTj, after Tanaka, Fujikuma & Araki's successive
sublimation DP (kind ``exact``, name ``ssdp``).

Formulation
-----------
Drop the zero-length jobs (they go first, complete at 0 and cost 0 in some optimal sequence, and
removing them changes no other completion time). Let T = Σp over the rest. Idle time never helps, so
a sequence is a path 0 = t_0 < t_1 < ... < t_n = T in which arc (j, t) means "job j completes at t"
and starts at t - p_j; its cost is Σ f_j(t) with f_j(t) = w_j max(0, t - d_j). The time-indexed
formulation asks for such a path that uses every job *exactly once*.

Stage 1 (relaxation). Relax "each job exactly once" with a multiplier μ_j (free sign, the constraint
is an equality) and keep only "two adjacent arcs are different jobs". For a fixed μ::

    L(μ) = Σ_j μ_j + min over paths P from 0 to T without adjacent repeats of Σ_{(j,t) in P} (f_j(t) - μ_j)

**Validity.** Let σ be any sequence, C_j its completion times. Its arcs form a path from 0 to T
without adjacent repeats (every job appears once), and its cost is
Σ_j f_j(C_j) = Σ_j (f_j(C_j) - μ_j) + Σ_j μ_j >= L(μ) because the minimum runs over a superset of
the sequences. So L(μ) <= the optimum for every μ; the reported bound is the best L over the μ
visited. The minimum is a DP over t = 0..T keeping for each t the best and the second-best value with
*different* last jobs (the best path into t whose last job is not j is the best one unless its last job
is j, then the second one), O(nT) per evaluation. μ is improved by subgradient steps (g_j = 1 -
(times job j is on the minimising path), Polyak step λ(UB - L)/||g||², λ halved and μ reset to the best
after :data:`PATIENCE` evaluations without improvement; deflected directions converged slower here).
The initial μ_j is job j's cost f_j(C_j) in the upper-bound sequence, or, when fewer than
:data:`INIT_TARDY_SHARE` of its jobs are tardy, what that sequence saves when j is taken out (f_j(C_j)
plus the drop of the later jobs' costs when they move p_j earlier; :data:`INIT_MODE`). With f_j(C_j)
the early jobs start at 0 and the low-tardiness wt100 instances (#1-#10) stayed at 1-6 % gaps after
10 s; from the removal savings they reach 0.002-0.7 %, but instances with many tardy jobs (#16, #20,
#36) converged worse from it (measured at 10 s, load 3-4).

Restrictions that keep the bound valid. Every rule below removes arcs (j, t) that some optimal
sequence with cost < UB (UB = the cost of a known sequence) does not use; the relaxation over the
remaining arcs is then a lower bound on any sequence of cost < UB, so ``min(UB, L)`` is a valid lower
bound on the optimum (either the optimum is >= UB, and UB is attained, or the optimal sequence uses
only remaining arcs and costs >= L):

* **Precedence windows.** By the Emmons-type rule of :mod:`solvers.smtt.dominance`, some optimal
  sequence puts every i ≺ j before j. In it, j completes no earlier than p_j + Σ_{i≺j} p_i and no
  later than T - Σ_{j≺k} p_k; arcs outside that window are removed. (All later removals hold for every
  sequence of cost < UB, so they hold for that optimal one too.)
* **Reduced-cost elimination.** With the forward best/second-best values F (paths 0 -> t - p_j whose
  last job is not j) and the backward ones G (paths t -> T whose first job is not j), the cheapest
  relaxed path through arc (j, t) is ``F + f_j(t) - μ_j + G + Σμ``, a lower bound on every sequence
  that completes j at t (same argument as above). When it exceeds UB - 1 (costs are integers: every
  such sequence costs >= UB) the arc is removed. Removing arcs only raises L, so elimination and
  subgradient rounds alternate until the bound stops moving.
* **Proof.** The bound proves UB when ceil(L) >= UB, when no path is left (no sequence beats UB), or
  when the minimising path uses every job exactly once (then it is a sequence whose cost is L).

Stage 2 (pair DP, :mod:`solvers.smtt.pairdp`). When stage 1 has converged (its step factor below
:data:`SWITCH_LAMBDA`, or elimination removes nothing at :data:`LAMBDA_MIN`) the DP state becomes the
arc (t, j) itself, and two arcs may be adjacent only when they obey Emmons' order and adjacent-pair
interchange (swapping them is not cheaper, ties broken by index); some optimal sequence obeys all of
that (proof in :mod:`solvers.smtt.pairdp`), so L(μ) is still <= the optimum and at least stage 1's.
Subgradient and elimination go on there (the same rule, now per arc of the pair DP). An elimination
resets the step factor only when it removed :data:`BUMP_SHARE` of the arcs. After :data:`CG_AFTER`
evaluations of the pair DP the multipliers come from column generation instead
(:mod:`solvers.smtt.colgen`: a Dantzig-Wolfe master over the paths priced so far, seeded by the
subgradient's paths, priced at a smoothed point; :meth:`Lagrangian._pair_evals`). The subgradient
stalls far from the pair DP's dual optimum: column generation run to convergence on the arcs stage 1
leaves put that optimum 0.017-0.204 % below the optimum on 10 of the 14 wt100 instances then unproved
at 10 s (figures in :mod:`solvers.smtt.colgen`), where the subgradient version had ended 0.1-1.5 %
below on those measured (#58: 0.84-0.98 %; #107: 12-16 %). The memory graph (stage 3) uses the same
loop. Every bound is still L(μ) of an evaluation, valid for any μ; the master only proposes μ.

Stage 3 (memory graph, :mod:`solvers.smtt.memdp`, the "successive sublimation" of Tanaka et al.).
When the pair DP has at most :data:`GRAPH_ARCS` arcs left, or has converged and elimination removes
nothing, its arcs become the states of an explicit graph whose edges are the allowed pairs. Rounds
of: evaluate and prune states and edges (the same UB - 1 rule), add :data:`GRAPH_GROW` memory job(s)
that the minimising path uses other than once (state (t, j, S), S the memory jobs done, the path must
end with S = M), then :data:`GRAPH_EVALS` subgradient evaluations on the graph. Every sequence of cost
< UB that obeys the pair rule is still a path (proof in :mod:`solvers.smtt.memdp`), so L(μ) stays a
bound; with every job in memory it is exact. The graph stops growing at :data:`MAX_GRAPH_STATES` /
:data:`MAX_GRAPH_EDGES` and goes on with subgradient only. Measured on wt100 at 10 s (auto, load
1.4-2.0): 86 of 125 proved, against 42 before this stage. The graph was about 3x faster per
evaluation than the pair DP's scan before that scan used allowed-pair bits (wt100 #2 after stage 1:
317k arcs, 12M edges, 21 against 62 ms; the scan now takes about a third), but entering it straight
from stage 1 proved 83 (four more, seven fewer: with many states left the memory jobs come too early)
and ran 3.4 s over on #60, and entering it at 80k arcs instead of 20k left each of eight unproved
instances as far or further from a proof after 9 s (#38: 0.06 -> 0.72 %, #3: 0.04 -> 0.17 %), so it
is entered only as described.

Stage 2b (memory jobs on the stage-1 DP) is what runs instead when the graph stage is switched off
(``graphs = False``): up to :data:`GROW` jobs join a memory set M and the stage-1 DP runs again on the
arcs left, with state (t, S); its dense tables of (T + 1)·2^|M| entries stop M at :data:`MAX_STATES` /
:data:`MAX_WORK`.

**A job without arcs.** When elimination leaves some job no arc at all, no sequence of cost < UB
exists (every sequence completes every job somewhere) and UB is proved, even though the relaxation's
paths, which need not use every job, still exist.

Stage 4 (closing) hands the remaining arcs to CP-SAT: completion time of j restricted to its remaining
arcs, the Emmons precedences, objective <= UB - 1 and >= ceil(L). Infeasible proves UB optimal (the
optimal sequence with cost < UB would satisfy every constraint); a solution is a better sequence (it
becomes the UB of the rounds that follow), and min(UB, CP-SAT's bound) is a bound by the argument
above. With a tight UB the arcs left make the model infeasible long before the bound itself reaches
UB - 1: on wt100 #3, #4 and #9 after 4 s of rounds (absolute gaps 11, 28 and 43) CP-SAT proved each in
0.02-0.03 s, while from rule UBs 2-7 % above the optimum (#3, #4, #9, #39, no Lagrangian heuristic)
it proved nothing after 4 s of rounds and found the optimum of #3. So when ssdp has at least
:data:`CPSAT_TRY_MIN_BUDGET`, :func:`_sliced_rounds` runs the rounds in slices of
:data:`CPSAT_EVERY_SHARE` of its time and tries stage 4 for :data:`CPSAT_TRY_SHARE` of it (at least
:data:`CPSAT_MIN_S`) after each; the last try gets what is left. Until then stage 4 had only run on
the few ms the rounds left over, i.e. almost never: wt100 at 10 s proved 90 without the tries.
Each try had 1 % of the time (0.09 s at 10 s) until most proofs of wt100 at 10 s were seen to come
at the tries (near 3.7, 5.6, 7.5 s) and several unproved instances were proved by longer ones: on the
eight instances nearest the limit (#31 #34 #40 #58 #60 #89 #113 #115, 9 s from the optimal sequence,
one run each) 1 % proved 3 of them, 3 % proved 5 with :data:`SWITCH_LAMBDA` 0.01 and 5 with 0.05, 5 %
(with 0.05) 5; tries twice as often at 1-2 % proved 2-4. :data:`SWITCH_LAMBDA` went from 0.01 to 0.05
with it: on those eight stage 1 had ended at 1.7-4.3 s (one run), at 0.05 it ended at 1.0-4.1 s (five
runs; both include the tries made meanwhile); its effect alone on the whole set was not measured. The
whole set at 10 s stayed at 119 proved (#58 and #81 now, #14 and #113 not); the mean time went from
3.7 to 3.4 s.

CP-SAT searches stage 4 with :data:`CPSAT_PARAMS`: ``search_branching = PORTFOLIO_SEARCH`` (with one
worker: a cycle of branching heuristics with restarts) and ``linearization_level = 0`` (no LP). The
model is almost always infeasible (the UB is usually the optimum by then), the time to a refutation is
heavy-tailed, and the LP of a sum of tardiness terms over sparse start domains is weak and slows every
node. Measured on the stage-4 models of five wt100 instances after 6 s of rounds (#14 #34 #40 #60 #107,
one worker, two solves side by side on the 2-core machine; seeds 1-3 for the portfolio settings, seed
1 for the others): the defaults (automatic search, linearization 1) proved only #34 (0.05 s) within
20 s; linearization 0 alone proved #40 and #107 in 15-20 s; portfolio search with the LP proved #107 in
2.1-11.7 s and #40 in 14.5 s (seed 3; seed 1 in 16.9 s of a 20 s run, seed 2 not in 15 s); portfolio
without the LP proved #40 in 3.5-12.2 s, #107 in 3.3-8.5 s, #14 in 2.9 and 10.7 s (not with seed 3),
#60 once in 14.4 s and #34 in 0.15 s. Portfolio with quick restarts (also without the LP) was as good on
#14 (2.4-4.4 s) and #60, worse on #40 (2 of 3, 14-14.4 s). On the whole of wt100 at 10 s the change took
the instances proved from 119 to 122, 121 and 121 in three runs (all but #40, #60, #107 and, in the
last two, #14, which need seconds of CP-SAT) and the mean time from 3.4 to 2.2-2.3 s; the slowest proof
took 5.1-7.3 s.

Every Numba call runs as many DP evaluations as fit in :data:`CALL_SECONDS` (and in half the time
left), timed on the previous call; an elimination is skipped when it would not fit in the time left, and
stage 4 needs :data:`CPSAT_MIN_S`. On wt100 with a 1 s budget the overrun measured at most 19 ms at
load 3 on the 2-core machine. Writing a large memory graph costs more per entry than evaluating it
(fresh memory; wt50 #9 overran a 1 s budget by up to 119 ms when an expansion of a 6M-entry graph took
0.27 s), so stage 3 also reserves :data:`GRAPH_WRITE_S` per entry before an evaluation and twice that
before an expansion: wt40, wt50 and wt100 at 1 s then ended at most 3 ms over. In deterministic mode
the call sizes come from the work instead, so the multipliers, eliminations and memory jobs follow the
same trajectory; only where the deadline cuts it depends on the clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from ortools.sat.python import cp_model

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.registry import register
from solvers.result import Limit, Result
from solvers.smtt import colgen, memdp
from solvers.smtt.common import cost, hint_sequence, result
from solvers.smtt.dominance import precedence_pairs, precedes_matrix
from solvers.smtt.dynasearch import dyna_descent
from solvers.smtt.pairdp import (
    keep_masks,
    mask_words,
    pair_masks,
    peliminate,
    pprice,
    psubgradient,
    start_lists,
    step_multipliers,
)
from solvers.smtt.rules import best_rule

INF = 1e300
PATIENCE = 40  # evaluations without a better L before the step factor is halved
LAMBDA0 = 2.0
LAMBDA_MIN = 2e-3
ITERS_PER_CALL = 20
CALL_SECONDS = 0.01  # target length of one Numba call between budget polls
ELIM_COST = 4.0  # an elimination costs about this many evaluations (forward, backward, the arc pass)
DETERMINISTIC_CALL_WORK = 2_000_000  # state updates per call in deterministic mode
ELIM_EVERY = 100  # evaluations between eliminations
PAIR_ELIM_EVERY = 20  # the same in stage 2 (an evaluation costs more there, elimination removes more)
PAIR_FIRST_ELIM = 2  # evaluations of the pair DP before its first elimination
REPAIR_SHARE = 0.1  # at most this share of the time goes to the Lagrangian heuristic (_repair)
DETERMINISTIC_REPAIR_EVERY = 5  # in deterministic mode: every 5th elimination round
PAIR_SLOWDOWN = 40.0  # a pair-DP evaluation per arc vs a stage-1 one (measured ~20x at load 3)
BUMP_SHARE = 0.01  # an elimination resets the step factor only when it removed this share of the arcs
SWITCH_LAMBDA = 0.05  # stage 1 hands over to the pair DP when its step factor falls below this
LAMBDA_RESTART = 0.25  # step factor after arcs were removed or memory jobs added
GROW = 2  # memory jobs added per round
MAX_STATES = 1_500_000  # (T + 1) · 2^memory: the DP tables' size
MAX_WORK = 8_000_000  # arcs · 2^memory: one evaluation's work
MAX_CELLS = 60_000_000  # n·T above which the bound is not attempted (the arc table would not fit)
GRAPH_ARCS = 60_000  # stage 2 hands over to the memory graph with this few arcs left
GRAPH_GROW = 1  # memory jobs added to the graph per round
GRAPH_EVALS = 30  # subgradient evaluations on the graph per round
MAX_GRAPH_STATES = 4_000_000
MAX_GRAPH_EDGES = 40_000_000
# seconds per state + edge that writing a graph into fresh memory (memdp.expand, memdp.prune) may take:
# 1.5-9 ns up to 2.5M entries, expand 15 ns at 3.6M and 45 ns at 6M (wt50 #9 at 1 s, 2-core VM)
GRAPH_WRITE_S = 5e-8
EPS = 1e-7
CPSAT_MIN_S = 0.1  # stage 4 is not started with less time left (building the model takes tens of ms)
CPSAT_MARGIN_S = 0.05  # stage 4 stops this long before the deadline
CPSAT_TRY_MIN_BUDGET = 2.0  # with this much time for ssdp, stage 4 is also tried between slices
CPSAT_EVERY_SHARE = 0.2  # ... after every such share of ssdp's time spent on the Lagrangian rounds
CPSAT_TRY_SHARE = 0.05  # ... with this share of it (at least CPSAT_MIN_S) per try (was 0.01, docstring)
# stage 4's search: portfolio of heuristics with restarts, no LP (module docstring: on 5 stalled wt100
# models the defaults refuted 1 in 20 s, this refuted each with at least one of three seeds, 0.15-14 s)
CPSAT_PARAMS = {"search_branching": cp_model.PORTFOLIO_SEARCH, "linearization_level": 0}
# pair-DP subgradient steps before column generation proposes the multipliers (the prototype's 2-4 s
# of subgradient steps were 70-200 evaluations on wt100; other values were not compared)
CG_AFTER = 100
# paths per pricing offered to the master (the best into each of the 8 best final states); with one
# path per pricing wt100 #58 ended at 0.48-0.60 % after 9 s of ssdp, with 8 at 0.22 % (one run)
CG_PATHS = 8
CG_STOP_SHARE = 0.02  # converged when the master's value is within this share of UB - L of L


@njit(cache=True)
def _f(t: int, dj: int, wj: int) -> float:
    return float(wj * (t - dj)) if t > dj else 0.0


@njit(cache=True)
def forward(
    p: np.ndarray,
    mu: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    mbit: np.ndarray,
    F1: np.ndarray,
    A1: np.ndarray,
    F2: np.ndarray,
    A2: np.ndarray,
) -> None:
    """Best / second-best relaxed path values into every state (t, s): s is the set of memory jobs
    (``mbit[j] >= 0``) already on the path; ``jobs[ptr[t]:ptr[t+1]]`` are the arcs at t, ``arc``
    their costs f_j(t). A memory job may not appear twice (its bit must be new)."""
    T = F1.shape[0] - 1
    ns = F1.shape[1]
    F1[:, :] = INF
    F2[:, :] = INF
    A1[:, :] = -1
    A2[:, :] = -1
    F1[0, 0] = 0.0
    if ns == 1:  # stage 1 (no memory jobs): the pair kept in registers, about 10x faster
        for t in range(1, T + 1):
            b1 = INF
            a1 = -1
            b2 = INF
            a2 = -1
            for q in range(ptr[t], ptr[t + 1]):
                j = jobs[q]
                tp = t - p[j]
                prev = F1[tp, 0] if A1[tp, 0] != j else F2[tp, 0]
                if prev >= INF:
                    continue
                v = prev + arc[q] - mu[j]
                if v < b1:
                    b2 = b1
                    a2 = a1
                    b1 = v
                    a1 = j
                elif v < b2:
                    b2 = v
                    a2 = j
            F1[t, 0] = b1
            A1[t, 0] = a1
            F2[t, 0] = b2
            A2[t, 0] = a2
        return
    for t in range(1, T + 1):
        for s in range(ns):
            b1 = INF
            a1 = -1
            b2 = INF
            a2 = -1
            for q in range(ptr[t], ptr[t + 1]):
                j = jobs[q]
                b = mbit[j]
                if b < 0:
                    ps = s
                elif (s >> b) & 1 == 0:
                    continue
                else:
                    ps = s ^ (1 << b)
                tp = t - p[j]
                prev = F1[tp, ps] if A1[tp, ps] != j else F2[tp, ps]
                if prev >= INF:
                    continue
                v = prev + arc[q] - mu[j]
                if v < b1:
                    b2 = b1
                    a2 = a1
                    b1 = v
                    a1 = j
                elif v < b2:
                    b2 = v
                    a2 = j
            F1[t, s] = b1
            A1[t, s] = a1
            F2[t, s] = b2
            A2[t, s] = a2


@njit(cache=True)
def backward(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    allow: np.ndarray,
    mbit: np.ndarray,
    G1: np.ndarray,
    B1: np.ndarray,
    G2: np.ndarray,
    B2: np.ndarray,
) -> None:
    """Best / second-best relaxed path values from every state (t, s) to (T, all memory jobs), by first
    job (``allow[t, j]``: j may complete at t)."""
    T = G1.shape[0] - 1
    ns = G1.shape[1]
    n = p.shape[0]
    G1[:, :] = INF
    G2[:, :] = INF
    B1[:, :] = -1
    B2[:, :] = -1
    G1[T, ns - 1] = 0.0
    if ns == 1:
        for t in range(T - 1, -1, -1):
            b1 = INF
            a1 = -1
            b2 = INF
            a2 = -1
            for k in range(n):
                nx = t + p[k]
                if nx > T or allow[nx, k] == 0:
                    continue
                rest = G1[nx, 0] if B1[nx, 0] != k else G2[nx, 0]
                if rest >= INF:
                    continue
                v = rest + _f(nx, d[k], w[k]) - mu[k]
                if v < b1:
                    b2 = b1
                    a2 = a1
                    b1 = v
                    a1 = k
                elif v < b2:
                    b2 = v
                    a2 = k
            G1[t, 0] = b1
            B1[t, 0] = a1
            G2[t, 0] = b2
            B2[t, 0] = a2
        return
    starts = np.empty(n, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        m = 0
        for k in range(n):
            nx = t + p[k]
            if nx <= T and allow[nx, k] != 0:
                starts[m] = k
                m += 1
        for s in range(ns):
            b1 = INF
            a1 = -1
            b2 = INF
            a2 = -1
            for r in range(m):
                k = starts[r]
                b = mbit[k]
                if b < 0:
                    nsx = s
                elif (s >> b) & 1 == 1:
                    continue
                else:
                    nsx = s | (1 << b)
                nx = t + p[k]
                rest = G1[nx, nsx] if B1[nx, nsx] != k else G2[nx, nsx]
                if rest >= INF:
                    continue
                v = rest + _f(nx, d[k], w[k]) - mu[k]
                if v < b1:
                    b2 = b1
                    a2 = a1
                    b1 = v
                    a1 = k
                elif v < b2:
                    b2 = v
                    a2 = k
            G1[t, s] = b1
            B1[t, s] = a1
            G2[t, s] = b2
            B2[t, s] = a2


@njit(cache=True)
def arc_lists(
    allow: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the arcs: jobs[ptr[t]:ptr[t+1]] are the jobs that may complete at t, arc[q] = f_j(t)."""
    T = allow.shape[0] - 1
    n = allow.shape[1]
    ptr = np.zeros(T + 2, dtype=np.int64)
    cnt = 0
    for t in range(T + 1):
        ptr[t] = cnt
        for j in range(n):
            if allow[t, j] != 0 and t >= p[j]:
                cnt += 1
    ptr[T + 1] = cnt
    jobs = np.empty(cnt, dtype=np.int64)
    arc = np.empty(cnt)
    q = 0
    for t in range(T + 1):
        for j in range(n):
            if allow[t, j] != 0 and t >= p[j]:
                jobs[q] = j
                arc[q] = _f(t, d[j], w[j])
                q += 1
    return ptr, jobs, arc


@njit(cache=True)
def subgradient(
    p: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    mbit: np.ndarray,
    ns: int,
    mu: np.ndarray,
    best_mu: np.ndarray,
    ub: float,
    st: np.ndarray,
    iters: int,
    path: np.ndarray,
    cnt: np.ndarray,
) -> int:
    """Up to ``iters`` subgradient evaluations; ``st = [best_L, lambda, stall, evals]``, ``cnt`` gets the
    job counts of the last minimising path.

    Returns 0 (go on), 1 (proved: best_L > ub - 1, or no path left), 2 (the minimising path is a
    sequence: ``path`` holds it, best_L is its cost), 3 (lambda below LAMBDA_MIN: converged)."""
    n = p.shape[0]
    T = ptr.shape[0] - 2
    F1 = np.empty((T + 1, ns))
    F2 = np.empty((T + 1, ns))
    A1 = np.empty((T + 1, ns), dtype=np.int64)
    A2 = np.empty((T + 1, ns), dtype=np.int64)
    g = np.empty(n)
    thr = ub - 1.0 + EPS * max(1.0, abs(ub))
    for _ in range(iters):
        forward(p, mu, ptr, jobs, arc, mbit, F1, A1, F2, A2)
        st[3] += 1
        if F1[T, ns - 1] >= INF:
            st[0] = ub
            return 1
        smu = 0.0
        for j in range(n):
            smu += mu[j]
        L = F1[T, ns - 1] + smu
        cnt[:] = 0
        t = T
        s = ns - 1
        j = A1[T, s]
        m = 0
        while t > 0:
            cnt[j] += 1
            if m < n:
                path[m] = j
            m += 1
            tp = t - p[j]
            ps = s if mbit[j] < 0 else s ^ (1 << mbit[j])
            j = A1[tp, ps] if A1[tp, ps] != j else A2[tp, ps]
            t = tp
            s = ps
        done = step_multipliers(n, cnt, g, mu, best_mu, st, L, ub, thr, PATIENCE, LAMBDA_MIN, path)
        if done:
            return done
    return 0


@njit(cache=True)
def eliminate(
    p: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    allow: np.ndarray,
    ptr: np.ndarray,
    jobs: np.ndarray,
    arc: np.ndarray,
    mbit: np.ndarray,
    ns: int,
    ub: float,
) -> tuple[int, int, float]:
    """Remove every arc whose cheapest relaxed path under ``mu`` (over every memory state) costs
    > ub - 1; returns (arcs removed, arcs left, L(mu))."""
    n = p.shape[0]
    T = allow.shape[0] - 1
    F1 = np.empty((T + 1, ns))
    F2 = np.empty((T + 1, ns))
    A1 = np.empty((T + 1, ns), dtype=np.int64)
    A2 = np.empty((T + 1, ns), dtype=np.int64)
    G1 = np.empty((T + 1, ns))
    G2 = np.empty((T + 1, ns))
    B1 = np.empty((T + 1, ns), dtype=np.int64)
    B2 = np.empty((T + 1, ns), dtype=np.int64)
    forward(p, mu, ptr, jobs, arc, mbit, F1, A1, F2, A2)
    backward(p, d, w, mu, allow, mbit, G1, B1, G2, B2)
    smu = 0.0
    for j in range(n):
        smu += mu[j]
    thr = ub - 1.0 + EPS * max(1.0, abs(ub))
    removed = 0
    left = 0
    for t in range(1, T + 1):
        for q in range(ptr[t], ptr[t + 1]):
            j = jobs[q]
            tp = t - p[j]
            b = mbit[j]
            c = arc[q] - mu[j] + smu
            keep = False
            for s in range(ns):
                if b < 0:
                    ps = s
                else:
                    if (s >> b) & 1 == 0:
                        continue
                    ps = s ^ (1 << b)
                fa = F1[tp, ps] if A1[tp, ps] != j else F2[tp, ps]
                gb = G1[t, s] if B1[t, s] != j else G2[t, s]
                if fa < INF and gb < INF and fa + gb + c <= thr:
                    keep = True
                    break
            if keep:
                left += 1
            else:
                allow[t, j] = 0
                removed += 1
    L = F1[T, ns - 1] + smu if F1[T, ns - 1] < INF else INF
    return removed, left, L


INIT_MODE = "auto"  # "cost": f_j(C_j); "removal"; "blend": their mean; "auto": see INIT_TARDY_SHARE
INIT_TARDY_SHARE = 1 / 3  # "auto" starts from the removal savings when fewer UB jobs are tardy


def removal_savings(inst: Instance, seq: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    """μ_j = what the upper-bound sequence saves when j is taken out (its own cost plus the later
    jobs' cost drop when they move p_j earlier): the marginal cost of j, a dual estimate that starts
    the subgradient closer than f_j(C_j) on instances where most jobs are early (any μ is valid)."""
    s = np.asarray(seq, dtype=np.int64)
    p, d, w = inst.p[s].astype(np.int64), inst.d[s].astype(np.int64), inst.w[s].astype(np.int64)
    c = np.cumsum(p)
    f = w * np.maximum(c - d, 0)
    mu = np.zeros(n)
    for a in range(s.shape[0]):
        if pos[s[a]] < 0:
            continue
        later = slice(a + 1, None)
        drop = f[later] - w[later] * np.maximum(c[later] - p[a] - d[later], 0)
        mu[pos[s[a]]] = float(f[a] + drop.sum())
    return mu


def applicable(inst: Instance) -> bool:
    """Whether :meth:`Lagrangian.build` accepts the instance (some job has a length; the arc table of
    n·(T + 1) cells fits in :data:`MAX_CELLS`)."""
    total = int(inst.p.sum())
    return total > 0 and inst.n * (total + 1) <= MAX_CELLS


@dataclass
class Lagrangian:
    """The state of one instance's bound: arcs left, multipliers, best bound; resumable across calls."""

    inst: Instance
    ub: int
    jobs_idx: np.ndarray  # the non-zero-length jobs, as indices into the instance
    p: np.ndarray
    d: np.ndarray
    w: np.ndarray
    T: int
    allow: np.ndarray
    mu: np.ndarray
    best_mu: np.ndarray
    st: np.ndarray
    mbit: np.ndarray  # bit of each memory job in the DP state, -1 for the others
    prec: np.ndarray  # prec[i, j]: i ≺ j (Emmons, on the non-zero-length jobs)
    memory: int = 0
    stage: int = 1  # 1: the DP without adjacent repeats (+ memory jobs); 2: the pair DP
    bound: float = -math.inf
    proved: bool = False
    sequence: np.ndarray | None = None  # a sequence found by the relaxation (full instance indices)
    stats: dict[str, Any] = field(default_factory=dict)
    pairs: bool = True  # go on with the pair DP (stage 2) when stage 1 has converged
    graphs: bool = True  # go on with the memory graph (stage 3) when stage 2 is small or converged
    ub_c: np.ndarray | None = None  # completion times in the upper-bound sequence (non-zero jobs)
    graph: memdp.Graph | None = None  # stage 3: the state graph of solvers.smtt.memdp
    gbit: np.ndarray | None = None  # bit of each memory job of the graph, -1 for the others
    gmem: int = 0  # memory jobs in the graph
    pmasks: tuple[np.ndarray, np.ndarray] | None = None  # the pair DP's masks, kept across run() calls
    per_work: float = 1e-8  # seconds per DP state update, re-measured on every call, kept across calls
    use_colgen: bool = True  # stages 2-3: multipliers by column generation after CG_AFTER subgradient steps
    master: colgen.Master | None = None  # the master LP of solvers.smtt.colgen (stages 2 and 3)
    pair_evals: int = 0  # evaluations of the pair DP and the memory graph so far
    _cg_buf: tuple | None = None  # the pricing's path buffers (pairdp.best_paths)
    born: float = field(default_factory=time.perf_counter)  # when built: the stats' stage end times

    @classmethod
    def build(cls, inst: Instance, seq: np.ndarray) -> Lagrangian | None:
        """The relaxation of ``inst`` with UB = the cost of ``seq``, whose job costs f_j(C_j) are the
        initial multipliers (any start is valid; this one makes L(μ0) = UB - (the relaxation's gain
        over ``seq``) rather than a bound near 0)."""
        ub = cost(inst, seq)
        keep = np.nonzero(inst.p > 0)[0].astype(np.int64)
        p = np.ascontiguousarray(inst.p[keep])
        d = np.ascontiguousarray(inst.d[keep])
        w = np.ascontiguousarray(inst.w[keep])
        n = keep.shape[0]
        T = int(p.sum())
        if n == 0 or n * (T + 1) > MAX_CELLS:
            return None
        allow = np.zeros((T + 1, n), dtype=np.uint8)
        sub = Instance.from_arrays([int(x) for x in p], [int(x) for x in d], [int(x) for x in w])
        prec = precedes_matrix(sub)
        before = prec.T.astype(np.int64) @ p  # Σ p_i over i ≺ j
        after = prec.astype(np.int64) @ p  # Σ p_k over j ≺ k
        for j in range(n):
            lo, hi = int(p[j] + before[j]), T - int(after[j])
            if lo <= hi:
                allow[lo : hi + 1, j] = 1
        pos = np.full(inst.n, -1, dtype=np.int64)
        pos[keep] = np.arange(n)
        mu = np.zeros(n)
        clock = 0
        for j in seq:
            clock += int(inst.p[j])
            if pos[j] >= 0:
                mu[pos[j]] = _f(clock, int(inst.d[j]), int(inst.w[j]))
        tardy = np.count_nonzero(mu > 0) / max(1, n)
        if INIT_MODE == "removal" or (INIT_MODE == "auto" and tardy < INIT_TARDY_SHARE):
            mu = removal_savings(inst, seq, pos, n)
        elif INIT_MODE == "blend":
            mu = 0.5 * (mu + removal_savings(inst, seq, pos, n))
        st = np.array([-INF, LAMBDA0, 0.0, 0.0])
        mbit = np.full(n, -1, dtype=np.int64)
        lag = cls(inst, ub, keep, p, d, w, T, allow, mu, mu.copy(), st, mbit, prec.astype(np.uint8))
        ub_c = np.zeros(n)
        clock = 0
        for j in seq:
            clock += int(inst.p[j])
            if pos[j] >= 0:
                ub_c[pos[j]] = clock
        lag.ub_c = ub_c
        return lag

    def run(self, budget: Budget, *, max_rounds: int = 1000) -> None:
        """Subgradient rounds alternating with elimination: stage 1, then the pair DP (stage 2), then the
        memory graph (stage 3) when few arcs are left or the pair DP has converged (module docstring).
        Stops when proved, out of rounds, out of memory or out of budget."""
        if self.stage == 3:
            if self._run_graph(budget):
                return
            # too many edges for the graph: the pair DP goes on, with stage 2b's memory jobs
            self.graphs = False
            self.stage = 2
        n = self.p.shape[0]
        path = np.zeros(n, dtype=np.int64)
        cnt = np.zeros(n, dtype=np.int64)
        ptr, jobs, arc = arc_lists(self.allow, self.p, self.d, self.w)
        sptr, bo = start_lists(ptr, jobs, self.p)  # bo: the backward order, from the start lists
        fo = np.arange(jobs.shape[0])  # the forward order (pairdp.pforward keeps both sorted)
        fm, bm = self._masks(ptr, jobs)  # the pair DP's allowed-pair bits (none in stage 1)
        started = time.perf_counter()
        repair_s = 0.0
        rounds = 0
        last_elim = 0
        while not self.proved and rounds < max_rounds and not budget.should_stop():
            ns = 1 << self.memory
            work = max(1, jobs.shape[0] * ns)
            # as many evaluations as fit in CALL_SECONDS and in half the time left (at least one)
            if self.per_work * work > budget.remaining():  # not even one evaluation fits
                break
            fit = min(CALL_SECONDS, 0.5 * budget.remaining()) / (self.per_work * work)
            iters = max(1, min(ITERS_PER_CALL, int(fit)))
            if budget.deterministic:  # call sizes (hence elimination points) from the work, not the clock
                iters = max(1, min(ITERS_PER_CALL, DETERMINISTIC_CALL_WORK // work))
            t0 = time.perf_counter()
            if self.stage == 2:
                code = self._pair_evals(iters, budget, ptr, jobs, arc, fo, fm, path, cnt)
            else:
                code = subgradient(
                    self.p, ptr, jobs, arc, self.mbit, ns, self.mu, self.best_mu,
                    float(self.ub), self.st, iters, path, cnt,
                )  # fmt: skip
            self.per_work = max(1e-10, (time.perf_counter() - t0) / (iters * work))
            self._take(float(self.st[0]))
            if code == 1:
                self.proved = True
                break
            if code == 2:
                self._path_sequence(path)
                break
            if self.stage == 1 and self.pairs and self.memory == 0 and self.st[1] < SWITCH_LAMBDA:
                code = 3  # converged enough: the pair DP gains more per second from here
            every = PAIR_ELIM_EVERY if self.stage == 2 else ELIM_EVERY
            if code == 3 or self.st[3] - last_elim >= every:
                if budget.remaining() < ELIM_COST * self.per_work * work:  # would overrun the budget
                    break
                last_elim = int(self.st[3])
                if budget.deterministic:  # the heuristic's share from the rounds, not the clock
                    due = rounds % DETERMINISTIC_REPAIR_EVERY == 0
                else:
                    due = repair_s <= REPAIR_SHARE * (time.perf_counter() - started)
                if self.stage == 2 and due:
                    r0 = time.perf_counter()
                    self._repair(path, cnt)
                    repair_s += time.perf_counter() - r0
                    removed, left, _ = peliminate(
                        self.p, self.d, self.w, self.prec, self.best_mu, self.allow, ptr, jobs, arc,
                        sptr, float(self.ub), fo, bo, fm, bm,
                    )  # fmt: skip
                else:
                    removed, left, _ = eliminate(
                        self.p, self.d, self.w, self.best_mu, self.allow, ptr, jobs, arc, self.mbit, ns,
                        float(self.ub),
                    )  # fmt: skip
                self.stats["arcs_left"] = left
                rounds += 1
                if left == 0:
                    self._prove_ub()
                    break
                if removed:
                    if self.master is not None:
                        self.master.purge(self.allow)
                    fm, bm = keep_masks(fm, bm, ptr, jobs, self.allow)
                    self.pmasks = (fm, bm) if fm.shape[0] else None
                    ptr, jobs, arc = arc_lists(self.allow, self.p, self.d, self.w)
                    sptr, bo = start_lists(ptr, jobs, self.p)
                    fo = np.arange(jobs.shape[0])
                    if np.bincount(jobs, minlength=n).min() == 0:  # a job no sequence < UB can place
                        self._prove_ub()
                        break
                    if removed >= BUMP_SHARE * left:  # a few arcs less do not justify longer steps
                        self.st[1] = max(self.st[1], LAMBDA_RESTART)
                if self.stage == 2 and self.graphs and (left <= GRAPH_ARCS or (code == 3 and not removed)):
                    self.stage = 3  # few arcs left, or the pair DP has converged: the memory graph
                    self.stats["stage2_evals"] = int(self.st[3])
                    self.stats["stage2_bound"] = round(self.bound, 2)
                    self.stats["stage2_end_s"] = round(time.perf_counter() - self.born, 3)
                    break
                if not removed and code == 3:
                    if self.stage == 1 and self.pairs and self.memory == 0:
                        self.stage = 2  # the pair DP keeps every memory-free state exactly
                        fm, bm = self._masks(ptr, jobs)
                        self.per_work *= PAIR_SLOWDOWN  # until its first call is timed
                        # its bound starts well above stage 1's: eliminate with it soon
                        last_elim = int(self.st[3]) - PAIR_ELIM_EVERY + PAIR_FIRST_ELIM
                        self.stats["stage1_evals"] = int(self.st[3])
                        self.stats["stage1_end_s"] = round(time.perf_counter() - self.born, 3)
                        self.stats["stage1_bound"] = round(self.bound, 2)
                    elif not self._grow(cnt, jobs.shape[0]):
                        break
                    elif self.stage == 2:
                        # memory jobs only exist in the stage-1 DP: go back to it on the arcs the pair
                        # DP left; its values start below the pair DP's, so its own best restarts
                        self.stage = 1
                        self.st[0] = -INF
                        self.stats["stage2_evals"] = int(self.st[3])
                    self.mu[:] = self.best_mu
                    self.st[1] = LAMBDA_RESTART
                    self.st[2] = 0
        self.stats["evals"] = int(self.st[3])
        self.stats["memory_jobs"] = self.memory
        self.stats["stage"] = self.stage
        if self.stage == 3 and not self.proved:
            self.run(budget, max_rounds=max(1, max_rounds - rounds))  # the graph, or the pair DP again

    def _pair_evals(
        self,
        iters: int,
        budget: Budget,
        ptr: np.ndarray,
        jobs: np.ndarray,
        arc: np.ndarray,
        sq: np.ndarray,
        fm: np.ndarray,
        path: np.ndarray,
        cnt: np.ndarray,
    ) -> int:
        """Up to ``iters`` evaluations of the pair DP (stage 2) by :meth:`_evals`."""

        def price(mu: np.ndarray, *buf: np.ndarray) -> tuple[float, int]:
            return pprice(self.p, self.d, self.w, self.prec, mu, ptr, jobs, arc, sq, fm, *buf)

        def steps(k: int, *buf: np.ndarray) -> int:
            return psubgradient(
                self.p, self.d, self.w, self.prec, ptr, jobs, arc, self.mu, self.best_mu,
                float(self.ub), self.st, k, path, cnt, PATIENCE, LAMBDA_MIN, sq, fm, *buf,
            )  # fmt: skip

        return self._evals(iters, budget, price, steps, path, cnt, records=True)

    def _evals(
        self,
        iters: int,
        budget: Budget,
        price: Callable[..., tuple[float, int]],
        steps: Callable[..., int],
        path: np.ndarray,
        cnt: np.ndarray,
        *,
        records: bool,
    ) -> int:
        """Up to ``iters`` evaluations of the pair DP or the memory graph, with the protocol of
        :func:`subgradient` (0 go on, 1 proved / no path, 2 the path is a sequence in ``path``, 3
        converged). ``steps(k, cnts, costs, lens, paths)`` runs k subgradient evaluations in one
        Numba call, with ``records`` each one's minimising path in a row of the buffers of
        :func:`solvers.smtt.pairdp.best_paths`; ``price(mu, cnts, costs, lens, paths)`` evaluates one
        μ (L(μ) and the best paths into the final states, best first). The first :data:`CG_AFTER`
        evaluations are subgradient steps whose paths seed the master of :mod:`solvers.smtt.colgen`;
        from then on the master proposes the multipliers (Wentges smoothing around ``best_mu``; each of
        the priced paths with a negative reduced cost joins it), one Python-level evaluation at a time.
        Without a master (``use_colgen`` off) every evaluation is a subgradient step. The column
        generation loop polls ``budget`` before each iteration and does not start one that the
        previous one's time says would not fit: its first call is sized from the cheaper subgradient
        evaluations, and each iteration adds an LP solve and up to two pricings."""
        n = self.p.shape[0]
        ub = float(self.ub)
        thr = self._thr()
        rows = max(CG_PATHS, ITERS_PER_CALL, GRAPH_EVALS)
        buf = self._cg_buf
        if buf is None or buf[3].shape[1] < self.T + 1:
            buf = self._cg_buf = (
                np.zeros((rows, n), dtype=np.int64),
                np.zeros(rows),
                np.zeros(rows, dtype=np.int64),
                np.zeros((rows, self.T + 1), dtype=np.int64),
            )
        cnts, costs, lens, paths = buf
        if self.master is None and self.use_colgen:
            self.master = colgen.Master(n, ub)
        master = self.master

        def add(k: int, duals: tuple[np.ndarray, float, float] | None) -> int:
            """Rows 0..k-1 of the buffers that join the master (all of them without duals)."""
            assert master is not None
            added = 0
            for r in range(k):
                rc = (
                    -math.inf if duals is None else master.reduced_cost(costs[r], cnts[r], duals[0], duals[1])
                )
                if rc < -colgen.RC_TOL:
                    master.add(costs[r], cnts[r], *self._arcs(paths[r], int(lens[r])))
                    added += 1
            return added

        def subgradient_steps(k: int) -> int:
            before = int(self.st[3])
            code = steps(k, *buf) if master is not None else steps(k, *(b[:0] for b in buf))
            done = int(self.st[3]) - before
            self.pair_evals += done
            if master is not None and records:
                add(min(done, rows), None)
            return code

        if master is None or self.pair_evals < CG_AFTER:
            k = iters if master is None else min(iters, CG_AFTER - self.pair_evals)
            return subgradient_steps(k)
        kp = CG_PATHS
        master.set_ub(ub)
        last_s = 0.0  # the previous iteration's time: one that would not fit is not started
        for _ in range(iters):
            if budget.should_stop() or budget.remaining() < last_s:
                return 0
            started = time.perf_counter()
            duals = master.duals(budget.remaining())
            if duals is None:  # no optimal master LP (e.g. out of time): one subgradient step
                code = subgradient_steps(1)
                if code:
                    return code
                continue
            mu_lp, _, z = duals
            if z - self.st[0] <= CG_STOP_SHARE * (ub - self.st[0]):
                # z is at least the dual optimum over the arcs left: little is left to gain here
                return 3
            for mu in (colgen.ALPHA * self.best_mu + (1.0 - colgen.ALPHA) * mu_lp, mu_lp):
                L, k = price(mu, cnts[:kp], costs[:kp], lens[:kp], paths[:kp])
                self.st[3] += 1
                self.pair_evals += 1
                if L >= INF:
                    self.st[0] = ub
                    return 1
                cnt[:] = cnts[0]
                m = min(int(lens[0]), n)
                path[:m] = paths[0, :m]  # the first n jobs from T backwards, as _repair reads them
                if self.st[0] + 1e-9 < L:
                    self.st[0] = L
                    self.best_mu[:] = mu
                    self.mu[:] = mu
                if lens[0] == n and cnt.max() == 1:  # a sequence: L is its cost
                    self.st[0] = L
                    path[:n] = paths[0, :n][::-1]
                    return 2
                if self.st[0] > thr:
                    return 1
                if add(k, duals):
                    break
            else:  # neither the smoothed point nor the LP duals price a column: the dual optimum
                return 3
            last_s = time.perf_counter() - started
        return 0

    def _arcs(self, ppath: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(completion times, jobs) of the arcs of a path of ``m`` arcs held from T backwards."""
        js = ppath[:m].copy()
        ts = self.T - np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(self.p[js])[:-1]))
        return ts, js

    def _masks(self, ptr: np.ndarray, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pair DP's masks (:func:`solvers.smtt.pairdp.pair_masks`) for the arc list, or empty
        ones (the kernels then test each pair) outside stage 2 or when they would be too large."""
        n = self.p.shape[0]
        if self.pmasks is not None and self.pmasks[0].shape[0] == jobs.shape[0]:
            return self.pmasks  # arcs are only removed: the same count is the same arcs
        words = mask_words(n, jobs.shape[0]) if self.stage == 2 else 0
        if words == 0:
            empty = np.zeros((0, 1), dtype=np.uint64)
            return empty, empty
        self.pmasks = pair_masks(self.p, self.d, self.w, self.prec, ptr, jobs, words)
        return self.pmasks

    def _run_graph(self, budget: Budget) -> bool:
        """Stage 3 (:mod:`solvers.smtt.memdp`): the pair DP on an explicit state graph; rounds of
        evaluation and pruning, then up to :data:`GRAPH_GROW` memory jobs (of those the minimising
        path uses other than once, the ones whose expansion splits the fewest states) while the graph
        stays within :data:`MAX_GRAPH_STATES` / :data:`MAX_GRAPH_EDGES`, then :data:`GRAPH_EVALS`
        subgradient evaluations. False when the arcs left are too many for the graph (nothing done)."""
        n = self.p.shape[0]
        T = self.T
        path = np.zeros(n, dtype=np.int64)
        cnt = np.zeros(n, dtype=np.int64)
        if self.graph is None:
            ptr, jobs, arc = arc_lists(self.allow, self.p, self.d, self.w)
            g = memdp.build(self.p, self.d, self.w, self.prec, ptr, jobs, arc, MAX_GRAPH_EDGES // 2)
            if g[0].shape[0] == 0:  # more edges than the graph may start with
                return False
            self.graph = g
            self.gbit = np.full(n, -1, dtype=np.int64)
            self.gmem = 0
            self.mu[:] = self.best_mu
            self.st[1] = LAMBDA_RESTART
            self.st[2] = 0
        assert self.gbit is not None
        per_work = 1e-8
        while not self.proved and not budget.should_stop():
            g = self.graph
            full = (1 << self.gmem) - 1
            work = g[0].shape[0] + g[5].shape[0]
            if (ELIM_COST * per_work + GRAPH_WRITE_S) * work > budget.remaining():
                break
            t0 = time.perf_counter()
            F = np.empty(g[0].shape[0])
            G = np.empty(g[0].shape[0])
            L = memdp.evaluate(*g, self.p, T, full, self.best_mu, F, G, cnt)
            if L >= INF:  # no path: no sequence of cost < UB
                self._prove_ub()
                break
            self._take(L)
            if self.proved:
                break
            g = memdp.prune(*g, self.best_mu, F, G, float(self.best_mu.sum()), self._thr())
            self.graph = g
            per_work = max(1e-10, (time.perf_counter() - t0) / (ELIM_COST * work))
            placed = np.bincount(g[1], minlength=n)
            if g[0].shape[0] == 0 or placed.min() == 0:  # some job has no state left
                self._prove_ub()
                break
            # the jobs the minimising path uses other than once, those whose expansion splits the
            # fewest states first (see memdp: the states within the job's window are the ones split).
            # An expansion only drops states, so these windows stay valid (if wider) bounds after it.
            lo, hi = memdp.windows(g[0], g[1], n)
            bad = sorted(
                (int(j) for j in np.nonzero((cnt != 1) & (self.gbit < 0))[0]),
                key=lambda j: memdp.split_estimate(g[0], self.p, lo, hi, j),
            )
            for j in bad[:GRAPH_GROW]:
                g = self.graph
                if (
                    2 * g[0].shape[0] > MAX_GRAPH_STATES
                    or 2 * g[5].shape[0] > MAX_GRAPH_EDGES
                    or self.gmem >= 62
                    # an expansion writes about twice the graph into fresh memory and the next round
                    # evaluates that: not started when it would not fit in the time left (wt100 #61
                    # overran by 50 ms, wt50 #9 by 119 ms when the 6M-entry graph took 0.27 s)
                    or (2 * GRAPH_WRITE_S + 3 * ELIM_COST * per_work) * (g[0].shape[0] + g[5].shape[0])
                    > budget.remaining()
                ):
                    break
                try:
                    self.graph = memdp.expand(*g, self.p, j, self.gmem, int(lo[j]), int(hi[j]))
                except MemoryError:  # a worker's address-space limit: keep the graph as it is
                    self.stats["graph_memory_error"] = True
                    break
                self.gbit[j] = self.gmem
                self.gmem += 1
            self.stats["graph_memory_jobs"] = self.gmem
            self.stats["graph_states"] = int(self.graph[0].shape[0])
            self.stats["graph_edges"] = int(self.graph[5].shape[0])
            g = self.graph
            full = (1 << self.gmem) - 1
            work = g[0].shape[0] + g[5].shape[0]
            fit = min(CALL_SECONDS * 5, 0.5 * budget.remaining()) / (per_work * work)
            iters = max(1, min(GRAPH_EVALS, int(fit)))
            if budget.deterministic:
                iters = max(1, min(GRAPH_EVALS, DETERMINISTIC_CALL_WORK // work))
            self.mu[:] = self.best_mu
            if self.master is not None:  # the columns this graph cannot carry go
                on_graph = np.zeros_like(self.allow)
                on_graph[g[0], g[1]] = 1
                self.master.purge(on_graph, np.nonzero(self.gbit >= 0)[0])

            def price(mu: np.ndarray, *buf: np.ndarray, g: memdp.Graph = g, full: int = full) -> tuple:
                return memdp.price(*g, self.p, T, full, mu, *buf)

            def steps(k: int, *_buf: np.ndarray, g: memdp.Graph = g, full: int = full) -> int:
                return memdp.subgradient(
                    *g, self.p, T, full, self.mu, self.best_mu, float(self.ub), self.st, k, path, cnt,
                    PATIENCE, LAMBDA_MIN,
                )  # fmt: skip

            code = self._evals(iters, budget, price, steps, path, cnt, records=False)
            self._take(float(self.st[0]))
            if code == 1:
                self.proved = True
            elif code == 2:
                self._path_sequence(path)
        self.stats["evals"] = int(self.st[3])
        return True

    def _thr(self) -> float:
        return self.ub - 1.0 + EPS * max(1.0, abs(self.ub))

    def _path_sequence(self, path: np.ndarray) -> None:
        """The relaxation's minimising path is a sequence (``path``, in order) whose cost is the
        bound: record it when it beats the upper bound, and the bound proves it."""
        if self.st[0] < self.ub:
            self.adopt(path)
        self.proved = True

    def _grow(self, cnt: np.ndarray, arcs: int) -> bool:
        """Add up to :data:`GROW` jobs that the last minimising path used other than once to the
        memory set (each one's bit in the DP state forbids it a second time on a path)."""
        cand = [
            int(j) for j in np.argsort(-np.abs(1 - cnt), kind="stable") if cnt[j] != 1 and self.mbit[j] < 0
        ]
        added = 0
        for j in cand:
            ns = 1 << (self.memory + 1)
            if added == GROW or (self.T + 1) * ns > MAX_STATES or arcs * ns > MAX_WORK:
                break
            self.mbit[j] = self.memory
            self.memory += 1
            added += 1
        return added > 0

    def _repair(self, path: np.ndarray, cnt: np.ndarray) -> None:
        """Lagrangian heuristic: order the jobs by their mean completion time on the last minimising
        path (``path`` holds its last arcs, from T backwards; a job it misses keeps its completion time
        in the UB sequence), improve that sequence by a dynasearch descent, and take it as the new UB
        when it is cheaper. A lower UB keeps every earlier elimination valid (an arc used by no
        sequence of cost < UB is used by none of cost < a smaller UB) and tightens the later ones."""
        if self.ub_c is None:
            return
        n = self.p.shape[0]
        k = min(int(cnt.sum()), n)
        kept = path[:k]
        comp = self.T - np.cumsum(self.p[kept]) + self.p[kept]
        sums = np.zeros(n)
        num = np.zeros(n)
        np.add.at(sums, kept, comp)
        np.add.at(num, kept, 1.0)
        key = self.ub_c.copy()
        seen = num > 0
        key[seen] = sums[seen] / num[seen]
        seq = np.argsort(key, kind="stable").astype(np.int64)
        c = dyna_descent(seq, self.p, self.d, self.w)
        self.stats["repairs"] = self.stats.get("repairs", 0) + 1
        if c < self.ub:
            self.adopt(seq)
            self.stats["repair_improved"] = self.stats.get("repair_improved", 0) + 1
            self._take(self.bound)

    def adopt(self, local: np.ndarray) -> None:
        """Take the sequence ``local`` (of the non-zero-length jobs, as indices into them) as the new
        incumbent when it is cheaper: UB, its completion times, and :attr:`sequence`."""
        zero = np.setdiff1d(np.arange(self.inst.n), self.jobs_idx)
        seq = np.concatenate((zero, self.jobs_idx[local])).astype(np.int64)
        c = cost(self.inst, seq)
        if c >= self.ub:
            return
        self.sequence = seq
        self.ub = int(c)
        self.ub_c = np.empty(self.p.shape[0])
        self.ub_c[local] = np.cumsum(self.p[local])

    def _take(self, value: float) -> None:
        v = min(value, float(self.ub))
        if v > self.bound:
            self.bound = v
        if self.bound > self._thr():
            self.bound = float(self.ub)
            self.proved = True

    def _prove_ub(self) -> None:
        """No sequence of cost < UB is left (no path, no arc or state for some job): UB is optimal."""
        self.bound = float(self.ub)
        self.proved = True


def warm() -> None:
    """Compile every kernel of this module with the signatures :meth:`Lagrangian.run` uses."""
    inst = Instance.from_arrays([3, 1, 2, 4, 2], [2, 1, 6, 3, 4], [1, 2, 1, 3, 2])
    lag = Lagrangian.build(inst, np.arange(5, dtype=np.int64))
    assert lag is not None
    ptr, jobs, arc = arc_lists(lag.allow, lag.p, lag.d, lag.w)
    path = np.zeros(5, dtype=np.int64)
    cnt = np.zeros(5, dtype=np.int64)
    lag.mbit[1] = 0
    subgradient(lag.p, ptr, jobs, arc, lag.mbit, 2, lag.mu, lag.best_mu, 40.0, lag.st, 2, path, cnt)
    eliminate(lag.p, lag.d, lag.w, lag.best_mu, lag.allow, ptr, jobs, arc, lag.mbit, 2, 40.0)
    sptr, sidx = start_lists(ptr, jobs, lag.p)
    fm, bm = pair_masks(lag.p, lag.d, lag.w, lag.prec, ptr, jobs, 1)
    bufs = (
        np.zeros((2, 5), dtype=np.int64), np.zeros(2), np.zeros(2, dtype=np.int64),
        np.zeros((2, lag.T + 1), dtype=np.int64),
    )  # fmt: skip
    pprice(lag.p, lag.d, lag.w, lag.prec, lag.mu, ptr, jobs, arc, np.arange(jobs.shape[0]), fm, *bufs)
    psubgradient(
        lag.p, lag.d, lag.w, lag.prec, ptr, jobs, arc, lag.mu, lag.best_mu, 40.0, lag.st, 2, path, cnt,
        PATIENCE, LAMBDA_MIN, np.arange(jobs.shape[0]), fm, *bufs,
    )  # fmt: skip
    psubgradient(
        lag.p, lag.d, lag.w, lag.prec, ptr, jobs, arc, lag.mu, lag.best_mu, 40.0, lag.st, 2, path, cnt,
        PATIENCE, LAMBDA_MIN, np.arange(jobs.shape[0]), fm, *(b[:0] for b in bufs),
    )  # fmt: skip
    peliminate(
        lag.p, lag.d, lag.w, lag.prec, lag.best_mu, lag.allow, ptr, jobs, arc, sptr, 40.0,
        np.arange(jobs.shape[0]), sidx.copy(), fm, bm,
    )  # fmt: skip
    dyna_descent(np.arange(5, dtype=np.int64), lag.p, lag.d, lag.w)  # writable arrays: not ids' signature
    lag.stage = 3
    lag.run(Budget(deterministic=True))  # the memory graph's kernels (stage 3)


def close_cpsat(lag: Lagrangian, budget: Budget) -> Limit:
    """Stage 4: CP-SAT on the arcs left (see the module docstring). Updates ``lag`` (bound, proved,
    sequence) and returns the limit CP-SAT stopped at."""
    n = lag.p.shape[0]
    p = [int(x) for x in lag.p]
    d = [int(x) for x in lag.d]
    w = [int(x) for x in lag.w]
    ub = int(lag.ub)
    if lag.graph is not None:
        # an arc that no state (t, j, S) of the pruned memory graph carries is used by no sequence of
        # cost < UB that obeys the precedences and the pair rule (solvers.smtt.memdp): it leaves the
        # model too (wt100 #18 after 9 s: 16,767 -> 16,272 arcs, and CP-SAT proved it in 1.3 s)
        on_graph = np.zeros_like(lag.allow)
        on_graph[lag.graph[0], lag.graph[1]] = 1
        lag.allow &= on_graph
    m = cp_model.CpModel()
    starts = []
    for j in range(n):
        ends = np.nonzero(lag.allow[:, j])[0]
        ends = ends[ends >= p[j]]
        if ends.size == 0:  # no arc left for j: no sequence beats UB
            lag.bound, lag.proved = float(ub), True
            return Limit.NONE
        dom = cp_model.Domain.from_values([int(x) - p[j] for x in ends])
        starts.append(m.new_int_var_from_domain(dom, f"s{j}"))
    m.add_no_overlap([m.new_fixed_size_interval_var(starts[j], p[j], f"i{j}") for j in range(n)])
    sub = Instance.from_arrays(p, d, w)
    for i, j in precedence_pairs(sub):
        m.add(starts[i] + p[i] <= starts[j])
    terms = []
    for j in range(n):
        if w[j] == 0 or d[j] >= lag.T:
            continue
        tj = m.new_int_var(0, lag.T - d[j], f"t{j}")
        m.add(tj >= starts[j] + p[j] - d[j])
        terms.append(w[j] * tj)
    obj = cp_model.LinearExpr.sum(terms) if terms else cp_model.LinearExpr.constant(0)
    m.add(obj <= ub - 1)
    lb = math.ceil(lag.bound - EPS * max(1.0, abs(lag.bound))) if math.isfinite(lag.bound) else 0
    if lb > 0:
        m.add(obj >= lb)
    m.minimize(obj)
    out = solve_cpsat(m, budget, params=CPSAT_PARAMS)
    if out.infeasible:
        lag.bound, lag.proved = float(ub), True
        return Limit.NONE
    if out.has_solution:
        vals = np.array([out.solver.value(s) for s in starts], dtype=np.int64)
        # the better sequence is the UB of the rounds that follow (a lower UB keeps every elimination
        # valid, see Lagrangian._repair)
        lag.adopt(np.argsort(vals, kind="stable"))
    if out.bound is not None:
        # a bound on the sequences of cost < UB that use only arcs left: min(UB, it) bounds them all
        lag._take(min(float(ub), float(out.bound)))
    return out.limit


def _sliced_rounds(lag: Lagrangian, budget: Budget) -> int:
    """The Lagrangian rounds on the whole budget; with at least :data:`CPSAT_TRY_MIN_BUDGET` (finite,
    not deterministic) in slices of :data:`CPSAT_EVERY_SHARE` with a stage-4 try of
    :data:`CPSAT_TRY_SHARE` after each and one try's time left at the end (module docstring: with a
    tight UB the arcs left often make CP-SAT's model infeasible long before the bound reaches UB - 1).
    Returns the number of tries made."""
    total = budget.remaining()
    if budget.deterministic or not CPSAT_TRY_MIN_BUDGET <= total < math.inf:
        lag.run(budget)
        return 0
    try_s = max(CPSAT_MIN_S, CPSAT_TRY_SHARE * total)
    slice_s = CPSAT_EVERY_SHARE * total
    tries = 0
    while not lag.proved and budget.remaining() > slice_s + 2 * try_s:
        before = budget.remaining()
        lag.run(budget.child(seconds=slice_s))
        if lag.proved or budget.should_stop():
            return tries
        close_cpsat(lag, budget.child(seconds=try_s))
        tries += 1
        if before - budget.remaining() < 0.5 * slice_s:
            return tries  # the rounds stopped early (nothing more they can do): CP-SAT gets the rest
    if not lag.proved:
        lag.run(budget.child(seconds=budget.remaining() - try_s))
    return tries


def _start(inst: Instance, hint: Any) -> np.ndarray:
    h = hint_sequence(inst, hint)
    if h is None:
        h, _, _ = best_rule(inst)
    return h


@register(PROBLEM, "ssdp", "exact", "Lagrangian time-indexed bound (SSDP-style DP, elimination) + CP-SAT")
def run_ssdp(inst: Instance, budget: Budget, hint: Any) -> Result:
    seq = _start(inst, hint)
    ub = cost(inst, seq)
    lag = Lagrangian.build(inst, seq)
    if lag is None:
        return result("ssdp", seq, limit=budget.limit_reason(), stats={"skipped": "too large"})
    t0 = budget.elapsed()
    tries = _sliced_rounds(lag, budget)
    lag.stats["lagrange_s"] = round(budget.elapsed() - t0, 4)
    lag.stats["lagrange_bound"] = lag.bound if math.isfinite(lag.bound) else None
    lim = budget.limit_reason()
    if not lag.proved and budget.remaining() >= CPSAT_MIN_S:
        # CP-SAT's own wall-clock stop and the model build run late on a loaded machine: keep a margin
        lim = close_cpsat(lag, budget.child(seconds=budget.remaining() - CPSAT_MARGIN_S))
        tries += 1
    lag.stats["cpsat_tries"] = tries
    if lag.proved:
        lim = Limit.NONE
    if lag.sequence is not None and cost(inst, lag.sequence) < ub:
        seq = lag.sequence
    return result("ssdp", seq, limit=lim, bound=lag.bound, bound_source="ssdp", stats=lag.stats)


__all__ = ["Lagrangian", "close_cpsat", "run_ssdp"]
