"""Multipliers for the pair DP and the memory graph (stages 2 and 3 of :mod:`solvers.smtt.lagrange`) by
column generation.

Why
---
The subgradient method stalls far from the pair DP's Lagrangian dual optimum in the seconds a 10 s
budget leaves it. Solved to optimality by column generation (on the arcs stage 1 leaves, no further
elimination, 20-40 s per instance), that optimum lies 0.017-0.204 % below the optimum on 10 of the 14
wt100 instances the subgradient version left unproved at 10 s (#19 0.017, #58 0.029, #61 0.204 %;
the others #62 0.39, #60 0.61, #31 0.67, #107 5.2 %), while the subgradient version ended its 10 s
runs further off (#14 0.097, #34 0.85, #58 0.84-0.98, #31 0.92, #60 1.2-1.5 %). Column generation
converges where the subgradient stalls, but from the stage-1 multipliers it first needs hundreds of
evaluations before its master LP says anything (the "all jobs once" column below decides the LP until
the paths can cover every job exactly once more cheaply). So the first subgradient steps of stage 2
stay, and their paths seed the master: in a prototype without elimination (load 1), 2 / 4 s of
subgradient steps then 6 / 4 s of column generation ended #58 at 0.42 / 0.40 % and #31 at 0.90 /
0.71 %, 8 s of subgradient steps at 1.0 and 0.95 %. Taking subgradient steps instead while the LP's
value was still UB kept it from ever heading in (#37, one path per pricing: 1,024 columns, value
still UB after 9 s), so once column generation starts it prices every point.

Method (Dantzig-Wolfe master, Wentges smoothing)
------------------------------------------------
A column is a path P of the relaxation: its job counts a_jP and its cost c_P = Σ f_j(t) over its
arcs. The master LP over the columns known so far is::

    z = min Σ_P c_P λ_P   s.t.  Σ_P a_jP λ_P = 1 (every job j),  Σ_P λ_P = 1,  λ >= 0

plus one column "all jobs once, cost UB" (the incumbent's counts), which keeps it feasible and cuts
off nothing: in the dual it adds Σμ + π <= UB, and at the dual optimum Σμ + π = max L(μ) <= the
optimum <= UB already. Its duals (μ_LP, π) are the multipliers the columns suggest; the DP is priced
at the smoothed point μ = α·μ* + (1 - α)·μ_LP (μ* the best multipliers so far, :data:`ALPHA`). One
evaluation gives a path into each final state (each last job at time T), and the best
``CG_PATHS`` of them with reduced cost c_P - a_P·μ_LP - π < 0 join the master; when the smoothed
point gives none (a mis-price) the DP is priced at μ_LP itself, and when that gives none either, z
is the dual optimum over the current arcs (converged). Since z is never below that optimum, the
pair DP also counts as converged once z - L* <= ``CG_STOP_SHARE``·(UB - L*): on wt100 #87 (one path
per pricing) the exact convergence took until 6.3 s and the memory graph, which the subgradient
version reached and proved it with, was never entered; with the rule it was, and #87 was proved at
7 s.

Validity does not depend on the master at all: every bound is L(μ) of a DP evaluation, a valid
bound for any μ (:mod:`solvers.smtt.lagrange`). The master only proposes μ. Columns a relaxation no
longer carries are dropped (:meth:`Master.purge`: after an arc elimination those on a removed arc;
in the memory graph those on an arc no state carries or using a memory job other than once), in
place, so HiGHS keeps its basis warm, and each LP solve is limited to the time the budget has left.
(In the one wt100 10 s run that still rebuilt the model after every purge, #40 ended at 10.175 s; the
cause was not isolated. With in-place deletion and the limit, the slowest of the 125 took 10.057 s.)
"""

from __future__ import annotations

import math

import numpy as np

#: smoothing weight of the best multipliers in the pricing point (prototype on wt100 #58, one run each:
#: 3 s of subgradient then 5 s of column generation, 0.7 / 0.8 / 0.95 ended 0.79 / 0.61 / 0.58 % below
#: the optimum, 0.9 seeded with only the last 100 paths 0.53 %; 8 s of column generation from the
#: stage-1 multipliers, 0.5 / 0.8 / 0.9 / 0.95: 2.1 / 0.68 / 0.57 / 0.53 %)
ALPHA = 0.9
#: columns kept in the master; the oldest go first above this
MAX_COLUMNS = 1500
#: reduced cost below which a path is a new column
RC_TOL = 1e-6


class Master:
    """The master LP of the module docstring over ``n`` jobs, on HiGHS (one thread, no output)."""

    def __init__(self, n: int, ub: float) -> None:
        self.n = n
        self.ub = float(ub)
        self.cost: list[float] = []
        self.cnt: list[np.ndarray] = []
        self.arcs: list[tuple[np.ndarray, np.ndarray]] = []  # (completion times, jobs) of each path
        self._h = None
        self._in_lp = 0  # columns of self.cost already in the HiGHS model

    def add(self, cost: float, cnt: np.ndarray, ts: np.ndarray, js: np.ndarray) -> None:
        """A path of cost ``cost`` with job counts ``cnt`` and arcs (``ts[k]``, ``js[k]``)."""
        self.cost.append(float(cost))
        self.cnt.append(cnt.astype(np.float64))
        self.arcs.append((ts.copy(), js.copy()))
        if len(self.cost) > MAX_COLUMNS:  # the oldest third goes
            self._keep(list(range(MAX_COLUMNS // 3, len(self.cost))))

    def purge(self, allow: np.ndarray, once: np.ndarray | None = None) -> int:
        """Drop the columns that use an arc no longer in ``allow`` (T + 1 x n) or, with ``once``
        (memory jobs of :mod:`solvers.smtt.memdp`), use one of those jobs other than once; returns
        how many."""
        keep = [
            k
            for k, (ts, js) in enumerate(self.arcs)
            if allow[ts, js].all() and (once is None or (self.cnt[k][once] == 1).all())
        ]
        dropped = len(self.cost) - len(keep)
        if dropped:
            self._keep(keep)
        return dropped

    def set_ub(self, ub: float) -> None:
        """A better incumbent: the "all jobs once" column costs its value."""
        if ub < self.ub:
            self.ub = float(ub)
            if self._h is not None:
                self._h.changeColCost(0, self.ub)

    def reduced_cost(self, cost: float, cnt: np.ndarray, mu: np.ndarray, pi: float) -> float:
        return float(cost - cnt @ mu - pi)

    def duals(self, seconds: float = math.inf) -> tuple[np.ndarray, float, float] | None:
        """(μ_LP, π, z) of the master over the columns so far, or None when HiGHS does not report an
        optimal LP within ``seconds`` (the caller then takes a subgradient step)."""
        import highspy

        h = self._h
        if h is None:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("threads", 1)
            empty_i = np.zeros(0, dtype=np.int32)
            empty_v = np.zeros(0)
            for _ in range(self.n + 1):
                h.addRow(1.0, 1.0, 0, empty_i, empty_v)
            idx = np.arange(self.n + 1, dtype=np.int32)
            h.addCol(self.ub, 0.0, highspy.kHighsInf, self.n + 1, idx, np.ones(self.n + 1))
            self._h = h
            self._in_lp = 0
        for k in range(self._in_lp, len(self.cost)):
            c = self.cnt[k]
            nz = np.nonzero(c)[0]
            idx = np.append(nz, self.n).astype(np.int32)
            val = np.append(c[nz], 1.0)
            h.addCol(self.cost[k], 0.0, highspy.kHighsInf, idx.shape[0], idx, val)
        self._in_lp = len(self.cost)
        h.setOptionValue("time_limit", max(1e-3, seconds) if math.isfinite(seconds) else highspy.kHighsInf)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        y = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        return y[: self.n].copy(), float(y[self.n]), float(h.getInfo().objective_function_value)

    def _keep(self, keep: list[int]) -> None:
        """Keep only the columns ``keep`` (ascending); the HiGHS model loses the others in place, so
        its basis stays warm (a cold re-solve of 1,500 columns cost 0.1-0.2 s on wt100)."""
        gone = np.setdiff1d(np.arange(len(self.cost)), np.asarray(keep, dtype=np.int64))
        in_lp = gone[gone < self._in_lp]
        if self._h is not None and in_lp.size:
            self._h.deleteCols(int(in_lp.size), (in_lp + 1).astype(np.int32))  # column 0 is the UB's
        self._in_lp -= int(in_lp.size)
        self.cost = [self.cost[k] for k in keep]
        self.cnt = [self.cnt[k] for k in keep]
        self.arcs = [self.arcs[k] for k in keep]


__all__ = ["ALPHA", "MAX_COLUMNS", "RC_TOL", "Master"]
