"""LP-relaxation bound on the pods left pending, per priority level (the ``lp-bound`` step of ``auto``).

The capacity bound (:func:`.common.capacity_levels`) pools each node set's capacity, so it cannot see
that a pod fitting the cluster's *total* free cpu still fits on no single node next to the others. The
LP relaxation can. For the pods S of the levels >= lv (pods that can never be placed removed) it
maximises ``sum x[i, n]`` over x in [0, 1], one variable per pod i and node n of its mask (node-level
filters pass and the pod fits the empty node), subject to

* assignment: ``sum_n x[i, n] <= 1``;
* capacity, per node and resource (``pods`` and milli-GPU included): ``sum_i demand[i, r] x[i, n] <=
  free[n, r]``, written only where the pods that may go there could overflow it;
* whole GPUs: ``sum of count x[i, n]`` over whole-device pods ``<=`` the node's fully free devices;
* cardinality, per node: ``sum_i x[i, n] <= k[n]``, where k[n] is the most pods of S eligible there
  that fit by every resource taken alone (smallest requests first) -- a valid cut that the fractional
  LP would otherwise ignore;
* anti-affinity domains: pods of a self-selecting anti-affinity group (:class:`.common.Relaxation`) at
  most one per domain of the term's key: ``sum x[i, n] <= 1`` over the group and the domain's nodes.

Every feasible placement gives such an x (0/1, with ``x[i, n] = 1`` where pod i is placed), so the
placed count of S is at most ``floor(LP optimum)``, and at least ``|levels >= lv| - floor(LP)`` of
those pods stay pending: the same cumulative bound the capacity bound gives, combined with it by
:func:`.common.level_lower_bounds` (the larger counts). Evictions are relaxed as the capacity bound
relaxes them (an evictable pod's room is free when evictions are allowed), moves, inter-pod affinity,
topology spread and gangs are ignored (all in the optimistic direction), so the bound holds for every
option. A level whose LP does not reach optimality within the budget keeps the capacity bound; HiGHS's
optimal value is trusted to 1e-6 (the counts are far below 1e6, so floor(value + 1e-6) is exact).

The model has one column per (pod, eligible node) pair; above :data:`MAX_PAIRS` the step is skipped
(the build alone would take too long for a one-second answer). The levels reuse one model: only the
objective, the column bounds and the cardinality rows change, so HiGHS warm-starts from the last basis.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import highspy
import numpy as np

from models.pod_packing import GPU_MILLI, Instance
from solvers.budget import Budget
from solvers.highs import new_highs, run_highs
from solvers.pod_packing.common import (
    level_bound_source,
    level_lower_bounds,
    lex_lower_bound,
    pending_vector,
    per_instance,
    per_instance_peek,
    relaxation,
)
from solvers.result import Result, Status

#: above this many (pod, eligible node) pairs the LP is not built
MAX_PAIRS = 200_000
#: HiGHS's optimal objective is trusted to this absolute tolerance
TOL = 1e-6


def lp_levels(
    instance: Instance, budget: Budget, incumbent: dict[int, int] | None = None
) -> dict[int, int] | None:
    """Per level lv: pods of the levels >= lv that stay pending in every feasible solution, by the LP
    (levels whose LP did not finish, or could not tell more, are absent); None when the model is too
    big. ``incumbent``: the cumulative pending counts of a known solution; a level where it already
    meets the capacity bound is skipped (the LP cannot exceed a feasible count), and with no level left
    nothing is built. The first answer that solved some LP is kept for the instance."""
    hit = per_instance_peek(instance, "lp_levels")
    if hit is not None:
        return dict(hit)
    rx = relaxation(instance)
    _, _, capacity = level_lower_bounds(instance)  # nothing of the LP's is cached yet: capacity alone
    todo = [lv for lv in rx.levels if incumbent is None or incumbent.get(lv, 0) > capacity[lv]]
    if not todo:
        return {}
    pods = instance.pods
    # identical pods (priority, requests, mask, anti-affinity group) share columns: y[t, n] in
    # [0, count_t] is the number of type-t pods on node n; averaging an x over identical pods shows the
    # aggregated LP has the same optimum
    type_of: dict[tuple[Any, ...], int] = {}
    members: list[list[int]] = []
    for i, p in enumerate(pods):
        if rx.forced[i]:
            continue
        anti = rx.anti_dom[i][0] if i in rx.anti_dom else None
        key = (p.priority, rx.demand[i].tobytes(), rx.masks[i].tobytes(), anti)
        t = type_of.setdefault(key, len(members))
        if t == len(members):
            members.append([])
        members[t].append(i)
    rep = [m[0] for m in members]
    count = np.array([len(m) for m in members], dtype=np.int64)
    if sum(int(rx.masks[i].sum()) for i in rep) > MAX_PAIRS:
        return None
    pairs = [(t, int(n)) for t, i in enumerate(rep) for n in np.flatnonzero(rx.masks[i])]
    if not pairs:
        none_placed = {lv: sum(1 for p in pods if p.priority >= lv) for lv in rx.levels}
        return dict(per_instance(instance, "lp_levels", lambda: none_placed))
    pt = np.array([t for t, _ in pairs], dtype=np.int64)
    pn = np.array([n for _, n in pairs], dtype=np.int64)
    ncol = len(pairs)
    prio = np.array([p.priority for p in pods], dtype=np.int64)
    tprio = prio[rep]
    tdem = rx.demand[rep]
    rows: list[tuple[np.ndarray, np.ndarray, float]] = []  # (columns, coefficients, upper)
    # assignment (the column bounds cover a type on a single node)
    order = np.argsort(pt, kind="stable")
    for cols in np.split(order, np.flatnonzero(np.diff(pt[order])) + 1):
        if len(cols) > 1:
            rows.append((cols, np.ones(len(cols)), float(count[pt[cols[0]]])))
    # per node: capacity rows where the pods that may go there could overflow, whole GPUs
    by_node = np.argsort(pn, kind="stable")
    node_cols = {int(pn[c[0]]): c for c in np.split(by_node, np.flatnonzero(np.diff(pn[by_node])) + 1)}
    whole = np.array(
        [p.gpu.count if p.gpu is not None and p.gpu.milli == GPU_MILLI else 0 for p in pods], dtype=np.int64
    )[rep]
    for k, (n, cols) in enumerate(node_cols.items()):
        if k % 64 == 63 and budget.should_stop():
            return {}
        d = tdem[pt[cols]]
        most = count[pt[cols]]
        for r in range(d.shape[1]):
            if (d[:, r] * most).sum() > rx.free[n, r]:
                keep = d[:, r] > 0
                rows.append((cols[keep], d[keep, r].astype(float), float(rx.free[n, r])))
        w = whole[pt[cols]]
        if (w * most).sum() > rx.whole_free[n]:
            keep = w > 0
            rows.append((cols[keep], w[keep].astype(float), float(rx.whole_free[n])))
    # anti-affinity domains
    labels = [nd.labels_map for nd in instance.nodes]
    groups: dict[tuple[Any, str], list[int]] = {}
    for c in range(ncol):
        i = rep[int(pt[c])]
        if i in rx.anti_dom:
            key, _, tkey = rx.anti_dom[i]
            groups.setdefault((key, labels[int(pn[c])][tkey]), []).append(c)
    for cols_l in groups.values():
        rows.append((np.array(cols_l), np.ones(len(cols_l)), 1.0))
    card_first = len(rows)
    nodes = sorted(node_cols)
    for n in nodes:
        rows.append((node_cols[n], np.ones(len(node_cols[n])), math.inf))  # bound set per level

    h = new_highs(budget)
    inf = highspy.kHighsInf
    h.addVars(ncol, np.zeros(ncol), count[pt].astype(float))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    starts, idx, vals = [], [], []
    nnz = 0
    for cols, coef, _ in rows:
        starts.append(nnz)
        idx.append(cols.astype(np.int32))
        vals.append(coef)
        nnz += len(cols)
    lower = np.full(len(rows), -inf)
    upper = np.array([u if math.isfinite(u) else inf for _, _, u in rows])
    h.addRows(
        len(rows),
        lower,
        upper,
        nnz,
        np.array(starts, dtype=np.int32),
        np.concatenate(idx),
        np.concatenate(vals),
    )
    out: dict[int, int] = {}
    all_cols = np.arange(ncol, dtype=np.int32)
    for lv in todo:
        if budget.should_stop():
            break
        in_s = tprio[pt] >= lv
        h.changeColsCost(ncol, all_cols, in_s.astype(float))
        h.changeColsBounds(ncol, all_cols, np.zeros(ncol), np.where(in_s, count[pt], 0).astype(float))
        for k, n in enumerate(nodes):
            cols = node_cols[n]
            cols = cols[in_s[cols]]
            dem = np.repeat(tdem[pt[cols]], count[pt[cols]], axis=0)
            if (dem.sum(axis=0) <= rx.free[n]).all():
                h.changeRowBounds(card_first + k, -inf, inf)  # all of them fit: the cut says nothing
            else:
                h.changeRowBounds(card_first + k, -inf, float(_cardinality(dem, rx.free[n])))
        oc = run_highs(h, budget, is_mip=False)
        if oc.bound is None:  # not solved to optimality within the budget
            break
        out[lv] = int((prio >= lv).sum()) - math.floor(oc.bound + TOL)
    # partial results are valid too (a level left out keeps the capacity bound); nothing solved, nothing
    # kept, so a later call with more time may try again
    if out:
        per_instance(instance, "lp_levels", lambda: out)
    return dict(out)


def _cardinality(demand: np.ndarray, free: np.ndarray) -> int:
    """Most of these pods that fit a node with ``free`` by every resource column taken alone."""
    best = demand.shape[0]
    for r in range(demand.shape[1]):
        col = demand[:, r]
        pos = np.sort(col[col > 0])
        fit = int(np.searchsorted(np.cumsum(pos), free[r], side="right"))
        best = min(best, demand.shape[0] - len(pos) + fit)
    return best


def run_lp_bound(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    """The ``auto`` step: the lexicographic bound with the LP's level counts folded in, no solution."""
    t0 = time.perf_counter()
    incumbent = None
    if hint is not None:
        levels = sorted({p.priority for p in instance.pods}, reverse=True)
        cumulative = itertools.accumulate(pending_vector(instance, hint))
        incumbent = dict(zip(levels, cumulative, strict=True))
    got = lp_levels(instance, budget, incumbent)
    _, total = lex_lower_bound(instance)
    stats = {"time_s": round(time.perf_counter() - t0, 4), "levels": None if got is None else len(got)}
    return Result(
        instance.PROBLEM,
        Status.NO_SOLUTION,
        "lp-bound",
        bound=float(total),
        bound_source=level_bound_source(instance),
        limit=budget.limit_reason(),
        stats=stats,
    )
