"""MILP planners for seq_parallel on HiGHS (``milp``).

Two models, both solved through :mod:`solvers.highs` (budget, cancellation, ``mip_rel_gap``):

Exact global model (small batches, ``n <= EXACT_MAX_SEQS``)
    Micro-batch slots ``j = 0..m_max-1`` with ``m_max = min(n, max_microbatches)`` (an optimal plan
    never has an empty micro-batch: dropping one saves at least ``beta``). Per slot, candidate groups
    ``N/d`` copies of each usable degree; binaries ``z_j`` (slot used), ``y_gj`` (group exists),
    ``x_igj`` (sequence ``i`` in group ``g`` of slot ``j``), continuous ``M_j``; minimise ``sum M_j``
    subject to: every sequence once; ``x <= y``; ``sum_g d_g y_gj = N z_j``; memory
    ``sum_i s_i x_igj <= cap d_g``; ``M_j >= beta y_gj + sum_i t(s_i, d_g) x_igj``; ``z_j >= z_{j+1}``.
    This is the problem itself restricted to aligned placement (see :mod:`.common`). Aligned placement
    loses nothing when the node size is a power of two and, for every allowed degree ``d`` with
    ``1 < d <= gpus_per_node``, an intra-node bandwidth exists and no inter-node bandwidth is larger
    (a group of degree ``> gpus_per_node`` always spans nodes). Under that condition -- checked by
    :func:`aligned_is_wlog` -- HiGHS's dual bound is a proved lower bound for the instance and is
    reported; otherwise no bound is claimed.

Per-micro-batch bucket model (any size; FlexSP's structure)
    Sequences are split into ``m`` micro-batches by FlexSP's ``sort_consec`` (sort descending, cut into
    ``m`` contiguous parts minimising the largest token sum); ``m`` runs over the smallest feasible count
    and a few more. Each micro-batch is then an independent MILP: lengths grouped into buckets (all
    distinct lengths when there are few, else at most ``MAX_BUCKETS`` buckets whose boundary is their
    largest length), integer ``A_bg`` = sequences of bucket ``b`` in candidate group ``g``, binary
    ``y_g``, minimise the micro-batch's makespan ``M`` with the memory and "degrees sum to N" rows as
    above, and ``y`` ordered within a degree to cut symmetry. It is warm-started from the best
    single-degree greedy packing of the micro-batch. Actual sequences are then dealt to the groups
    bucket by bucket; since a bucket's boundary is its largest length, the real plan is never slower
    than the modelled one, and it is re-evaluated with actual lengths. This model fixes the split and
    rounds lengths up, so its optimum is NOT a lower bound for the instance and none is reported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.highs import new_highs, run_highs
from solvers.registry import register
from solvers.result import Limit, Result, Status
from solvers.seq_parallel.common import build_solution, plan_time, seq_time, usable_degrees

PROBLEM = "seq_parallel"
EXACT_MAX_SEQS = 10
MAX_BUCKETS = 40
EXTRA_MICROBATCHES = 2

Plan = list[list[tuple[int, list[int]]]]


# -- a tiny sparse model builder --------------------------------------------------------------------------
@dataclass
class _Model:
    cost: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[int] = field(default_factory=list)
    rows: list[tuple[float, float, list[int], list[float]]] = field(default_factory=list)

    def var(self, cost: float, lb: float, ub: float, integer: bool) -> int:
        self.cost.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        if integer:
            self.integer.append(len(self.cost) - 1)
        return len(self.cost) - 1

    def row(self, lo: float, hi: float, idx: list[int], val: list[float]) -> None:
        self.rows.append((lo, hi, idx, val))

    def to_highs(self, budget: Budget) -> highspy.Highs:
        h = new_highs(budget)
        n = len(self.cost)
        h.addCols(
            n,
            np.array(self.cost, dtype=np.float64),
            np.array(self.lb, dtype=np.float64),
            np.array(self.ub, dtype=np.float64),
            0,
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.float64),
        )
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        for _, _, idx, val in self.rows:
            starts.append(len(index))
            index.extend(idx)
            value.extend(val)
        h.addRows(
            len(self.rows),
            np.array([r[0] for r in self.rows], dtype=np.float64),
            np.array([r[1] for r in self.rows], dtype=np.float64),
            len(index),
            np.array(starts, dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(value, dtype=np.float64),
        )
        if self.integer:
            h.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
        return h


def _set_start(h: highspy.Highs, values: np.ndarray) -> None:
    sol = highspy.HighsSolution()
    sol.col_value = list(map(float, values))
    sol.value_valid = True
    h.setSolution(sol)


def _configure(h: highspy.Highs, budget: Budget) -> None:
    if budget.deterministic:
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_max_nodes", 200)


def aligned_is_wlog(inst: Instance) -> bool:
    """True when restricting plans to aligned ranges cannot lose (see the module docstring)."""
    gpn = inst.gpus_per_node
    if gpn & (gpn - 1):
        return False
    cm = inst.cost_model
    for d in inst.degrees:
        if 1 < d <= gpn:
            intra, inter = cm.intra(d), cm.inter(d)
            if intra is None or (inter is not None and inter > intra and inst.num_gpus > gpn):
                return False
    return True


def _candidates(inst: Instance) -> list[int]:
    """Degrees of the candidate groups of one micro-batch: N//d copies of each usable degree."""
    out: list[int] = []
    for d in sorted(usable_degrees(inst), reverse=True):
        out.extend([d] * (inst.num_gpus // d))
    return out


# -- greedy single-degree packing (warm start) ------------------------------------------------------------
def greedy_pack(inst: Instance, seqs: list[int]) -> list[tuple[int, list[int]]] | None:
    """Best single-degree longest-first packing of ``seqs`` into one micro-batch (None if none fits)."""
    L = inst.sequences
    cap = inst.token_capacity
    best: tuple[float, list[tuple[int, list[int]]]] | None = None
    order = sorted(seqs, key=lambda i: -L[i])
    for d in usable_degrees(inst):
        if inst.num_gpus % d:
            continue
        G = inst.num_gpus // d
        times = [inst.cost_model.beta_ms] * G
        toks = [0] * G
        members: list[list[int]] = [[] for _ in range(G)]
        ok = True
        for i in order:
            cands = [g for g in range(G) if toks[g] + L[i] <= cap * d]
            if not cands:
                ok = False
                break
            g = min(cands, key=lambda g: (times[g], g))
            times[g] += seq_time(inst, L[i], d)
            toks[g] += L[i]
            members[g].append(i)
        if ok and (best is None or max(times) < best[0]):
            best = (max(times), [(d, m) for m in members])
    return None if best is None else best[1]


# -- bucketing ----------------------------------------------------------------------------------------------
def buckets_of(lengths: list[int], k: int) -> list[tuple[int, list[int]]]:
    """Partition distinct lengths into <= k buckets (boundary = largest member) minimising the total
    quadratic round-up ``sum cnt*(b^2 - s^2)`` by DP. Returns (boundary, member lengths) pairs."""
    vals = sorted(set(lengths))
    if len(vals) <= k:
        return [(v, [v]) for v in vals]
    cnt = {v: 0 for v in vals}
    for s in lengths:
        cnt[s] += 1
    V = len(vals)
    c = np.array([cnt[v] for v in vals], dtype=np.float64)
    sq = np.array(vals, dtype=np.float64) ** 2
    pc = np.concatenate([[0.0], np.cumsum(c)])
    pcs = np.concatenate([[0.0], np.cumsum(c * sq)])
    # cost(a, b) of bucket vals[a..b]: sq[b]*count - sum(c*sq)
    INF = math.inf
    dp = np.full((k + 1, V + 1), INF)
    arg = np.zeros((k + 1, V + 1), dtype=np.int64)
    dp[0, 0] = 0.0
    for t in range(1, k + 1):
        for b in range(1, V + 1):
            ar = np.arange(0, b)
            costs = dp[t - 1, ar] + sq[b - 1] * (pc[b] - pc[ar]) - (pcs[b] - pcs[ar])
            j = int(np.argmin(costs))
            dp[t, b] = costs[j]
            arg[t, b] = j
    out: list[tuple[int, list[int]]] = []
    b = V
    t = k
    while b > 0:
        a = int(arg[t, b])
        out.append((vals[b - 1], vals[a:b]))
        b, t = a, t - 1
    return out[::-1]


# -- sort_consec split ------------------------------------------------------------------------------------
def sort_consec(inst: Instance, m: int) -> list[list[int]] | None:
    """Sort descending, cut into ``m`` contiguous parts minimising the largest token sum (None if a part
    must exceed the cluster's token capacity)."""
    L = inst.sequences
    order = sorted(range(len(L)), key=lambda i: -L[i])
    limit_cap = inst.token_capacity * inst.num_gpus

    def parts_for(x: int) -> list[list[int]] | None:
        parts: list[list[int]] = [[]]
        acc = 0
        for i in order:
            if L[i] > x:
                return None
            if acc + L[i] > x:
                parts.append([])
                acc = 0
            parts[-1].append(i)
            acc += L[i]
        return parts if len(parts) <= m else None

    lo, hi = max(L), sum(L)
    while lo < hi:
        mid = (lo + hi) // 2
        if parts_for(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    parts = parts_for(lo)
    if parts is None or lo > limit_cap or len(order) < m:
        return None
    while len(parts) < m:  # splitting a part never raises the largest sum
        k = max(range(len(parts)), key=lambda q: len(parts[q]))
        half = len(parts[k]) // 2
        parts[k : k + 1] = [parts[k][:half], parts[k][half:]]
    return parts


# -- per-micro-batch MILP -----------------------------------------------------------------------------------
def solve_microbatch(
    inst: Instance, seqs: list[int], budget: Budget
) -> tuple[list[tuple[int, list[int]]] | None, dict[str, float]]:
    """Best plan found for one micro-batch holding ``seqs`` (bucket MILP, warm-started)."""
    L = inst.sequences
    cap = inst.token_capacity
    beta = inst.cost_model.beta_ms
    warm = greedy_pack(inst, seqs)
    stats: dict[str, float] = {}
    if budget.should_stop():
        return warm, stats
    bks = buckets_of([L[i] for i in seqs], MAX_BUCKETS)
    bound_of = {}
    for bi, (_, members) in enumerate(bks):
        for v in members:
            bound_of[v] = bi
    nb = [0] * len(bks)
    for i in seqs:
        nb[bound_of[L[i]]] += 1
    cands = _candidates(inst)
    mdl = _Model()
    M = mdl.var(1.0, beta, math.inf, False)
    y = [mdl.var(0.0, 0, 1, True) for _ in cands]
    A: dict[tuple[int, int], int] = {}
    for g, d in enumerate(cands):
        for b, (blen, _) in enumerate(bks):
            if blen <= cap * d:
                A[b, g] = mdl.var(0.0, 0, nb[b], True)
    for b in range(len(bks)):
        idx = [A[b, g] for g in range(len(cands)) if (b, g) in A]
        if not idx:
            return warm, stats
        mdl.row(nb[b], nb[b], idx, [1.0] * len(idx))
    for g, d in enumerate(cands):
        idx = [A[b, g] for b in range(len(bks)) if (b, g) in A]
        mdl.row(
            -math.inf,
            0.0,
            [*idx, y[g]],
            [float(bks[b][0]) for b in range(len(bks)) if (b, g) in A] + [-float(cap * d)],
        )
        tv = [seq_time(inst, bks[b][0], d) for b in range(len(bks)) if (b, g) in A]
        mdl.row(-math.inf, -beta, [*idx, M], [*tv, -1.0])
        if g > 0 and cands[g - 1] == d:
            mdl.row(-math.inf, 0.0, [y[g], y[g - 1]], [1.0, -1.0])
    mdl.row(inst.num_gpus, inst.num_gpus, y, [float(d) for d in cands])
    h = mdl.to_highs(budget)
    _configure(h, budget)
    if warm is not None:
        start = np.zeros(len(mdl.cost))
        used = {d: 0 for d in set(cands)}
        first = {d: cands.index(d) for d in set(cands)}
        mk = beta
        for d, members in warm:
            g = first[d] + used[d]
            used[d] += 1
            start[y[g]] = 1
            t = beta
            for i in members:
                b = bound_of[L[i]]
                start[A[b, g]] += 1
                t += seq_time(inst, bks[b][0], d)
            mk = max(mk, t)
        start[M] = mk
        _set_start(h, start)
    out = run_highs(h, budget)
    stats["milp_objective"] = out.objective if out.objective is not None else math.nan
    if out.x is None:
        return warm, stats
    x = out.x
    pools: list[list[int]] = [[] for _ in bks]
    for i in sorted(seqs, key=lambda i: -L[i]):
        pools[bound_of[L[i]]].append(i)
    groups: list[tuple[int, list[int]]] = []
    for g, d in enumerate(cands):
        if x[y[g]] < 0.5:
            continue
        chosen: list[int] = []
        for b in range(len(bks)):
            if (b, g) in A:
                k = round(x[A[b, g]])
                chosen.extend(pools[b][:k])
                del pools[b][:k]
        groups.append((d, chosen))
    if any(pools) or sum(d for d, _ in groups) != inst.num_gpus:
        return warm, stats  # numerical trouble: keep the warm start
    if warm is not None and plan_time(inst, [warm]) < plan_time(inst, [groups]):
        return warm, stats
    return groups, stats


def bucket_plan(inst: Instance, budget: Budget) -> tuple[Plan | None, dict[str, object]]:
    """FlexSP-style planning: best over micro-batch counts of independent per-micro-batch MILPs."""
    L = inst.sequences
    N = inst.num_gpus
    m0 = max(1, -(-sum(L) // (inst.token_capacity * N)))
    mmax = len(L) if inst.max_microbatches is None else min(len(L), inst.max_microbatches)
    counts: list[int] = []
    m = m0
    while m <= mmax and len(counts) < 1 + EXTRA_MICROBATCHES:
        if sort_consec(inst, m) is not None:
            counts.append(m)
        elif counts:
            break
        m += 1
        if not counts and m > m0 + 8:
            break
    best: Plan | None = None
    best_t = math.inf
    stats: dict[str, object] = {"microbatch_counts": ",".join(map(str, counts))}
    for k, m in enumerate(counts):
        if budget.should_stop() and best is not None:
            break
        parts = sort_consec(inst, m)
        assert parts is not None
        # the first (usually best) count gets 70% of what is left, later ones share the rest
        share = 0.7 if k == 0 and len(counts) > 1 else 1.0 / (len(counts) - k)
        # Deterministic mode: no wall-clock shares (they depend on machine load); every sub-MILP is
        # bounded by its node limit instead, and only the overall deadline remains as a safety stop.
        sub = budget if budget.deterministic else budget.child(fraction=share)
        plan: Plan = []
        for p, seqs in enumerate(parts):
            part_budget = sub if budget.deterministic else sub.child(fraction=1.0 / (len(parts) - p))
            groups, _ = solve_microbatch(inst, seqs, part_budget)
            if groups is None:
                break
            plan.append(groups)
        if len(plan) == len(parts):
            t = plan_time(inst, plan)
            stats[f"m{m}.modelled_ms"] = round(t, 4)
            if t < best_t:
                best, best_t = plan, t
    return best, stats


# -- exact global model -------------------------------------------------------------------------------------
def exact_plan(
    inst: Instance, budget: Budget, hint_plan: Plan | None
) -> tuple[Plan | None, float | None, bool]:
    """(plan, proved bound or None, search finished) of the exact global MILP for small batches."""
    L = inst.sequences
    n = len(L)
    N = inst.num_gpus
    cap = inst.token_capacity
    beta = inst.cost_model.beta_ms
    mmax = n if inst.max_microbatches is None else min(n, inst.max_microbatches)
    cands = _candidates(inst)
    mdl = _Model()
    z = [mdl.var(0.0, 0, 1, True) for _ in range(mmax)]
    M = [mdl.var(1.0, 0.0, math.inf, False) for _ in range(mmax)]
    y = [[mdl.var(0.0, 0, 1, True) for _ in cands] for _ in range(mmax)]
    x: dict[tuple[int, int, int], int] = {}
    for j in range(mmax):
        for g, d in enumerate(cands):
            for i in range(n):
                if L[i] <= cap * d and j <= i:  # symmetry: slots labelled by their first sequence
                    x[i, g, j] = mdl.var(0.0, 0, 1, True)
    for i in range(n):
        idx = [v for (ii, _, _), v in x.items() if ii == i]
        if not idx:
            return None, math.inf, True  # sequence i fits no usable degree (aligned)
        mdl.row(1, 1, idx, [1.0] * len(idx))
    # valid cuts (see common.py's bound): a slot costs at least beta plus its work / N, and at least
    # beta + t_min of each of its sequences
    degs = sorted(set(cands))
    work = [min(d * seq_time(inst, L[i], d) for d in degs if L[i] <= cap * d) for i in range(n)]
    tmin = [min(seq_time(inst, L[i], d) for d in degs if L[i] <= cap * d) for i in range(n)]
    for j in range(mmax):
        items = [(i, v) for (i, _, jj), v in x.items() if jj == j]
        mdl.row(
            -math.inf, 0, [v for _, v in items] + [z[j], M[j]], [work[i] / N for i, _ in items] + [beta, -1.0]
        )
        for i in range(n):
            vs = [v for (ii, _, jj), v in x.items() if ii == i and jj == j]
            if vs:
                mdl.row(-math.inf, 0, [*vs, z[j], M[j]], [tmin[i]] * len(vs) + [beta, -1.0])
                mdl.row(-math.inf, 0, [*vs, z[j]], [1.0] * len(vs) + [-1.0])
    for j in range(mmax):
        mdl.row(0, 0, [*y[j], z[j]], [*(float(d) for d in cands), -float(N)])
        if j:
            mdl.row(-math.inf, 0, [z[j], z[j - 1]], [1.0, -1.0])
        for g, d in enumerate(cands):
            items = [(i, x[i, g, j]) for i in range(n) if (i, g, j) in x]
            for _, v in items:
                mdl.row(-math.inf, 0, [v, y[j][g]], [1.0, -1.0])
            mdl.row(
                -math.inf,
                0,
                [v for _, v in items] + [y[j][g]],
                [float(L[i]) for i, _ in items] + [-float(cap * d)],
            )
            mdl.row(
                -math.inf,
                0,
                [v for _, v in items] + [y[j][g], M[j]],
                [seq_time(inst, L[i], d) for i, _ in items] + [beta, -1.0],
            )
            if g > 0 and cands[g - 1] == d:
                mdl.row(-math.inf, 0, [y[j][g], y[j][g - 1]], [1.0, -1.0])
    h = mdl.to_highs(budget)
    _configure(h, budget)
    if hint_plan is not None:
        warm = _exact_start(inst, hint_plan, cands, mmax, z, M, y, x, len(mdl.cost))
        if warm is not None:
            _set_start(h, warm)
    out = run_highs(h, budget)
    bound = out.bound if aligned_is_wlog(inst) else None
    finished = out.model_status == highspy.HighsModelStatus.kOptimal
    if finished and bound is not None and out.objective is not None:
        bound = min(bound, out.objective) if budget.gap_target == 0 else bound
    if out.x is None:
        if out.infeasible and aligned_is_wlog(inst):
            return None, math.inf, True
        return None, bound, finished
    xv = out.x
    plan: Plan = []
    for j in range(mmax):
        if xv[z[j]] < 0.5:
            continue
        groups = []
        for g, d in enumerate(cands):
            if xv[y[j][g]] < 0.5:
                continue
            groups.append((d, [i for i in range(n) if (i, g, j) in x and xv[x[i, g, j]] > 0.5]))
        plan.append(groups)
    return plan, bound, finished


def _exact_start(
    inst: Instance,
    plan: Plan,
    cands: list[int],
    mmax: int,
    z: list[int],
    M: list[int],
    y: list[list[int]],
    x: dict[tuple[int, int, int], int],
    ncols: int,
) -> np.ndarray | None:
    """The exact model's column values for ``plan`` (None if it does not fit the model's symmetry
    conventions, e.g. a degree the model lacks). Slots are ordered by their smallest sequence index."""
    L = inst.sequences
    beta = inst.cost_model.beta_ms
    plan = sorted(
        (mb for mb in plan if any(s for _, s in mb)), key=lambda mb: min(i for _, s in mb for i in s)
    )
    if len(plan) > mmax:
        return None
    start = np.zeros(ncols)
    first = {d: cands.index(d) for d in set(cands)}
    for j, groups in enumerate(plan):
        start[z[j]] = 1
        used = dict.fromkeys(first, 0)
        mk = 0.0
        for d, members in groups:
            if d not in first or used[d] >= inst.num_gpus // d:
                return None
            g = first[d] + used[d]
            used[d] += 1
            start[y[j][g]] = 1
            t = beta
            for i in members:
                if (i, g, j) not in x:
                    return None
                start[x[i, g, j]] = 1
                t += seq_time(inst, L[i], d)
            mk = max(mk, t)
        start[M[j]] = mk
    return start


def plan_from_solution(inst: Instance, sol: object) -> Plan | None:
    """Read an aligned plan (degree, sequences) back from a Solution, e.g. a hint."""
    mbs = getattr(sol, "microbatches", None)
    if mbs is None:
        return None
    return [[(len(g.gpus), list(g.sequences)) for g in mb.groups] for mb in mbs]


@register(PROBLEM, "milp", "exact", "HiGHS MILP: exact global model for small batches, FlexSP buckets else")
def run_milp(inst: Instance, budget: Budget, hint: object = None) -> Result:
    t0 = time.perf_counter()
    stats: dict[str, object] = {}
    if len(inst.sequences) <= EXACT_MAX_SEQS:
        warm = plan_from_solution(inst, hint)
        if warm is None:  # no hint: a fast packing as the start, and the answer if HiGHS finds nothing
            from solvers.seq_parallel.pack import pack_plan

            warm = pack_plan(inst, budget.child(fraction=0.2))[0]
        plan, bound, finished = exact_plan(inst, budget, warm)
        if plan is None and warm is not None and not (bound is not None and math.isinf(bound)):
            plan = warm
        stats["model"] = "exact"
        stats["time_s"] = round(time.perf_counter() - t0, 4)
        if plan is None:
            if bound is not None and math.isinf(bound) and finished:
                return Result(PROBLEM, Status.INFEASIBLE, "milp", bound_source="milp", stats=stats)
            return Result(PROBLEM, Status.NO_SOLUTION, "milp", limit=budget.limit_reason(), stats=stats)
        sol = build_solution(inst, plan)
        budget.report("milp", plan_time(inst, plan), bound, sol)
        return Result(
            PROBLEM,
            Status.FEASIBLE,
            "milp",
            solution=sol,
            bound=bound,
            bound_source="milp (exact global model)" if bound is not None else "",
            limit=Limit.NONE if finished else (budget.limit_reason() if budget.expired() else Limit.TIME),
            stats=stats,
        )
    plan, st = bucket_plan(inst, budget)
    stats.update(st)
    stats["model"] = "buckets"
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    if plan is None:
        return Result(PROBLEM, Status.NO_SOLUTION, "milp", limit=budget.limit_reason(), stats=stats)
    sol = build_solution(inst, plan)
    budget.report("milp", plan_time(inst, plan), None, sol)
    return Result(PROBLEM, Status.FEASIBLE, "milp", solution=sol, limit=budget.limit_reason(), stats=stats)
