"""The family's cheap proved lower bound, registered with :func:`solvers.registry.register_bound`.

The bound and its proof live in :mod:`solvers.seq_parallel.common` (``cheap_lower_bound``). The stronger
LP bound (``lp``, :mod:`.lpbound`) costs tens to hundreds of milliseconds, so it is a solver step of
``auto`` rather than the registry's cheap bound.
"""

from __future__ import annotations

from models.seq_parallel import Instance
from solvers.registry import register_bound
from solvers.seq_parallel.common import cheap_lower_bound

PROBLEM = "seq_parallel"
BOUND_SOURCE = "work/longest-sequence bound"


@register_bound(PROBLEM)
def bound(inst: Instance) -> tuple[float, str]:
    return cheap_lower_bound(inst), BOUND_SOURCE
