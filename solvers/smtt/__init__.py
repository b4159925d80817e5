"""SMTT (1||ΣwjTj) solvers. Importing this package registers them with :mod:`solvers.registry`.

* :mod:`~solvers.smtt.rules`  dispatching rules (heuristic): edd, spt, wspt, mdd, atc, rules;
* :mod:`~solvers.smtt.ls`     Numba iterated local search (heuristic): ls;
* :mod:`~solvers.smtt.dynasearch` dynasearch and iterated dynasearch in Numba (heuristic): dynasearch, ids;
* :mod:`~solvers.smtt.lawler` Lawler's decomposition DP, unweighted only (exact): lawler;
* :mod:`~solvers.smtt.subset_dp` subset DP with dominance pruning, n <= 22 (exact): dp;
* :mod:`~solvers.smtt.cpsat`  CP-SAT with dominance precedences (exact): cpsat;
* :mod:`~solvers.smtt.mip`    linear-ordering MIP on HiGHS, small n (exact): mip;
* :mod:`~solvers.smtt.lagrange` Lagrangian time-indexed bound (SSDP-style) + CP-SAT on the arcs left
  (exact): ssdp;
* :mod:`~solvers.smtt.auto`   portfolio rules -> dp (n <= 22) / lawler (unweighted) -> ids -> ssdp -> cpsat:
  auto;
* :mod:`~solvers.smtt.bounds` the cheap proved bound registered with ``register_bound``.
"""

from solvers.registry import register_bound, register_warmup
from solvers.smtt import auto, cpsat, dynasearch, kernels, lagrange, lawler, ls, mip, rules, subset_dp
from solvers.smtt.bounds import best_bound

PROBLEM = "smtt"


@register_bound(PROBLEM)
def _bound(instance: object) -> tuple[float, str]:
    value, name = best_bound(instance)  # type: ignore[arg-type]
    return float(value), name


@register_warmup(PROBLEM)
def _warmup() -> None:
    kernels.warm()
    dynasearch.warm()
    lawler.warm()
    subset_dp.warm()
    lagrange.warm()


__all__ = ["auto", "cpsat", "dynasearch", "lagrange", "lawler", "ls", "mip", "rules", "subset_dp"]
