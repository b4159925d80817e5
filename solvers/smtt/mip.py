"""Reference MIP for SMTT on HiGHS (kind ``exact``, name ``mip``), for small n (<= :data:`MAX_N`).

Linear-ordering formulation (no big-M): a binary y_ij for each pair i < j, 1 when i runs before j.
Completion times are linear in y: C_j = p_j + Σ_{i<j} p_i y_ij + Σ_{i>j} p_i (1 - y_ji). Tardiness
T_j >= C_j - d_j, T_j >= 0; minimise Σ w_j T_j. The order is made transitive (acyclic) by the two
triangle inequalities per triple i < j < k: y_ij + y_jk - y_ik <= 1 and y_ik - y_ij - y_jk <= 0, which
exclude both directed 3-cycles (and a tournament without 3-cycles is a linear order). Every pair
fixed by the proved dominance ≺ of :mod:`solvers.smtt.dominance` gets its y fixed. O(n^2) variables
and O(n^3) rows, so this is a reference model for n <= 30, not a competitor to CP-SAT.

The hint (or the best rule's sequence) is passed with ``setSolution``. The bound is HiGHS's MIP dual
bound (``bound_source = "mip"``).
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.highs import new_highs, run_highs
from solvers.registry import register
from solvers.result import Result
from solvers.smtt.common import hint_sequence, result
from solvers.smtt.dominance import precedes_matrix
from solvers.smtt.rules import best_rule

MAX_N = 30


def _pair_index(n: int) -> np.ndarray:
    idx = -np.ones((n, n), dtype=np.int64)
    k = 0
    for i in range(n):
        for j in range(i + 1, n):
            idx[i, j] = k
            k += 1
    return idx


def build(inst: Instance, budget: Budget, hint: np.ndarray | None) -> tuple[highspy.Highs, np.ndarray]:
    n = inst.n
    p = inst.p.astype(float)
    d = inst.d.astype(float)
    w = inst.w.astype(float)
    pid = _pair_index(n)
    m = n * (n - 1) // 2
    prec = precedes_matrix(inst)
    lo = np.zeros(m + n)
    hi = np.concatenate([np.ones(m), np.full(n, highspy.kHighsInf)])
    for i in range(n):
        for j in range(i + 1, n):
            if prec[i, j]:
                lo[pid[i, j]] = 1.0
            elif prec[j, i]:
                hi[pid[i, j]] = 0.0
    h = new_highs(budget)
    cost = np.concatenate([np.zeros(m), w])
    h.addCols(m + n, cost, lo, hi, 0, np.zeros(m + n, dtype=np.int32), np.zeros(0, np.int32), np.zeros(0))
    h.changeColsIntegrality(
        m, np.arange(m, dtype=np.int32), np.full(m, int(highspy.HighsVarType.kInteger), dtype=np.uint8)
    )
    rows_lo: list[float] = []
    rows_hi: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []

    def row(cols: list[int], vals: list[float], low: float, up: float) -> None:
        starts.append(len(index))
        index.extend(cols)
        value.extend(vals)
        rows_lo.append(low)
        rows_hi.append(up)

    inf = highspy.kHighsInf
    for j in range(n):
        cols = [m + j]
        vals = [1.0]
        rhs = p[j] - d[j]
        for i in range(n):
            if i < j:
                cols.append(int(pid[i, j]))
                vals.append(-p[i])
            elif i > j:
                cols.append(int(pid[j, i]))
                vals.append(p[i])
                rhs += p[i]
        row(cols, vals, rhs, inf)
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                a, b, c = int(pid[i, j]), int(pid[j, k]), int(pid[i, k])
                row([a, b, c], [1.0, 1.0, -1.0], -inf, 1.0)
                row([a, b, c], [-1.0, -1.0, 1.0], -inf, 0.0)
    h.addRows(
        len(rows_lo),
        np.asarray(rows_lo),
        np.asarray(rows_hi),
        len(index),
        np.asarray(starts, dtype=np.int32),
        np.asarray(index, dtype=np.int32),
        np.asarray(value),
    )
    if hint is not None:
        pos = np.empty(n, dtype=np.int64)
        pos[hint] = np.arange(n)
        x = np.zeros(m + n)
        for i in range(n):
            for j in range(i + 1, n):
                x[pid[i, j]] = 1.0 if pos[i] < pos[j] else 0.0
        t = 0
        for j in hint:
            t += int(inst.p[j])
            x[m + j] = max(0, t - int(inst.d[j]))
        h.setSolution(m + n, np.arange(m + n, dtype=np.int32), x)
    return h, pid


def decode(inst: Instance, x: np.ndarray, pid: np.ndarray) -> np.ndarray:
    """Order by the number of predecessors (exact for a linear order; a robust rounding otherwise)."""
    n = inst.n
    before = np.zeros(n)
    for i in range(n):
        for j in range(i + 1, n):
            y = x[pid[i, j]]
            before[j] += y
            before[i] += 1.0 - y
    return np.lexsort((np.arange(n), np.round(before, 6))).astype(np.int64)


@register(PROBLEM, "mip", "exact", f"linear-ordering MIP on HiGHS with dominance fixing (n <= {MAX_N})")
def run_mip(inst: Instance, budget: Budget, hint: Any) -> Result:
    if inst.n > MAX_N:
        return result("mip", None, stats={"skipped": f"n = {inst.n} > {MAX_N}"})
    h_seq = hint_sequence(inst, hint)
    if h_seq is None:
        h_seq, _, _ = best_rule(inst)
    h, pid = build(inst, budget, h_seq)
    out = run_highs(h, budget)
    seq = None if out.x is None else decode(inst, out.x, pid)
    info = h.getInfo()
    stats = {"nodes": int(info.mip_node_count), "model_status": h.modelStatusToString(out.model_status)}
    return result("mip", seq, limit=out.limit, bound=out.bound, bound_source="mip", stats=stats)
