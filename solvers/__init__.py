"""Solvers for the four families, and what they share.

* :mod:`solvers.result`  -- ``Result``, ``Status``, ``Limit`` and the single gap formula;
* :mod:`solvers.budget`  -- the deadline / gap-target / cancellation / progress protocol;
* :mod:`solvers.registry` -- registration and :func:`solve`, which verifies every answer;
* :mod:`solvers.portfolio` -- the ``auto`` chain: heuristic incumbent, then exact warm-started;
* :mod:`solvers.cpsat`, :mod:`solvers.highs` -- running CP-SAT / HiGHS under a budget;
* ``solvers.<problem>`` -- one subpackage per family.
"""

from solvers.budget import Budget, Progress
from solvers.registry import SolverInfo, all_solvers, finalize, solve, solvers_for, warmup
from solvers.result import Limit, Result, Status, gap

__all__ = [
    "Budget",
    "Limit",
    "Progress",
    "Result",
    "SolverInfo",
    "Status",
    "all_solvers",
    "finalize",
    "gap",
    "solve",
    "solvers_for",
    "warmup",
]
