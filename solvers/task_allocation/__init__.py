"""Task-allocation solvers (GAP, multi-resource GAP, R||Cmax); importing registers them.

* ``greedy`` (heuristic, Numba) -- :mod:`.greedy`;
* ``tabu`` (metaheuristic, Numba) -- :mod:`.tabu`;
* ``lns`` (exact re-optimisation of agent subsets with HiGHS) -- :mod:`.lns`;
* ``mip`` (HiGHS), ``lp`` (LP-relaxation bound), ``cpsat``, ``pulp`` (CBC) -- :mod:`.exact`;
* ``auto`` (portfolio) -- :mod:`.portfolio`;
* the cheap bound -- :mod:`.bounds`.
"""

from solvers.task_allocation import bounds, exact, greedy, lns, portfolio, tabu

__all__ = ["bounds", "exact", "greedy", "lns", "portfolio", "tabu"]
