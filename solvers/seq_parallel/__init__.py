"""Solvers for sequence-parallel assignment (FlexSP): ``bfd``/``bfd-max`` baselines, ``milp``, ``auto``.

Importing the package registers every solver and the cheap bound with :mod:`solvers.registry`.
"""

from solvers.seq_parallel import bfd, bound, common, lpbound, milp, pack, portfolio

__all__ = ["bfd", "bound", "common", "lpbound", "milp", "pack", "portfolio"]
