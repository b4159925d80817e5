"""``lp``: a proved lower bound on the step time from LP relaxations with micro-batch symmetry broken.

Relaxation (valid for every plan, any GPU placement, not only aligned ranges)
-----------------------------------------------------------------------------
Let ``t(i, d)`` be the time sequence ``i`` adds to a degree-``d`` group with the FASTEST bandwidth any
placement of that degree can have (:func:`.common.fastest_bw`), ``inf`` when ``s_i > cap*d``, and
``w(i, d) = d*t(i, d)`` its GPU work. Fix the number of micro-batches ``m``. Any plan with ``m``
micro-batches gives a feasible point of the LP over ``x[i,j,d] in [0, 1]`` (sequence ``i`` in
micro-batch ``j`` in a group of degree ``d``) and ``T_j`` (micro-batch times)::

    min sum_j T_j
    sum_{j,d} x[i,j,d] = 1                               every sequence once
    sum_{i,d} w(i,d) x[i,j,d] <= N (T_j - beta)          (1) work: the groups partition the N GPUs and
                                                             d_g (T_j - beta) >= d_g * load_g
    sum_{i,d} s_i x[i,j,d] <= cap N                      (2) memory: sum_g tokens_g <= cap sum_g d_g
    sum_d t(i,d) x[i,j,d] <= T_j - beta                  (3) a sequence's own group is not faster
                                                             than its micro-batch (for the K longest)

(3) holds because in a plan at most one ``x[i,j,d]`` is 1.

The longest sequence ``i0`` (by its fastest time) is put in micro-batch 0 and its degree ``d0`` is
enumerated; its group ``G*`` is modelled explicitly: columns ``g[i]`` (sequence ``i`` shares ``G*``) with
``t(i0,d0) + sum_i t(i,d0) g[i] <= T_0 - beta`` and ``s_i0 + sum_i s_i g[i] <= cap*d0``, while (1) and
(2) for micro-batch 0 count only the other groups, on ``N - d0`` GPUs. Each of these rows holds for
every plan whose longest sequence has degree ``d0``. This is what the aggregated rows miss: when the
long sequence alone nearly fills its micro-batch's time, the memory of its group cannot be used by
anything else, so the micro-batch holds far fewer tokens than ``cap*N``.

Micro-batches are interchangeable, so the longest sequence may be fixed to micro-batch 0 and, more
generally, the ``k`` longest sequences to micro-batches by a *restricted growth string* (sequence ``r`` goes
to a micro-batch already used by a longer one or to the first unused one): every plan matches one string up
to relabelling. Each case (``m``, string, degree of the longest sequence) is an LP; a case is split further
by the degree of the next fixed sequence (up to ``MAX_DEGREE_FIX`` of them). The split is searched best
first: the open case with the smallest LP value is expanded (a child's value is at least its parent's), so
the smallest open value is a proved bound at every moment -- the search is anytime -- and when the case
popped is a leaf its value is the minimum over all leaves. Micro-batch counts enter lazily: a pseudo-case
"every ``m >= m'``" carries the cheap bound ``m'*beta + max(t_max, W/N)`` of :mod:`.common` (increasing in
``m``) and is replaced by the cases of ``m'`` and the pseudo-case of ``m'+1`` when popped (none beyond
``max_microbatches``). Infeasible cases have value ``inf``; if that is the smallest, no plan exists. LP
values come from HiGHS's simplex; each is lowered by ``1e-6`` relative (plus ``1e-6`` ms) to absorb its
feasibility tolerances before being claimed.
"""

from __future__ import annotations

import heapq
import math
import time

import highspy
import numpy as np

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.highs import new_highs, run_highs
from solvers.registry import register
from solvers.result import Limit, Result, Status
from solvers.seq_parallel.common import cheap_lower_bound, fastest_bw

PROBLEM = "seq_parallel"
#: sequences (longest first) whose micro-batch is enumerated; of these, how many get their degree fixed
FIX_LONGEST = 3
MAX_DEGREE_FIX = 3
SAFETY = 1e-6


def _stop(budget: Budget) -> bool:
    """Deterministic mode ignores wall-clock shares (only the hard deadline and cancellation stop the
    enumeration), so the same instance always gets the same bound when the budget suffices."""
    if budget.deterministic:
        return budget.expired()
    return budget.should_stop()


def _rgs(k: int, m: int) -> list[list[int]]:
    out: list[list[int]] = []

    def rec(prefix: list[int], used: int) -> None:
        if len(prefix) == k:
            out.append(prefix)
            return
        for j in range(min(used + 1, m)):
            rec([*prefix, j], max(used, j + 1))

    rec([], 0)
    return out


def _times(inst: Instance) -> tuple[list[int], np.ndarray]:
    cm = inst.cost_model
    cap = inst.token_capacity
    degs = [d for d in inst.degrees if fastest_bw(inst, d) is not None]
    L = inst.sequences
    t = np.full((len(L), len(degs)), np.inf)
    for k, d in enumerate(degs):
        bw = fastest_bw(inst, d)
        assert bw is not None
        for i, s in enumerate(L):
            if s <= cap * d:
                t[i, k] = cm.seq_time(s, d, bw if math.isfinite(bw) else None)
    return degs, t


class _LP:
    """The LP for ``m`` micro-batches over sequence classes, built once; a symmetry pattern is applied
    by zeroing column bounds, so HiGHS re-solves from the previous basis (dual simplex hot start)."""

    def __init__(
        self,
        inst: Instance,
        degs: list[int],
        t: np.ndarray,
        m: int,
        classes: list[tuple[int, int]],
        budget: Budget,
        first: tuple[int, int],
    ):
        L = inst.sequences
        N = inst.num_gpus
        cap = inst.token_capacity
        beta = inst.cost_model.beta_ms
        i0, k0 = first
        d0, t0, s0 = degs[k0], float(t[i0, k0]), float(L[i0])
        cost: list[float] = [1.0] * m
        ub: list[float] = [math.inf] * m
        cols: dict[tuple[int, int, int], int] = {}
        gcol: dict[int, int] = {}  # class -> its column inside the longest sequence's group G*
        for c, (i, cnt) in enumerate(classes):
            for j in range(m):
                for k in range(len(degs)):
                    if math.isfinite(t[i, k]):
                        cols[c, j, k] = len(cost)
                        cost.append(0.0)
                        ub.append(float(cnt))
            if math.isfinite(t[i, k0]):
                gcol[c] = len(cost)
                cost.append(0.0)
                ub.append(float(cnt))
        rows: list[tuple[float, float, list[int], list[float]]] = []
        by_c: dict[int, list[int]] = {}
        by_j: dict[int, list[tuple[int, int, int]]] = {}
        for (c, j, k), col in cols.items():
            by_c.setdefault(c, []).append(col)
            by_j.setdefault(j, []).append((classes[c][0], k, col))
        for c, col in gcol.items():
            by_c.setdefault(c, []).append(col)
        self.empty = any(not by_c.get(c) for c in range(len(classes)))
        for c, (_, cnt) in enumerate(classes):
            idx = by_c.get(c, [])
            rows.append((float(cnt), float(cnt), idx, [1.0] * len(idx)))
        for j in range(m):
            items = by_j.get(j, [])
            gpus = N - d0 if j == 0 else N  # micro-batch 0: the GPUs outside G*
            rows.append(
                (
                    -math.inf,
                    -gpus * beta,
                    [col for _, _, col in items] + [j],
                    [degs[k] * t[i, k] for i, k, _ in items] + [-gpus],
                )
            )
            rows.append(
                (-math.inf, cap * gpus, [col for _, _, col in items], [float(L[i]) for i, _, _ in items])
            )
        # G*: its time is the longest sequence's plus its other members'; its memory is cap*d0
        gl = list(gcol.items())
        rows.append(
            (
                -math.inf,
                -beta - t0,
                [col for _, col in gl] + [0],
                [t[classes[c][0], k0] for c, _ in gl] + [-1.0],
            )
        )
        rows.append(
            (-math.inf, cap * d0 - s0, [col for _, col in gl], [float(L[classes[c][0]]) for c, _ in gl])
        )
        # (3), averaged over a class (valid: the mean of its members' rows)
        for c, (i, cnt) in enumerate(classes):
            for j in range(m):
                ks = [k for k in range(len(degs)) if (c, j, k) in cols]
                idx = [cols[c, j, k] for k in ks]
                val = [t[i, k] / cnt for k in ks]
                if j == 0 and c in gcol:
                    idx.append(gcol[c])
                    val.append(t[i, k0] / cnt)
                rows.append((-math.inf, -beta, [*idx, j], [*val, -1.0]))
        h = new_highs(budget)
        nc = len(cost)
        h.addCols(
            nc,
            np.array(cost),
            np.array([beta] * m + [0.0] * (nc - m)),
            np.array(ub),
            0,
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.zeros(0),
        )
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        for _, _, idx, val in rows:
            starts.append(len(index))
            index.extend(idx)
            value.extend(val)
        h.addRows(
            len(rows),
            np.array([r[0] for r in rows]),
            np.array([r[1] for r in rows]),
            len(index),
            np.array(starts, np.int32),
            np.array(index, np.int32),
            np.array(value, np.float64),
        )
        self.h, self.cols, self.gcol, self.ub, self.m, self.k0 = h, cols, gcol, ub, m, k0

    def solve(self, fixed: dict[int, tuple[int, int | None]], budget: Budget) -> float | None:
        """LP optimum with class ``c`` (a single sequence) forced into micro-batch ``fixed[c][0]``
        and, if given, degree index ``fixed[c][1]``; ``inf`` when infeasible."""
        if self.empty:
            return math.inf
        idx, up = [], []
        for (c, j, k), col in self.cols.items():
            if c in fixed:
                fj, fk = fixed[c]
                idx.append(col)
                up.append(self.ub[col] if j == fj and (fk is None or k == fk) else 0.0)
        for c, col in self.gcol.items():
            if c in fixed:
                fj, fk = fixed[c]
                idx.append(col)
                up.append(self.ub[col] if fj == 0 and (fk is None or fk == self.k0) else 0.0)
        if idx:
            self.h.changeColsBounds(
                len(idx), np.array(idx, np.int32), np.zeros(len(idx)), np.array(up, np.float64)
            )
        out = run_highs(self.h, budget, is_mip=False)
        if out.infeasible:
            return math.inf
        if out.model_status != highspy.HighsModelStatus.kOptimal or out.bound is None:
            return None
        return out.bound


def lp_lower_bound(inst: Instance, budget: Budget) -> tuple[float | None, dict[str, object]]:
    """Best-first branch and bound over the case split of the module docstring (anytime: the smallest
    open node is a proved bound whenever the search stops); None if not every root was solved."""
    cheap = cheap_lower_bound(inst)
    stats: dict[str, object] = {}
    if not math.isfinite(cheap):
        return cheap, stats
    degs, t = _times(inst)
    L = inst.sequences
    n, N = len(L), inst.num_gpus
    beta = inst.cost_model.beta_ms
    tmin = np.min(t, axis=1)
    W = float(sum(np.min(t * np.array(degs, dtype=float), axis=1)))
    tail0 = max(float(np.max(tmin)), W / N)
    m_min = max(1, -(-sum(L) // (inst.token_capacity * N)))
    m_cap = n if inst.max_microbatches is None else min(n, inst.max_microbatches)
    order = sorted(range(n), key=lambda i: (-tmin[i], i))
    k = min(FIX_LONGEST, n)
    rest: dict[int, list[int]] = {}
    for i in order[k:]:
        rest.setdefault(L[i], []).append(i)
    # the longest sequence is in micro-batch 0 (every string starts with 0) and is not a class: its
    # group G* is modelled explicitly for each of its degrees
    classes = [(order[r], 1) for r in range(1, k)] + [(mem[0], len(mem)) for mem in rest.values()]
    choices = [[kk for kk in range(len(degs)) if math.isfinite(t[order[r], kk])] for r in range(k)]
    lps: dict[tuple[int, int], _LP] = {}

    def value(m: int, k0: int, pat: tuple[int, ...], fixed_degs: tuple[int, ...]) -> float | None:
        if (m, k0) not in lps:
            lps[m, k0] = _LP(inst, degs, t, m, classes, budget, (order[0], k0))
        fixed = {r - 1: (pat[r], fixed_degs[r - 1] if r - 1 < len(fixed_degs) else None) for r in range(1, k)}
        return lps[m, k0].solve(fixed, budget)

    # node: (value, tie, kind, m, k0, pattern, degrees of sequences 1..); kind 0 = the tail "every
    # m >= this one" (value: its cheap bound), 1 = a case of the split
    heap: list[tuple[float, int, int, int, int, tuple[int, ...], tuple[int, ...]]] = []
    tie = 0
    if m_min <= m_cap:
        heap.append((m_min * beta + tail0, tie, 0, m_min, -1, (), ()))
    solved = 0
    while heap:
        if _stop(budget):
            break
        node = heapq.heappop(heap)
        v, _, kind, m, k0, pat, fd = node
        if kind == 1 and (math.isinf(v) or len(fd) + 1 >= min(k, MAX_DEGREE_FIX)):
            stats.update({"lps": solved, "complete": True})  # best-first: no open node is smaller
            return _safe(v, cheap), stats
        children: list[tuple[float, int, int, int, int, tuple[int, ...], tuple[int, ...]]] = []
        cut = False
        if kind == 0:
            for k0n in choices[0]:
                for p in _rgs(k, m):
                    val = value(m, k0n, tuple(p), ())
                    if val is None:
                        cut = True
                        break
                    children.append((val, 0, 1, m, k0n, tuple(p), ()))
                if cut:
                    break
            if m + 1 <= m_cap:
                children.append(((m + 1) * beta + tail0, 0, 0, m + 1, -1, (), ()))
        else:
            for kr in choices[len(fd) + 1]:
                val = value(m, k0, pat, (*fd, kr))
                if val is None:
                    cut = True
                    break
                children.append((max(val, v), 0, 1, m, k0, pat, (*fd, kr)))
        if cut:  # the node stays open: its own value still bounds its cases
            heapq.heappush(heap, node)
            break
        for c in children:
            solved += 1
            tie += 1
            heapq.heappush(heap, (c[0], tie, *c[2:]))
    else:
        # no open case left: every case is infeasible (or no micro-batch count is allowed)
        stats.update({"lps": solved, "complete": True})
        return math.inf, stats
    stats.update({"lps": solved, "complete": False})
    return _safe(min(x[0] for x in heap), cheap), stats


def _safe(bound: float, cheap: float) -> float:
    if math.isinf(bound):
        return bound
    return max(bound * (1 - SAFETY) - SAFETY, cheap)


@register(PROBLEM, "lp", "exact", "LP relaxation with micro-batch symmetry fixed: a proved lower bound only")
def run_lp(inst: Instance, budget: Budget, hint: object = None) -> Result:
    t0 = time.perf_counter()
    bound, stats = lp_lower_bound(inst, budget)
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    if bound is None:
        return Result(PROBLEM, Status.NO_SOLUTION, "lp", limit=budget.limit_reason(), stats=stats)
    if math.isinf(bound):
        return Result(PROBLEM, Status.INFEASIBLE, "lp", bound_source="lp", stats=stats)
    budget.report("lp", None, bound, None)
    return Result(
        PROBLEM,
        Status.NO_SOLUTION,
        "lp",
        bound=bound,
        bound_source="lp relaxation",
        limit=Limit.NONE,
        stats=stats,
    )
