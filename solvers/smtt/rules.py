"""Dispatching rules for SMTT (kind ``heuristic``): EDD, SPT, WSPT, MDD and ATC.

* ``edd``  earliest due date (optimal for max lateness; a fair start for low-tardiness instances);
* ``spt``  shortest processing time; ``wspt`` largest w_j/p_j first (optimal when every job is late);
* ``mdd``  modified due date, weighted form: at time t the job minimising max(p_j, d_j - t)/w_j;
* ``atc``  apparent tardiness cost (Vepsalainen & Morton) swept over the look-ahead k in
  :data:`ATC_K`, keeping the best sequence.

The sorting rules are numpy ``lexsort`` with the job index as the final key (stable, deterministic);
MDD and ATC are O(n^2) Numba kernels. :func:`best_rule` runs all of them and is what the local search
and the portfolio start from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.smtt import PROBLEM, Instance
from solvers.budget import Budget
from solvers.registry import register
from solvers.result import Result
from solvers.smtt.common import cost, result
from solvers.smtt.kernels import atc_sequence, mdd_sequence

ATC_K = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def edd(inst: Instance) -> np.ndarray:
    return np.lexsort((np.arange(inst.n), inst.p, inst.d)).astype(np.int64)


def spt(inst: Instance) -> np.ndarray:
    return np.lexsort((np.arange(inst.n), inst.d, inst.p)).astype(np.int64)


def wspt(inst: Instance) -> np.ndarray:
    # ratio p/w ascending; w = 0 -> +inf (last). Compare p_i w_j vs p_j w_i exactly via float ratio of
    # int64 (exact enough for sorting keys within the documented value ranges) and break ties by index.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(inst.w > 0, inst.p / np.maximum(inst.w, 1), np.inf)
    return np.lexsort((np.arange(inst.n), ratio)).astype(np.int64)


def mdd(inst: Instance) -> np.ndarray:
    return np.asarray(mdd_sequence(inst.p, inst.d, inst.w), dtype=np.int64)


def atc(inst: Instance, budget: Budget | None = None) -> np.ndarray:
    best: np.ndarray | None = None
    best_cost = 0
    for k in ATC_K:
        seq = atc_sequence(inst.p, inst.d, inst.w, k)
        c = cost(inst, seq)
        if best is None or c < best_cost:
            best, best_cost = seq, c
        if budget is not None and budget.should_stop():
            break
    assert best is not None
    return best


RULES: dict[str, Callable[[Instance], np.ndarray]] = {
    "edd": edd,
    "spt": spt,
    "wspt": wspt,
    "mdd": mdd,
    "atc": atc,
}


def best_rule(inst: Instance, budget: Budget | None = None) -> tuple[np.ndarray, int, str]:
    """Run every rule (stopping early if the budget runs out); the best sequence, its cost and rule."""
    best: tuple[np.ndarray, int, str] | None = None
    for name, fn in RULES.items():
        seq = fn(inst)
        c = cost(inst, seq)
        if best is None or c < best[1]:
            best = (seq, c, name)
        if c == 0 or (budget is not None and budget.should_stop()):
            break
    assert best is not None
    return best


def _make(name: str, fn: Callable[[Instance], np.ndarray], doc: str) -> None:
    @register(PROBLEM, name, "heuristic", doc, instant=True)
    def run(inst: Instance, budget: Budget, hint: Any) -> Result:
        return result(name, fn(inst))


_make("edd", edd, "earliest due date first")
_make("spt", spt, "shortest processing time first")
_make("wspt", wspt, "largest weight / processing time first (Smith's rule)")
_make("mdd", mdd, "modified due date: min max(p, d - t) / w at each step")
_make("atc", atc, "apparent tardiness cost, best over a sweep of the look-ahead k")


@register(PROBLEM, "rules", "heuristic", "best of edd, spt, wspt, mdd and atc", instant=True)
def run_rules(inst: Instance, budget: Budget, hint: Any) -> Result:
    seq, c, rule = best_rule(inst, budget)
    budget.report("rules", float(c), None, None)
    return result("rules", seq, limit=budget.limit_reason(), stats={"rule": rule})
