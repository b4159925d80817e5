"""Task-allocation solvers (GAP, multi-resource GAP, R||Cmax); importing registers them.

* ``greedy`` (heuristic, Numba) -- :mod:`.greedy`;
* ``tabu`` (metaheuristic, Numba) -- :mod:`.tabu`;
* ``lagrange`` (Lagrangian bound) -- :mod:`.lagrange`;
* ``bnb`` (branch and bound on the Lagrangian bound) -- :mod:`.bnb`;
* ``lns`` (exact re-optimisation of agent subsets with HiGHS) -- :mod:`.lns`;
* ``mip`` (HiGHS), ``lp`` (LP-relaxation bound), ``cpsat``, ``pulp`` (CBC) -- :mod:`.exact`;
* ``auto`` (portfolio) -- :mod:`.portfolio`;
* the cheap bound -- :mod:`.bounds`.
"""

from models.task_allocation import PROBLEM
from solvers.registry import register_warmup
from solvers.task_allocation import bnb, bounds, exact, greedy, lagrange, lns, portfolio, tabu


@register_warmup(PROBLEM)
def warmup() -> None:
    """Compile every kernel of the family (the registry keeps one warm-up function per family)."""
    greedy.warmup()
    tabu.warmup()
    lagrange.warmup()
    bnb.warmup()


__all__ = ["bnb", "bounds", "exact", "greedy", "lagrange", "lns", "portfolio", "tabu"]
