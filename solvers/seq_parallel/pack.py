"""``pack``: a fast target-time packing heuristic with a Numba local search (the in-step planner).

Why not FlexSP's pipeline
-------------------------
FlexSP first cuts the sorted batch into contiguous micro-batches (``sort_consec``) and then solves each
micro-batch on its own. The contiguous cut puts every long sequence into the first micro-batch, where
they all need large (inter-node, slow all-to-all) groups, while the last micro-batch gets only short
ones. Here micro-batches and groups are decided together.

Packing for target times
------------------------
For ``m`` micro-batches with time targets ``X_j`` (group time without ``beta``), sequences are taken
longest first; each goes to the open group (any micro-batch) where it costs the least GPU work
``d*t(s, d)`` among those where it still fits (group time ``<= X_j``, tokens ``<= cap*d``), ties to the
tightest fit; if none fits, a new group of the smallest degree where the sequence alone fits is opened
in the micro-batch with the most free GPUs. A packing fails when a micro-batch would need more than
``N`` GPUs. Candidates tried, for ``m`` in ``m_min, m_min+1``:

* balanced targets ``X_j = X`` with ``X`` found by bisection;
* skewed targets: the first micro-batch gets ``X_0 = t(longest, d)`` for every usable degree ``d`` (so
  the longest sequence sits in a group of exactly that degree and the micro-batch is filled up to its
  time) or a multiple of the balanced ``X``; the others get a common ``X`` found by bisection.
* ``pack-deep`` (used by ``auto``) adds ``REFINE_POINTS`` first-micro-batch targets spread over
  ``[floor, 2.5 X]`` (coarse points first, so a cut budget still samples the whole range); the local
  search often turns a poor packing into the best plan, so sampling more starts pays off.

Free GPUs left in a micro-batch become empty groups (power-of-two degrees, largest first), so the
local search can move sequences into them (a *split* of a group).

Local search (Numba, bounded chunks)
------------------------------------
Repeatedly, for each micro-batch's slowest group: *move* one of its sequences to another group of any
micro-batch, or *swap* it with a shorter-running sequence of another group, whenever the slowest group
gets faster, the destination stays below the source micro-batch's time when in the same micro-batch,
and does not exceed the destination micro-batch's time otherwise; then *merge*: an empty group whose
buddy range holds the slowest group's degree is merged into it (doubling the degree) when that makes
the group faster. Every accepted move strictly lowers the step time or the load of a slowest group;
the number of passes is capped, and the kernel returns to Python between chunks to poll the budget.
In deterministic mode the clock is not consulted: the work is bounded by the candidate list and the
pass cap, so the same instance always gives the same plan.

No bound is claimed by this solver (the registry adds the cheap bound; ``lpbound.py`` has the LP one).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.registry import register, register_warmup
from solvers.result import Limit, Result, Status
from solvers.seq_parallel.common import build_solution, plan_time, seq_time, usable_degrees

PROBLEM = "seq_parallel"
Plan = list[list[tuple[int, list[int]]]]
EPS = 1e-9
BISECT_ITERS = 24
BISECT_TOL = 5e-4
LS_CHUNK = 200
REFINE_POINTS = 48


@njit(cache=True)
def _pack(tv, lens, capd, degs, targets, N, item_grp, grp_mb, grp_k, grp_load, grp_tok):
    """Greedy packing of items (sorted longest first) under per-micro-batch targets. -> #groups or -1."""
    n = lens.shape[0]
    D = degs.shape[0]
    m = targets.shape[0]
    free = np.full(m, N, np.int64)
    ng = 0
    for i in range(n):
        best = -1
        best_w = np.inf
        best_slack = np.inf
        for g in range(ng):
            k = grp_k[g]
            t = tv[i, k]
            if not np.isfinite(t):
                continue
            j = grp_mb[g]
            slack = targets[j] - grp_load[g] - t
            if slack < -EPS or grp_tok[g] + lens[i] > capd[k]:
                continue
            w = t * degs[k]
            if w < best_w - EPS or (w < best_w + EPS and slack < best_slack):
                best, best_w, best_slack = g, w, slack
        if best < 0:
            for k in range(D):
                t = tv[i, k]
                if not np.isfinite(t):
                    continue
                jb = -1
                for j in range(m):
                    if free[j] >= degs[k] and t <= targets[j] + EPS and (jb < 0 or free[j] > free[jb]):
                        jb = j
                if jb >= 0:
                    best = ng
                    grp_mb[ng] = jb
                    grp_k[ng] = k
                    grp_load[ng] = 0.0
                    grp_tok[ng] = 0
                    free[jb] -= degs[k]
                    ng += 1
                    break
            if best < 0:
                return -1
        item_grp[i] = best
        grp_load[best] += tv[i, grp_k[best]]
        grp_tok[best] += lens[i]
    return ng


@njit(cache=True)
def _ls(tv, lens, capd, degs, m, item_grp, grp_mb, grp_k, grp_load, grp_tok, ng, max_pass):
    """Move/swap local search on the slowest group of each micro-batch. -> passes that improved."""
    n = lens.shape[0]
    improved_passes = 0
    mbmax = np.zeros(m)
    for _ in range(max_pass):
        for j in range(m):
            mbmax[j] = 0.0
        for g in range(ng):
            if grp_load[g] > mbmax[grp_mb[g]]:
                mbmax[grp_mb[g]] = grp_load[g]
        changed = False
        for j in range(m):
            gs = -1
            for g in range(ng):
                if grp_mb[g] == j and (gs < 0 or grp_load[g] > grp_load[gs]):
                    gs = g
            if gs < 0:
                continue
            Ls = grp_load[gs]
            ks = grp_k[gs]
            # best single move out of the slowest group
            bi, bh, bgain = -1, -1, 0.0
            for i in range(n):
                if item_grp[i] != gs:
                    continue
                ti = tv[i, ks]
                for h in range(ng):
                    if h == gs:
                        continue
                    kh = grp_k[h]
                    th = tv[i, kh]
                    if not np.isfinite(th) or grp_tok[h] + lens[i] > capd[kh]:
                        continue
                    nl = grp_load[h] + th
                    lim = Ls if grp_mb[h] == j else mbmax[grp_mb[h]]
                    if nl < lim - EPS or (grp_mb[h] != j and nl <= lim + EPS):
                        gain = ti
                        if grp_mb[h] == j:
                            gain = min(ti, Ls - nl)
                        if gain > bgain + EPS:
                            bi, bh, bgain = i, h, gain
            if bi >= 0:
                h = bh
                grp_load[gs] -= tv[bi, ks]
                grp_tok[gs] -= lens[bi]
                grp_load[h] += tv[bi, grp_k[h]]
                grp_tok[h] += lens[bi]
                item_grp[bi] = h
                if grp_load[h] > mbmax[grp_mb[h]]:
                    mbmax[grp_mb[h]] = grp_load[h]
                changed = True
                continue
            # best swap: a from the slowest group, b from another group
            ba, bb, bgain = -1, -1, 0.0
            for a in range(n):
                if item_grp[a] != gs:
                    continue
                ta = tv[a, ks]
                for b in range(n):
                    h = item_grp[b]
                    if h == gs:
                        continue
                    kh = grp_k[h]
                    tbs = tv[b, ks]
                    tah = tv[a, kh]
                    if not np.isfinite(tbs) or not np.isfinite(tah):
                        continue
                    d_src = tbs - ta
                    if d_src >= -EPS:
                        continue
                    if grp_tok[gs] - lens[a] + lens[b] > capd[ks]:
                        continue
                    if grp_tok[h] - lens[b] + lens[a] > capd[kh]:
                        continue
                    nl = grp_load[h] - tv[b, kh] + tah
                    lim = Ls if grp_mb[h] == j else mbmax[grp_mb[h]]
                    if nl < lim - EPS or (grp_mb[h] != j and nl <= lim + EPS):
                        gain = -d_src
                        if grp_mb[h] == j:
                            gain = min(gain, Ls - nl)
                        if gain > bgain + EPS:
                            ba, bb, bgain = a, b, gain
            if ba >= 0:
                h = item_grp[bb]
                kh = grp_k[h]
                grp_load[gs] += tv[bb, ks] - tv[ba, ks]
                grp_tok[gs] += lens[bb] - lens[ba]
                grp_load[h] += tv[ba, kh] - tv[bb, kh]
                grp_tok[h] += lens[ba] - lens[bb]
                item_grp[ba] = h
                item_grp[bb] = gs
                if grp_load[h] > mbmax[grp_mb[h]]:
                    mbmax[grp_mb[h]] = grp_load[h]
                changed = True
        if not changed:
            break
        improved_passes += 1
    return improved_passes


class _Packer:
    """Arrays of one instance (sequences sorted longest first) and the packing/LS drivers."""

    def __init__(self, inst: Instance):
        self.inst = inst
        L = inst.sequences
        self.order = np.array(sorted(range(len(L)), key=lambda i: (-L[i], i)), dtype=np.int64)
        self.lens = np.array([L[i] for i in self.order], dtype=np.int64)
        self.degs_list = usable_degrees(inst)
        self.degs = np.array(self.degs_list, dtype=np.int64)
        cap = inst.token_capacity
        self.capd = np.array([cap * d for d in self.degs_list], dtype=np.float64)
        n, D = len(L), len(self.degs_list)
        tv = np.full((n, D), np.inf)
        cache: dict[tuple[int, int], float] = {}
        for r, s in enumerate(self.lens):
            for k, d in enumerate(self.degs_list):
                if s <= cap * d:
                    key = (int(s), d)
                    if key not in cache:
                        cache[key] = seq_time(inst, int(s), d)
                    tv[r, k] = cache[key]
        self.tv = tv
        self.N = inst.num_gpus
        self.beta = inst.cost_model.beta_ms

    def alloc(self, m: int) -> tuple[np.ndarray, ...]:
        n = len(self.lens)
        G = m * self.N + 1
        return (
            np.zeros(n, np.int64),
            np.zeros(G, np.int64),
            np.zeros(G, np.int64),
            np.zeros(G, np.float64),
            np.zeros(G, np.int64),
        )

    def pack(self, targets: np.ndarray) -> tuple[int, tuple[np.ndarray, ...]]:
        arrs = self.alloc(len(targets))
        ng = _pack(self.tv, self.lens, self.capd, self.degs, targets, self.N, *arrs)
        return int(ng), arrs

    def floor(self) -> float:
        """Smallest target at which every sequence fits some degree alone."""
        return float(np.max(np.min(self.tv, axis=1))) if len(self.lens) else 0.0

    def bisect(
        self, fixed: list[float], m: int, hi0: float
    ) -> tuple[float, int, tuple[np.ndarray, ...]] | None:
        """Smallest common target X for micro-batches len(fixed)..m-1 (the first ones fixed)."""
        lo = self.floor()
        hi = max(hi0, lo)
        res = None
        for _ in range(60):
            ng, arrs = self.pack(np.array([*fixed, *([hi] * (m - len(fixed)))]))
            if ng >= 0:
                res = (hi, ng, arrs)
                break
            lo, hi = hi, hi * 2
        if res is None:
            return None
        for _ in range(BISECT_ITERS):
            if hi - lo <= BISECT_TOL * hi:
                break
            mid = 0.5 * (lo + hi)
            ng, arrs = self.pack(np.array([*fixed, *([mid] * (m - len(fixed)))]))
            if ng >= 0:
                hi, res = mid, (mid, ng, arrs)
            else:
                lo = mid
        return res

    def fill_empty(self, m: int, ng: int, arrs: tuple[np.ndarray, ...]) -> int | None:
        """Turn free GPUs of each micro-batch into empty groups; None if they cannot be expressed."""
        _, grp_mb, grp_k, grp_load, grp_tok = arrs
        used = [0] * m
        for g in range(ng):
            used[int(grp_mb[g])] += self.degs_list[int(grp_k[g])]
        for j in range(m):
            free = self.N - used[j]
            if free and used[j] == 0:
                continue  # an unused micro-batch is dropped
            for k in range(len(self.degs_list) - 1, -1, -1):
                d = self.degs_list[k]
                while free >= d:
                    if ng >= len(grp_mb):
                        return None
                    grp_mb[ng], grp_k[ng], grp_load[ng], grp_tok[ng] = j, k, 0.0, 0
                    ng += 1
                    free -= d
            if free:
                return None
        return ng

    def to_plan(self, m: int, ng: int, arrs: tuple[np.ndarray, ...]) -> Plan:
        item_grp, grp_mb, grp_k, _, _ = arrs
        members: list[list[int]] = [[] for _ in range(ng)]
        for r, g in enumerate(item_grp):
            members[int(g)].append(int(self.order[r]))
        plan: Plan = [[] for _ in range(m)]
        for g in range(ng):
            plan[int(grp_mb[g])].append((self.degs_list[int(grp_k[g])], sorted(members[g])))
        return [mb for mb in plan if any(seqs for _, seqs in mb)]

    def time_of(self, m: int, ng: int, arrs: tuple[np.ndarray, ...]) -> float:
        _, grp_mb, _, grp_load, _ = arrs
        mx = [-1.0] * m
        for g in range(ng):
            j = int(grp_mb[g])
            mx[j] = max(mx[j], float(grp_load[g]))
        return sum(self.beta + x for x in mx if x >= 0)


def _bit_reverse_rank(q: int, size: int) -> int:
    """Rank of ``q`` in a van der Corput order of ``range(size)`` (spreads early points over the range)."""
    bits = max(1, (size - 1).bit_length())
    return int(format(q, f"0{bits}b")[::-1], 2)


def microbatch_counts(inst: Instance, extra: int = 1) -> list[int]:
    L = inst.sequences
    m0 = max(1, -(-sum(L) // max(1, inst.token_capacity * inst.num_gpus)))
    mmax = len(L) if inst.max_microbatches is None else min(len(L), inst.max_microbatches)
    return list(range(m0, min(mmax, m0 + extra) + 1))


def pack_plan(
    inst: Instance, budget: Budget, ls_passes: int = 400, refine: int = 0
) -> tuple[Plan | None, dict[str, object]]:
    """Best plan over the candidate target vectors (see the module docstring), each polished by LS."""
    P = _Packer(inst)
    stats: dict[str, object] = {"candidates": 0}
    if not P.degs_list or not np.all(np.isfinite(np.min(P.tv, axis=1))):
        return None, stats
    best: Plan | None = None
    best_t = math.inf
    tried = 0
    # m*beta + max(longest alone, work/N) bounds any plan with m micro-batches from below (the cheap
    # bound's argument, see common.py), so larger counts are skipped once it reaches the incumbent
    tail = max(P.floor(), float(np.sum(np.min(P.tv * P.degs, axis=1))) / P.N)
    for m in microbatch_counts(inst):
        if best is not None and m * P.beta + tail >= best_t:
            break
        base = P.bisect([], m, P.floor())
        firsts: list[float | None] = [None]
        if m >= 2:
            firsts += [float(t) for t in P.tv[0] if np.isfinite(t)]
            if base is not None:
                firsts += [base[0] * f for f in (1.25, 1.5, 2.0)]
                if refine:
                    # a finer grid of first-micro-batch targets, coarse points first
                    lo, hi = P.floor(), 2.5 * base[0]
                    firsts += [
                        lo + (hi - lo) * (q + 0.5) / refine
                        for q in sorted(range(refine), key=lambda q: _bit_reverse_rank(q, refine))
                    ]
        for x0 in firsts:
            if best is not None and (budget.expired() or (not budget.deterministic and budget.should_stop())):
                break
            res = base if x0 is None else P.bisect([x0], m, base[0] if base else P.floor())
            if res is None:
                continue
            _, ng0, arrs0 = res
            arrs = tuple(a.copy() for a in arrs0)
            ng = P.fill_empty(m, ng0, arrs)
            if ng is None:
                continue
            left = ls_passes
            while left > 0:
                k = min(LS_CHUNK, left)
                item_grp, grp_mb, grp_k, grp_load, grp_tok = arrs
                done = _ls(P.tv, P.lens, P.capd, P.degs, m, item_grp, grp_mb, grp_k, grp_load, grp_tok, ng, k)
                left -= k
                if done < k or (not budget.deterministic and budget.should_stop()):
                    break
            tried += 1
            t = P.time_of(m, ng, arrs)
            if t < best_t - 1e-9:
                best, best_t = P.to_plan(m, ng, arrs), t
                stats["microbatches"] = m
    stats["candidates"] = tried
    return best, stats


def _run(inst: Instance, budget: Budget, name: str, refine: int) -> Result:
    t0 = time.perf_counter()
    plan, stats = pack_plan(inst, budget, refine=refine)
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    if plan is None:
        return Result(PROBLEM, Status.NO_SOLUTION, name, limit=budget.limit_reason(), stats=stats)
    sol = build_solution(inst, plan)
    obj = plan_time(inst, plan)
    stats["modelled_ms"] = round(obj, 4)
    budget.report(name, obj, None, sol)
    return Result(PROBLEM, Status.FEASIBLE, name, solution=sol, limit=Limit.NONE, stats=stats)


@register(
    PROBLEM, "pack", "heuristic", "target-time packing of micro-batches and groups + Numba move/swap LS"
)
def run_pack(inst: Instance, budget: Budget, hint: object = None) -> Result:
    return _run(inst, budget, "pack", 0)


@register(PROBLEM, "pack-deep", "heuristic", f"pack plus a {REFINE_POINTS}-point grid of micro-batch targets")
def run_pack_deep(inst: Instance, budget: Budget, hint: object = None) -> Result:
    return _run(inst, budget, "pack-deep", REFINE_POINTS)


@register_warmup(PROBLEM)
def _warmup() -> None:
    from instances.seq_parallel import generate

    pack_plan(generate(0, n=6, num_gpus=4, gpus_per_node=2), Budget(5.0))
