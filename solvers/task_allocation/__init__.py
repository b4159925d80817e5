"""Task-allocation solvers (GAP, multi-resource GAP, R||Cmax); importing registers them.

* ``greedy`` (heuristic, Numba) -- :mod:`.greedy`;
* ``tabu`` (metaheuristic, Numba) -- :mod:`.tabu`;
* ``mip`` (HiGHS), ``lp`` (LP-relaxation bound), ``cpsat``, ``pulp`` (CBC) -- :mod:`.exact`;
* ``auto`` (portfolio) -- :mod:`.portfolio`;
* the cheap bound -- :mod:`.bounds`.
"""

from solvers.task_allocation import bounds, exact, greedy, portfolio, tabu

__all__ = ["bounds", "exact", "greedy", "portfolio", "tabu"]
