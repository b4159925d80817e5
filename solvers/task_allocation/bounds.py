"""The cheap lower bound added to every task-allocation answer (registered with ``register_bound``).

``cost``      Σ_j min over allowed agents of costs[i][j] -- every task pays at least its cheapest
              allowed agent; "allowed" excludes forbidden pairs and agents whose capacity cannot hold
              the task on its own (such pairs are in no feasible solution).
``makespan``  max(max_j min_i p_ij, ceil(Σ_j min_i p_ij / m)) over allowed agents: the largest task
              must run somewhere, and the total minimal work is spread over m agents at best.

Both are O(mn). The LP relaxation (solver ``lp``) and the MIP dual bound are stronger.
"""

from __future__ import annotations

import math

import numpy as np

from models.task_allocation import PROBLEM, Instance
from solvers.registry import register_bound
from solvers.task_allocation._data import arrays


@register_bound(PROBLEM)
def cheap_bound(inst: Instance) -> tuple[float, str]:
    a = arrays(inst)
    if a.orphans:
        return -math.inf, "none"
    mins = np.where(a.allowed, a.obj, np.inf).min(axis=0)
    if a.makespan:
        return float(max(mins.max(), math.ceil(mins.sum() / a.m - 1e-9))), "max(largest task, average load)"
    return float(mins.sum()), "cheapest allowed agent per task"
