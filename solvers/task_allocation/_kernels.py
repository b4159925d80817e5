"""Numba kernels of the task-allocation heuristics (construction, repair, local search).

Every kernel works on plain arrays prepared by :mod:`solvers.task_allocation._data`:

``f`` / ``cost``  m x n float64 (desirability or cost, minimised);
``dem``           R x m x n int64 demands of the *capacitated* resources only (R may be 0);
``cap``           R x m int64 capacities;
``allowed``       m x n bool (forbidden pairs and pairs that exceed a capacity alone are False).

Kernels never loop unboundedly: the local searches take a number of passes / moves and return how
many improving moves they made, so the Python caller polls the budget between calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True)
def _fits(dem: np.ndarray, resid: np.ndarray, i: int, j: int) -> bool:
    for r in range(dem.shape[0]):  # noqa: SIM110 (Numba: no generator all())
        if dem[r, i, j] > resid[r, i]:
            return False
    return True


@njit(cache=True)
def _top2(
    f: np.ndarray, dem: np.ndarray, resid: np.ndarray, allowed: np.ndarray, j: int
) -> tuple[int, float, int, float]:
    b1, v1, b2, v2 = -1, INF, -1, INF
    for i in range(f.shape[0]):
        if not allowed[i, j] or not _fits(dem, resid, i, j):
            continue
        v = f[i, j]
        if v < v1:
            b2, v2 = b1, v1
            b1, v1 = i, v
        elif v < v2:
            b2, v2 = i, v
    return b1, v1, b2, v2


@njit(cache=True)
def construct_regret(f: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """MTHG-style regret construction: repeatedly assign the task whose best and second-best feasible
    agents differ most (a task with one feasible agent left first) to its best agent.

    Only tasks whose best or second agent was the one just loaded are re-scored (an agent's residual
    capacity only shrinks, so other tasks' top two are unchanged). Returns -1 everywhere on failure.
    """
    n = f.shape[1]
    resid = cap.copy()
    assign = np.full(n, -1, dtype=np.int64)
    b1 = np.empty(n, dtype=np.int64)
    b2 = np.empty(n, dtype=np.int64)
    v1 = np.empty(n, dtype=np.float64)
    v2 = np.empty(n, dtype=np.float64)
    for j in range(n):
        b1[j], v1[j], b2[j], v2[j] = _top2(f, dem, resid, allowed, j)
    for _ in range(n):
        pick, best_regret, best_v = -1, -1.0, INF
        for j in range(n):
            if assign[j] >= 0:
                continue
            if b1[j] < 0:
                assign[:] = -1
                return assign
            regret = INF if b2[j] < 0 else v2[j] - v1[j]
            if regret > best_regret or (regret == best_regret and v1[j] < best_v):
                pick, best_regret, best_v = j, regret, v1[j]
        i = b1[pick]
        assign[pick] = i
        for r in range(dem.shape[0]):
            resid[r, i] -= dem[r, i, pick]
        for j in range(n):
            if assign[j] < 0 and (b1[j] == i or b2[j] == i):
                b1[j], v1[j], b2[j], v2[j] = _top2(f, dem, resid, allowed, j)
    return assign


@njit(cache=True)
def construct_lpt(p: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Makespan construction: tasks by decreasing smallest load (LPT), each onto the feasible agent whose
    finishing load is smallest (ties: the smaller own load). -1 everywhere on failure."""
    m, n = p.shape
    key = np.empty(n, dtype=np.float64)
    for j in range(n):
        best = INF
        for i in range(m):
            if allowed[i, j] and p[i, j] < best:
                best = p[i, j]
        key[j] = -best
    order = np.argsort(key, kind="mergesort")
    resid = cap.copy()
    load = np.zeros(m, dtype=np.float64)
    assign = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        j = order[t]
        bi, bv, bp = -1, INF, INF
        for i in range(m):
            if not allowed[i, j] or not _fits(dem, resid, i, j):
                continue
            v = load[i] + p[i, j]
            if v < bv or (v == bv and p[i, j] < bp):
                bi, bv, bp = i, v, p[i, j]
        if bi < 0:
            assign[:] = -1
            return assign
        assign[j] = bi
        load[bi] += p[bi, j]
        for r in range(dem.shape[0]):
            resid[r, bi] -= dem[r, bi, j]
    return assign


@njit(cache=True)
def _loads(assign: np.ndarray, dem: np.ndarray) -> np.ndarray:
    R, m, n = dem.shape
    loads = np.zeros((R, m), dtype=np.int64)
    for j in range(n):
        i = assign[j]
        for r in range(R):
            loads[r, i] += dem[r, i, j]
    return loads


@njit(cache=True)
def _over(loads: np.ndarray, cap: np.ndarray, r: int, i: int, delta: int) -> int:
    x = loads[r, i] + delta - cap[r, i]
    return x if x > 0 else 0


@njit(cache=True, inline="always")
def _excess_delta(
    loads: np.ndarray, cap: np.ndarray, pw: np.ndarray, dem: np.ndarray, i: int, add: int, rem: int
) -> tuple[int, float]:
    """How agent i's capacity excess changes, summed over resources, when task ``add`` joins it and
    task ``rem`` leaves it (-1: none), and that change weighted by the penalty weights ``pw``."""
    dx = 0
    pen = 0.0
    for r in range(loads.shape[0]):
        o = loads[r, i] - cap[r, i]
        nw = o
        if add >= 0:
            nw += dem[r, add, i]
        if rem >= 0:
            nw -= dem[r, rem, i]
        g = max(nw, 0) - max(o, 0)
        dx += g
        pen += pw[r, i] * g
    return dx, pen


@njit(cache=True)
def repair(
    assign: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray, moves: int
) -> int:
    """Reduce total capacity excess Σ max(0, load - cap) by shift and swap moves (ties: cheaper cost).

    ``assign`` must use allowed pairs only. Modifies it in place; returns the remaining excess (0 means
    feasible), after at most ``moves`` moves.
    """
    R, m, n = dem.shape
    loads = _loads(assign, dem)
    excess = 0
    for r in range(R):
        for i in range(m):
            excess += _over(loads, cap, r, i, 0)
    for _ in range(moves):
        if excess == 0:
            return 0
        best_d, best_c, bj, bk, bi = 0, 0.0, -1, -1, -1
        for j in range(n):
            a = assign[j]
            over_a = False
            for r in range(R):
                if loads[r, a] > cap[r, a]:
                    over_a = True
            if not over_a:
                continue
            for i in range(m):  # shift j: a -> i
                if i == a or not allowed[i, j]:
                    continue
                d = 0
                for r in range(R):
                    d += _over(loads, cap, r, a, -dem[r, a, j]) - _over(loads, cap, r, a, 0)
                    d += _over(loads, cap, r, i, dem[r, i, j]) - _over(loads, cap, r, i, 0)
                c = cost[i, j] - cost[a, j]
                if d < best_d or (d == best_d and d < 0 and c < best_c):
                    best_d, best_c, bj, bk, bi = d, c, j, -1, i
            for k in range(n):  # swap j (on a) with k (on b)
                b = assign[k]
                if b == a or not allowed[b, j] or not allowed[a, k]:
                    continue
                d = 0
                for r in range(R):
                    da = dem[r, a, k] - dem[r, a, j]
                    db = dem[r, b, j] - dem[r, b, k]
                    d += _over(loads, cap, r, a, da) - _over(loads, cap, r, a, 0)
                    d += _over(loads, cap, r, b, db) - _over(loads, cap, r, b, 0)
                c = cost[b, j] + cost[a, k] - cost[a, j] - cost[b, k]
                if d < best_d or (d == best_d and d < 0 and c < best_c):
                    best_d, best_c, bj, bk, bi = d, c, j, k, -1
        if bj < 0:
            return excess
        a = assign[bj]
        if bk < 0:
            for r in range(R):
                loads[r, a] -= dem[r, a, bj]
                loads[r, bi] += dem[r, bi, bj]
            assign[bj] = bi
        else:
            b = assign[bk]
            for r in range(R):
                loads[r, a] += dem[r, a, bk] - dem[r, a, bj]
                loads[r, b] += dem[r, b, bj] - dem[r, b, bk]
            assign[bj] = b
            assign[bk] = a
        excess += best_d
    return excess


@njit(cache=True)
def _swap_fits(loads: np.ndarray, dem: np.ndarray, cap: np.ndarray, a: int, b: int, j: int, k: int) -> bool:
    """Whether exchanging task j (on agent a) and task k (on agent b) keeps every capacity."""
    for r in range(loads.shape[0]):
        if loads[r, a] - dem[r, a, j] + dem[r, a, k] > cap[r, a]:
            return False
        if loads[r, b] - dem[r, b, k] + dem[r, b, j] > cap[r, b]:
            return False
    return True


@njit(cache=True)
def _apply_swap(loads: np.ndarray, dem: np.ndarray, a: int, b: int, j: int, k: int) -> None:
    for r in range(loads.shape[0]):
        loads[r, a] += dem[r, a, k] - dem[r, a, j]
        loads[r, b] += dem[r, b, j] - dem[r, b, k]


@njit(cache=True)
def improve_cost(
    assign: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray, passes: int
) -> int:
    """Shift / swap descent on Σ cost for a feasible ``assign`` (in place): each pass tries, for every
    task, its best improving shift, then first-improvement swaps with every other task. Returns the
    number of improving moves made in at most ``passes`` passes (0: a local optimum)."""
    R, m, n = dem.shape
    loads = _loads(assign, dem)
    total = 0
    for _ in range(passes):
        moved = 0
        for j in range(n):
            a = assign[j]
            bi, bd = -1, 0.0
            for i in range(m):
                if i == a or not allowed[i, j]:
                    continue
                d = cost[i, j] - cost[a, j]
                if d >= bd:
                    continue
                ok = True
                for r in range(R):
                    if loads[r, i] + dem[r, i, j] > cap[r, i]:
                        ok = False
                        break
                if ok:
                    bi, bd = i, d
            if bi >= 0:
                for r in range(R):
                    loads[r, a] -= dem[r, a, j]
                    loads[r, bi] += dem[r, bi, j]
                assign[j] = bi
                moved += 1
        for j in range(n):
            for k in range(j + 1, n):
                a = assign[j]
                b = assign[k]
                if a == b or not allowed[b, j] or not allowed[a, k]:
                    continue
                d = cost[b, j] + cost[a, k] - cost[a, j] - cost[b, k]
                if d >= 0:
                    continue
                if _swap_fits(loads, dem, cap, a, b, j, k):
                    _apply_swap(loads, dem, a, b, j, k)
                    assign[j] = b
                    assign[k] = a
                    moved += 1
        total += moved
        if moved == 0:
            break
    return total


@njit(cache=True)
def improve_makespan(
    assign: np.ndarray, p: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray, moves: int
) -> int:
    """Descent on the sorted load vector: move a task off a most-loaded agent ``a`` (shift, else swap)
    so that both touched agents end strictly below ``a``'s load. Each move decreases the sorted load
    vector lexicographically, so this terminates. Returns the number of moves made (<= ``moves``)."""
    R, m, n = dem.shape
    loads = _loads(assign, dem)
    L = np.zeros(m, dtype=np.float64)
    for j in range(n):
        L[assign[j]] += p[assign[j], j]
    made = 0
    for _ in range(moves):
        a = 0
        for i in range(1, m):
            if L[i] > L[a]:
                a = i
        top = L[a]
        bj, bi, bv = -1, -1, top
        for j in range(n):  # best shift off a
            if assign[j] != a:
                continue
            for i in range(m):
                if i == a or not allowed[i, j]:
                    continue
                v = max(L[a] - p[a, j], L[i] + p[i, j])
                if v >= bv:
                    continue
                ok = True
                for r in range(R):
                    if loads[r, i] + dem[r, i, j] > cap[r, i]:
                        ok = False
                        break
                if ok:
                    bj, bi, bv = j, i, v
        if bj >= 0:
            assign[bj] = bi
            L[a] -= p[a, bj]
            L[bi] += p[bi, bj]
            for r in range(R):
                loads[r, a] -= dem[r, a, bj]
                loads[r, bi] += dem[r, bi, bj]
            made += 1
            continue
        found = False
        for j in range(n):  # first swap off a
            if assign[j] != a:
                continue
            for k in range(n):
                b = assign[k]
                if b == a or not allowed[b, j] or not allowed[a, k]:
                    continue
                na = L[a] - p[a, j] + p[a, k]
                nb = L[b] - p[b, k] + p[b, j]
                if na >= top or nb >= top:
                    continue
                if _swap_fits(loads, dem, cap, a, b, j, k):
                    L[a] = na
                    L[b] = nb
                    _apply_swap(loads, dem, a, b, j, k)
                    assign[j] = b
                    assign[k] = a
                    found = True
                    break
            if found:
                break
        if not found:
            return made
        made += 1
    return made


# -- tabu search with adaptive capacity penalties (cost objective) ------------------------------------
#
# State kept between chunk calls (all arrays, so a chunk can stop and resume exactly):
# The kernels take task-major (transposed) copies -- cost[j,i], dem[r,j,i], allowed[j,i], tabu[j,i] --
# so the inner loop over agents reads contiguous memory.
#   assign[n], loads[R,m], pw[R,m] (penalty weight per unit of excess on agent i, resource r),
#   tabu[n,m] (iteration until which moving task j *to* agent i is tabu), members[m,n] / cnt[m] / pos[n]
#   (the tasks of every agent, for the swap neighbourhood), best[n] (best feasible assignment),
#   fs = [best_cost, w0, weight growth, weight floor (fraction of w0), chain partners, tenure scale,
#         shifts restricted to the candidate agents (> 0), swap partners],
#   st = [iteration, last improvement, rng state, restarts].


@njit(cache=True)
def _rand(st: np.ndarray) -> int:
    """xorshift64 on st[2] (a positive int64); returns a non-negative int."""
    x = st[2]
    x ^= (x << 13) & 0x7FFFFFFFFFFFFFFF
    x ^= x >> 7
    x ^= (x << 17) & 0x7FFFFFFFFFFFFFFF
    x &= 0x7FFFFFFFFFFFFFFF
    if x == 0:
        x = 88172645463325252
    st[2] = x
    return x


@njit(cache=True)
def ts_rebuild(
    assign: np.ndarray,
    dem: np.ndarray,
    loads: np.ndarray,
    members: np.ndarray,
    cnt: np.ndarray,
    pos: np.ndarray,
) -> None:
    """Recompute loads and the per-agent member lists from ``assign``."""
    R, n, _m = dem.shape
    loads[:, :] = 0
    cnt[:] = 0
    for j in range(n):
        i = assign[j]
        for r in range(R):
            loads[r, i] += dem[r, j, i]
        members[i, cnt[i]] = j
        pos[j] = cnt[i]
        cnt[i] += 1


@njit(cache=True)
def _ts_move(
    j: int,
    i: int,
    assign: np.ndarray,
    dem: np.ndarray,
    loads: np.ndarray,
    members: np.ndarray,
    cnt: np.ndarray,
    pos: np.ndarray,
) -> None:
    a = assign[j]
    for r in range(dem.shape[0]):
        loads[r, a] -= dem[r, j, a]
        loads[r, i] += dem[r, j, i]
    last = members[a, cnt[a] - 1]
    members[a, pos[j]] = last
    pos[last] = pos[j]
    cnt[a] -= 1
    members[i, cnt[i]] = j
    pos[j] = cnt[i]
    cnt[i] += 1
    assign[j] = i


@njit(cache=True)
def _chain_ends(
    ins_e: np.ndarray,
    ins_v: np.ndarray,
    ins_x: np.ndarray,
    room_e: np.ndarray,
    assign: np.ndarray,
    loads: np.ndarray,
    pw: np.ndarray,
    tabu: np.ndarray,
    cost: np.ndarray,
    dem: np.ndarray,
    cap: np.ndarray,
    cand: np.ndarray,
    it: int,
) -> None:
    """The last link of every ejection chain, per task k (the one ejected from its agent b): its two
    non-tabu candidate agents e != b of smallest cost[k, e] + penalty of inserting k (``ins_e``,
    -1 padded; value ``ins_v``, excess change ``ins_x``) and its two candidate agents with room for
    it of smallest cost (``room_e``: the ends of feasible chains, tabu or not, for aspiration)."""
    R, n, _m = dem.shape
    K = cand.shape[1]
    for k in range(n):
        b = assign[k]
        e1, e2, v1, v2, x1, x2 = -1, -1, INF, INF, 0, 0
        f1, f2, c1, c2 = -1, -1, INF, INF
        for c in range(K):
            e = cand[k, c]
            if e < 0:
                break
            if e == b:
                continue
            dx, pe = _excess_delta(loads, cap, pw, dem, e, k, -1)
            pen = cost[k, e] + pe
            room = True
            for r in range(R):
                if loads[r, e] + dem[r, k, e] > cap[r, e]:
                    room = False
            if tabu[k, e] <= it:
                if pen < v1:
                    e2, v2, x2 = e1, v1, x1
                    e1, v1, x1 = e, pen, dx
                elif pen < v2:
                    e2, v2, x2 = e, pen, dx
            if room:
                ce = cost[k, e]
                if ce < c1:
                    f2, c2 = f1, c1
                    f1, c1 = e, ce
                elif ce < c2:
                    f2, c2 = e, ce
        ins_e[k, 0], ins_e[k, 1] = e1, e2
        ins_v[k, 0], ins_v[k, 1] = v1, v2
        ins_x[k, 0], ins_x[k, 1] = x1, x2
        room_e[k, 0], room_e[k, 1] = f1, f2


@njit(cache=True)
def tabu_search(
    assign: np.ndarray,
    loads: np.ndarray,
    pw: np.ndarray,
    tabu: np.ndarray,
    members: np.ndarray,
    cnt: np.ndarray,
    pos: np.ndarray,
    best: np.ndarray,
    fs: np.ndarray,
    st: np.ndarray,
    cost: np.ndarray,
    dem: np.ndarray,
    cap: np.ndarray,
    allowed: np.ndarray,
    cand: np.ndarray,
    iters: int,
    stall: int,
    target: float,
) -> int:
    """``iters`` iterations of tabu search on cost + Σ pw[r,i] * excess[r,i]; returns how many times the
    best feasible cost improved.

    Each iteration takes the best non-tabu move among every shift (task j to any allowed agent) and
    the swaps (j on a) <-> (k on b) with b one of j's ``cand`` agents (its cheapest allowed ones), and
    with ``fs[4]`` > 0 the length-2 ejection chains j: a -> b, k: b -> e (k among the first fs[4]
    partners, e one of k's candidates; the link k: b -> e does not depend on j, so each task's two best
    ends are tabulated once per iteration by :func:`_chain_ends`); a tabu move is taken when it yields
    a feasible solution better than the best (aspiration), and any evaluated feasible neighbour better
    than the best becomes the best even when another move is taken. The moved task may not return
    to its old agent for a random tenure. Penalty weights adapt (strategic
    oscillation): every violated (resource, agent) weight grows by 10 %, and all weights shrink by
    10 % while the solution is feasible (not below w0 / 1000). After ``stall`` iterations without a new
    best the search restarts from the best solution with fresh weights.
    """
    R, n, m = dem.shape
    K = cand.shape[1]
    grow = fs[2]
    w0 = fs[1]
    chain = int(fs[4])
    # fs[6] > 0: shifts only to the task's candidate agents (its K best by Lagrangian reduced cost)
    restrict = fs.shape[0] > 6 and fs[6] > 0
    nshift = K if restrict else m
    # fs[7]: swap partners evaluated per (task, candidate agent) and iteration (24 when not given)
    partners = int(fs[7]) if fs.shape[0] > 7 else 24
    improved = 0
    excess = 0
    for r in range(R):
        for i in range(m):
            x = loads[r, i] - cap[r, i]
            if x > 0:
                excess += x
    cur = 0.0
    for j in range(n):
        cur += cost[j, assign[j]]
    ins_e = np.full((n, 2), -1, np.int64)
    ins_v = np.zeros((n, 2))
    ins_x = np.zeros((n, 2), np.int64)
    room_e = np.full((n, 2), -1, np.int64)
    for _ in range(iters):
        it = st[0]
        st[0] += 1
        if fs[0] <= target:
            break
        if chain > 0:
            _chain_ends(ins_e, ins_v, ins_x, room_e, assign, loads, pw, tabu, cost, dem, cap, cand, it)
        # -- best move ------------------------------------------------------------------------------
        bv = INF
        bj, bi, bk, be = -1, -1, -1, -1
        bdc, bdx = 0.0, 0
        # the best *feasible* neighbour better than the best solution, kept even when not taken
        fv = fs[0]
        fj, fi, fk, fe = -1, -1, -1, -1
        stride = 1 if n <= 256 else n // 256
        phase = it % stride
        for j in range(n):
            a = assign[j]
            # removing j from a: the same for every target agent
            xa, pa = _excess_delta(loads, cap, pw, dem, a, -1, j)
            ca = cost[j, a]
            for c0 in range(nshift):
                i = cand[j, c0] if restrict else c0
                if i < 0:
                    break
                if i == a or not allowed[j, i]:
                    continue
                dc = cost[j, i] - ca
                # insertion never lowers the penalty; a feasible neighbour needs j's removal to clear
                # every excess
                if dc + pa >= bv and not (excess + xa == 0 and cur + dc < fv):
                    continue
                xi, pi = _excess_delta(loads, cap, pw, dem, i, j, -1)
                dx = xa + xi
                pen = pa + pi
                if excess + dx == 0 and cur + dc < fv:
                    fv, fj, fi, fk, fe = cur + dc, j, i, -1, -1
                v = dc + pen
                if v >= bv:
                    continue
                if tabu[j, i] > it and not (excess + dx == 0 and cur + dc < fs[0]):
                    continue
                bv, bj, bi, bk, be, bdc, bdx = v, j, i, -1, -1, dc, dx
            if j % stride != phase:
                continue  # large instances: swaps of a rotating 1/stride of the tasks per iteration
            for c in range(K):
                b = cand[j, c]
                if b < 0:
                    break
                if b == a:
                    continue
                nb_ = cnt[b]
                off = (it * 7 + j) % nb_ if nb_ > 0 else 0
                for t0 in range(min(nb_, partners)):  # at most ``partners`` per (task, agent), rotating
                    k = members[b, (off + t0) % nb_]
                    # b trades k for j: the part the swap and the chain share
                    xf, pf = _excess_delta(loads, cap, pw, dem, b, j, k)
                    if allowed[k, a]:  # swap j <-> k
                        dc = cost[j, b] + cost[k, a] - cost[j, a] - cost[k, b]
                        xs, ps = _excess_delta(loads, cap, pw, dem, a, k, j)
                        dx = xf + xs
                        pen = pf + ps
                        if excess + dx == 0 and cur + dc < fv:
                            fv, fj, fi, fk, fe = cur + dc, j, b, k, a
                        v = dc + pen
                        if v < bv and (
                            (tabu[j, b] <= it and tabu[k, a] <= it) or (excess + dx == 0 and cur + dc < fs[0])
                        ):
                            bv, bj, bi, bk, be, bdc, bdx = v, j, b, k, -1, dc, dx
                    if t0 >= chain:
                        continue
                    # ejection chain of length 2: j a -> b, k b -> e (e not a, b): b trades k for j
                    # and the chain ends on one of k's candidates; k's insertion into e does not depend
                    # on j, so its two best ends (non-tabu by penalised value, with room by cost) come
                    # from the per-iteration table
                    dc0 = cost[j, b] - cost[j, a] - cost[k, b]
                    p0 = pa + pf
                    x0 = xa + xf
                    if tabu[j, b] <= it:
                        for s2 in range(2):
                            e = ins_e[k, s2]
                            if e < 0:
                                break
                            if e == a:
                                continue
                            v = dc0 + p0 + ins_v[k, s2]
                            if v < bv:
                                bv, bj, bi, bk, be = v, j, b, k, e
                                bdc, bdx = dc0 + cost[k, e], x0 + ins_x[k, s2]
                            break
                    if excess + x0 == 0:
                        for s2 in range(2):
                            e = room_e[k, s2]
                            if e < 0:
                                break
                            if e == a:
                                continue
                            dc = dc0 + cost[k, e]
                            if cur + dc < fv:
                                fv, fj, fi, fk, fe = cur + dc, j, b, k, e
                            if cur + dc < fs[0] and dc + p0 < bv:  # aspiration: feasible and a new best
                                bv, bj, bi, bk, be, bdc, bdx = dc + p0, j, b, k, e, dc, x0
                            break
        if fj >= 0 and fv < fs[0] - 1e-9:
            best[:] = assign
            best[fj] = fi
            if fk >= 0:
                best[fk] = fe
            fs[0] = fv
            st[1] = it
            improved += 1
        if bj < 0:
            break  # no move at all (every task has a single allowed agent)
        # -- apply ----------------------------------------------------------------------------------
        a = assign[bj]
        span = int(fs[5] * (7 + n // 20))
        tabu[bj, a] = it + 1 + span // 2 + _rand(st) % (span + 1)
        _ts_move(bj, bi, assign, dem, loads, members, cnt, pos)
        if bk >= 0:
            tabu[bk, bi] = it + 1 + span // 2 + _rand(st) % (span + 1)
            _ts_move(bk, a if be < 0 else be, assign, dem, loads, members, cnt, pos)
        cur += bdc
        excess += bdx
        if excess == 0 and cur < fs[0] - 1e-9:
            fs[0] = cur
            best[:] = assign
            st[1] = it
            improved += 1
        # -- penalty weights ------------------------------------------------------------------------
        if excess > 0:
            for r in range(R):
                for i in range(m):
                    if loads[r, i] > cap[r, i]:
                        pw[r, i] *= grow
        else:
            for r in range(R):
                for i in range(m):
                    pw[r, i] = max(pw[r, i] / grow, w0 * fs[3])
        # -- restart from the best after a stall ----------------------------------------------------
        if it - st[1] > stall and fs[0] < INF:
            assign[:] = best
            ts_rebuild(assign, dem, loads, members, cnt, pos)
            pw[:, :] = w0
            st[1] = it
            st[3] += 1
            cur = fs[0]
            excess = 0
    return improved


# -- Lagrangian relaxation of the assignment constraints (single capacitated resource) ---------------


@njit(cache=True)
def knapsack_max(profit: np.ndarray, weight: np.ndarray, cap: int, take: np.ndarray) -> float:
    """0-1 knapsack by dynamic programming over the capacity: the largest total profit of items with
    positive profit fitting in ``cap``; the chosen items are flagged in ``take`` (0/1). O(items * cap)."""
    n = profit.shape[0]
    take[:] = 0
    items = np.empty(n, dtype=np.int64)
    k = 0
    base = 0.0
    for j in range(n):
        if profit[j] > 0:
            if weight[j] == 0:
                take[j] = 1
                base += profit[j]
            elif weight[j] <= cap:
                items[k] = j
                k += 1
    if k == 0:
        return base
    best = np.zeros(cap + 1, dtype=np.float64)
    keep = np.zeros((k, cap + 1), dtype=np.bool_)
    for t in range(k):
        j = items[t]
        w = weight[j]
        p = profit[j]
        for c in range(cap, w - 1, -1):
            v = best[c - w] + p
            if v > best[c]:
                best[c] = v
                keep[t, c] = True
    c = cap
    for t in range(k - 1, -1, -1):
        if keep[t, c]:
            take[items[t]] = 1
            c -= weight[items[t]]
    return base + best[cap]


@njit(cache=True)
def lagrangian_value(
    u: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray, x: np.ndarray
) -> float:
    """L(u) = Σ_j u_j + Σ_i min { Σ_j (c_ij - u_j) x_ij : Σ_j d_ij x_ij <= b_i } with x_ij = 0 on disallowed
    pairs; ``x`` (m x n) receives the knapsack solutions. Single resource: ``dem`` is m x n, ``cap`` m."""
    m, n = cost.shape
    total = 0.0
    for j in range(n):
        total += u[j]
    profit = np.empty(n, dtype=np.float64)
    take = np.zeros(n, dtype=np.int64)
    for i in range(m):
        for j in range(n):
            profit[j] = u[j] - cost[i, j] if allowed[i, j] else -1.0
        total -= knapsack_max(profit, dem[i], cap[i], take)
        for j in range(n):
            x[i, j] = take[j]
    return total


@njit(cache=True)
def lagrangian_forced(
    u: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """L(u) and the Lagrangian bounds with one pair forced: ``one[i, j]`` = the bound with x_ij = 1 in
    agent i's knapsack, ``zero[i, j]`` = the bound with x_ij = 0 (+inf / L(u) for an unusable pair).

    Per agent, forward and backward 0-1 knapsack tables over the positive-profit items give the best
    profit without item t at any capacity as max_c F[t][c] + B[t+1][C - c]; forcing j in earns its
    profit plus that value at capacity cap - d_ij, forcing it out that value at cap. Any feasible
    assignment using (not using) the pair costs at least ``one`` (``zero``): the other agents' terms
    are unchanged and agent i's restricted knapsack still bounds its part (the argument for L(u)).
    Single resource: ``dem`` is m x n, ``cap`` m. O(m n cap) time, O(n cap) memory.
    """
    m, n = cost.shape
    L = 0.0
    for j in range(n):
        L += u[j]
    one = np.full((m, n), INF)
    zero = np.zeros((m, n), dtype=np.float64)
    items = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    for i in range(m):
        c_i = cap[i]
        k = 0
        for j in range(n):
            pos[j] = -1
            if allowed[i, j] and u[j] - cost[i, j] > 0 and dem[i, j] <= c_i:
                items[k] = j
                pos[j] = k
                k += 1
        F = np.zeros((k + 1, c_i + 1), dtype=np.float64)
        for t in range(k):
            j = items[t]
            w = dem[i, j]
            p = u[j] - cost[i, j]
            for c in range(c_i + 1):
                v = F[t, c]
                if c >= w and F[t, c - w] + p > v:
                    v = F[t, c - w] + p
                F[t + 1, c] = v
        B = np.zeros((k + 1, c_i + 1), dtype=np.float64)
        for t in range(k - 1, -1, -1):
            j = items[t]
            w = dem[i, j]
            p = u[j] - cost[i, j]
            for c in range(c_i + 1):
                v = B[t + 1, c]
                if c >= w and B[t + 1, c - w] + p > v:
                    v = B[t + 1, c - w] + p
                B[t, c] = v
        kp = F[k, c_i]
        L -= kp
        for j in range(n):
            if not allowed[i, j] or dem[i, j] > c_i:
                continue  # one stays +inf; zero gets L below
            rest = c_i - dem[i, j]
            t = pos[j]
            if t < 0:  # not a positive item: leaving it out changes nothing
                without_full = kp
                without_rest = F[k, rest]
            else:
                without_full = 0.0
                for c in range(c_i + 1):
                    v = F[t, c] + B[t + 1, c_i - c]
                    if v > without_full:
                        without_full = v
                without_rest = 0.0
                for c in range(rest + 1):
                    v = F[t, c] + B[t + 1, rest - c]
                    if v > without_rest:
                        without_rest = v
            one[i, j] = kp - (u[j] - cost[i, j] + without_rest)
            zero[i, j] = kp - without_full
    for i in range(m):
        for j in range(n):
            one[i, j] += L
            zero[i, j] += L
    return L, one, zero


# -- Lagrangian relaxation of the capacity constraints (any number of resources) ----------------------


@njit(cache=True)
def lagcap_value(
    v: np.ndarray, cost: np.ndarray, dem: np.ndarray, cap: np.ndarray, allowed: np.ndarray, assign: np.ndarray
) -> float:
    """L(v) = Σ_j min_i (c_ij + Σ_r v_ri d_rij) - Σ_ri v_ri b_ri over allowed pairs (v >= 0, R x m); the
    minimising agent of every task goes to ``assign`` (first one on ties). Task-major arrays:
    ``cost`` n x m, ``dem`` R x n x m, ``allowed`` n x m. O(R m n)."""
    R, n, m = dem.shape
    total = 0.0
    for r in range(R):
        for i in range(m):
            total -= v[r, i] * cap[r, i]
    for j in range(n):
        bi, bv = -1, INF
        for i in range(m):
            if not allowed[j, i]:
                continue
            x = cost[j, i]
            for r in range(R):
                x += v[r, i] * dem[r, j, i]
            if x < bv:
                bi, bv = i, x
        assign[j] = bi
        total += bv
    return total


@njit(cache=True)
def lagcap_subgradient(
    v: np.ndarray,
    best_v: np.ndarray,
    best_x: np.ndarray,
    fs: np.ndarray,
    cost: np.ndarray,
    dem: np.ndarray,
    cap: np.ndarray,
    allowed: np.ndarray,
    freq: np.ndarray,
    iters: int,
) -> int:
    """``iters`` projected subgradient steps on max_{v >= 0} L(v) (:func:`lagcap_value`), resumable.

    ``freq`` (n x m) counts how often each task's relaxed solution used each agent once λ is below 0.5
    (the ergodic average of the x(v) approximates an LP optimum: rounding it gives a near-feasible
    start where x(v) alone is far from feasible on type D).

    ``fs`` = [best L, step factor λ, target (an upper bound), iterations since the best improved].
    Step: v <- max(0, v + λ (target - L(v)) g / ||g||²) with g_ri = load_ri(x(v)) - b_ri; λ halves
    after 20 iterations without a better bound. The best v and its x(v) go to ``best_v`` / ``best_x``.
    Returns the iterations done (fewer when λ has vanished or the relaxed solution is feasible with
    complementary slackness, i.e. L(v) is the optimum)."""
    R, n, m = dem.shape
    x = np.empty(n, dtype=np.int64)
    load = np.zeros((R, m), dtype=np.int64)
    done = 0
    for _ in range(iters):
        if fs[1] < 1e-6:
            break
        val = lagcap_value(v, cost, dem, cap, allowed, x)
        done += 1
        if fs[1] < 0.05:
            for j in range(n):
                freq[j, x[j]] += 1
        if val > fs[0] + 1e-9:
            fs[0] = val
            fs[3] = 0.0
            best_v[:, :] = v
            best_x[:] = x
        else:
            fs[3] += 1.0
            if fs[3] >= 20:
                fs[1] /= 2.0
                fs[3] = 0.0
        load[:, :] = 0
        for j in range(n):
            for r in range(R):
                load[r, x[j]] += dem[r, j, x[j]]
        norm = 0.0
        slack = 0.0
        for r in range(R):
            for i in range(m):
                g = float(load[r, i] - cap[r, i])
                if g < 0 and v[r, i] <= 0:
                    g = 0.0  # the projection keeps v at 0: no move along this coordinate
                norm += g * g
                slack += v[r, i] * (cap[r, i] - load[r, i])
        if norm == 0.0 and slack <= 1e-9:
            fs[1] = 0.0  # x(v) is feasible and complementary: L(v) is the optimum
            break
        if norm == 0.0:
            continue
        step = fs[1] * max(fs[2] - val, 1e-6 * max(1.0, abs(fs[2]))) / norm
        for r in range(R):
            for i in range(m):
                nv = v[r, i] + step * (load[r, i] - cap[r, i])
                v[r, i] = nv if nv > 0 else 0.0
    return done


# -- Lagrangian branch and bound (single capacitated resource, integral costs) ------------------------


@njit(cache=True)
def bnb_residual(
    cost: np.ndarray,
    dem: np.ndarray,
    cap: np.ndarray,
    allowed: np.ndarray,
    fixed: np.ndarray,
    rcap: np.ndarray,
    free_ok: np.ndarray,
) -> float:
    """Split a node's pair set ``allowed`` (m x n) into the tasks it fixes (one pair left: ``fixed[j]`` is
    that agent, else -1) and the free rest: ``rcap`` = capacity minus the fixed demand, capped at the
    free tasks' total demand (a larger capacity never binds and only widens the knapsack tables), and
    ``free_ok`` = the free pairs that still fit. Returns the fixed tasks' cost, or +inf when the node
    holds no solution (a task without a pair, a fixed load over capacity). Single resource: ``dem`` is
    m x n, ``cap`` m."""
    m, n = cost.shape
    const = 0.0
    for i in range(m):
        rcap[i] = cap[i]
    for j in range(n):
        k, last = 0, -1
        for i in range(m):
            if allowed[i, j]:
                k += 1
                last = i
        if k == 0:
            return INF
        if k == 1:
            fixed[j] = last
            rcap[last] -= dem[last, j]
            const += cost[last, j]
        else:
            fixed[j] = -1
    for i in range(m):
        if rcap[i] < 0:
            return INF
    total = np.zeros(m, dtype=np.int64)
    for j in range(n):
        if fixed[j] >= 0:
            for i in range(m):
                free_ok[i, j] = False
            continue
        k = 0
        for i in range(m):
            ok = allowed[i, j] and dem[i, j] <= rcap[i]
            free_ok[i, j] = ok
            if ok:
                k += 1
                total[i] += dem[i, j]
        if k == 0:
            return INF
    for i in range(m):
        if total[i] < rcap[i]:
            rcap[i] = total[i]
    return const


@njit(cache=True)
def bnb_subgradient(
    u: np.ndarray,
    best_u: np.ndarray,
    x: np.ndarray,
    best_x: np.ndarray,
    fs: np.ndarray,
    cost: np.ndarray,
    dem: np.ndarray,
    rcap: np.ndarray,
    free_ok: np.ndarray,
    fixed: np.ndarray,
    const: float,
    ub: float,
    iters: int,
) -> int:
    """Up to ``iters`` subgradient steps on a node's bound const + L_free(u) (:func:`lagrangian_value` on
    the free tasks with the residual capacities; a fixed task's u is 0 and no knapsack may take it).

    ``fs`` = [best bound, step factor λ, iterations since the best improved]; λ halves after 5 of them.
    Step u += λ (ub - L) g / ||g||² with g_j = 1 - Σ_i x_ij on the free tasks. The best u and its
    knapsack solutions go to ``best_u`` / ``best_x``. Returns 1 as soon as the bound exceeds ub - 1
    (integral costs: the node holds no solution cheaper than ub), 2 when the relaxed solution covers
    every free task exactly once (then it is an assignment whose cost is the bound: the node's
    optimum), 0 otherwise."""
    m, n = cost.shape
    limit = ub - 1.0 + 1e-6 * max(1.0, abs(ub))
    for j in range(n):
        if fixed[j] >= 0:
            u[j] = 0.0
    for _ in range(iters):
        val = const + lagrangian_value(u, cost, dem, rcap, free_ok, x)
        if val > fs[0] + 1e-9:
            fs[0] = val
            fs[2] = 0.0
            best_u[:] = u
            best_x[:, :] = x
        else:
            fs[2] += 1.0
            if fs[2] >= 5:
                fs[1] /= 2.0
                fs[2] = 0.0
        if fs[0] > limit:
            return 1
        norm = 0.0
        for j in range(n):
            if fixed[j] < 0:
                g = 1.0
                for i in range(m):
                    g -= x[i, j]
                norm += g * g
        if norm == 0.0:
            fs[0] = val
            best_u[:] = u
            best_x[:, :] = x
            return 2
        if fs[1] < 1e-4:
            break
        step = fs[1] * max(ub - val, 1e-3) / norm
        for j in range(n):
            if fixed[j] < 0:
                g = 1.0
                for i in range(m):
                    g -= x[i, j]
                u[j] += step * g
    return 0
