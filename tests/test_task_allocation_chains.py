"""The tabu kernel's move choice against a brute-force scan of its neighbourhood.

:func:`solvers.task_allocation._kernels.tabu_search` evaluates the last link of every ejection chain
(k: b -> e) from a per-iteration table instead of per (j, k) pair; one iteration must still take a
move of the smallest penalised value among all admissible shifts, swaps and chains.
"""

from __future__ import annotations

import math

import numpy as np

from solvers.task_allocation import _kernels as K


def _penalised(
    assign: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, pw: np.ndarray
) -> tuple[float, int]:
    """cost + Σ pw · excess, and the total excess."""
    n = len(assign)
    loads = np.zeros_like(cap)
    for j in range(n):
        loads[:, assign[j]] += dem[:, j, assign[j]]
    over = np.maximum(loads - cap, 0)
    return float(cost[np.arange(n), assign].sum() + (pw * over).sum()), int(over.sum())


def _brute_best(
    assign: np.ndarray,
    cost: np.ndarray,
    dem: np.ndarray,
    cap: np.ndarray,
    pw: np.ndarray,
    tabu: np.ndarray,
    cand: np.ndarray,
    allowed: np.ndarray,
    it: int,
    best: float,
) -> float:
    """The smallest penalised change over every admissible shift / swap / length-2 chain."""
    n = len(assign)
    base, _ = _penalised(assign, cost, dem, cap, pw)
    top = math.inf

    def consider(moves: list[tuple[int, int]]) -> None:
        nonlocal top
        y = assign.copy()
        for j, i in moves:
            y[j] = i
        val, over = _penalised(y, cost, dem, cap, pw)
        c = float(cost[np.arange(n), y].sum())
        free = all(tabu[j, i] <= it for j, i in moves)
        if free or (over == 0 and c < best):
            top = min(top, val - base)

    for j in range(n):
        a = assign[j]
        for i in cand[j]:
            if i < 0 or i == a or not allowed[j, i]:
                continue
            consider([(j, i)])
        for b in cand[j]:
            if b < 0 or b == a:
                continue
            for k in np.flatnonzero(assign == b):
                if allowed[k, a]:
                    consider([(j, b), (k, a)])
                for e in cand[k]:
                    if e < 0 or e in (a, b):
                        continue
                    consider([(j, b), (k, e)])
    return top


def test_one_iteration_takes_a_best_admissible_move() -> None:
    rng = np.random.default_rng(5)
    for trial in range(60):
        R, m, n, k = 1 + trial % 2, 5, 24, 3
        dem = rng.integers(1, 20, size=(R, n, m)).astype(np.int64)
        cost = (40 - dem[0] + rng.integers(-5, 6, size=(n, m))).astype(np.float64)
        tight = (0.8, 1.0, 1.6)[trial % 3]  # 1.6: feasible neighbours, so aspiration applies
        cap = np.full((R, m), int(tight * dem.sum() / (R * m * m)), np.int64)
        allowed = rng.random((n, m)) < 0.9
        allowed[np.arange(n), rng.integers(0, m, n)] = True
        cand = np.full((n, k), -1, np.int64)
        for j in range(n):
            ok = np.flatnonzero(allowed[j])
            ok = ok[np.argsort(cost[j, ok], kind="mergesort")][:k]
            cand[j, : len(ok)] = ok
        assign = np.array([rng.choice(cand[j][cand[j] >= 0]) for j in range(n)], np.int64)
        loads = np.zeros((R, m), np.int64)
        members = np.zeros((m, n), np.int64)
        cnt = np.zeros(m, np.int64)
        pos = np.zeros(n, np.int64)
        K.ts_rebuild(assign, dem, loads, members, cnt, pos)
        pw = rng.uniform(0.5, 4.0, size=(R, m))
        it = 100
        tabu = np.where(rng.random((n, m)) < (0.3, 0.8, 1.0, 0.5, 1.0)[trial % 5], it + 5, 0).astype(np.int64)
        cur = float(cost[np.arange(n), assign].sum())
        best_cost = (math.inf, cur - 3.0, cur + 20.0, cur - 20.0)[trial % 4]
        expect = _brute_best(assign, cost, dem, cap, pw, tabu, cand, allowed, it, best_cost)
        before, _ = _penalised(assign, cost, dem, cap, pw)
        pw_old = pw.copy()
        # fs: best, w0, growth, floor, chain partners, tenure, shifts restricted, swap partners
        fs = np.array([best_cost, 1.0, 1.01, 1e-3, float(n), 0.1, 1.0, float(n)])
        st = np.array([it, it, 12345, 0], np.int64)
        K.tabu_search(
            assign, loads, pw, tabu, members, cnt, pos, assign.copy(), fs, st, cost, dem, cap, allowed, cand,
            1, 10**9, -math.inf,
        )  # fmt: skip
        after, _ = _penalised(assign, cost, dem, cap, pw_old)
        if math.isinf(expect):  # every move tabu and none aspirated: the kernel stops without one
            assert after == before, trial
        else:
            assert math.isclose(after - before, expect, abs_tol=1e-9), (trial, after - before, expect)
