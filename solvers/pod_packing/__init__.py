"""Pod packing solvers: the kube-scheduler replica (``kube``, ``kube-most``, with DefaultPreemption),
``greedy`` (priority/size orders, best fit), ``bfd`` / ``fgd`` (Numba best-fit decreasing and
fragmentation-aware packing), ``lns`` (CP-SAT on a few nodes at a time), CP-SAT whole (``cpsat``) and
level by level (``cpsat-lex``), the capacity bound, and the ``auto`` portfolio (kube -> greedy -> lns
-> cpsat-lex, warm-started). ``replan`` (openb arrival replay) and ``bench`` (``allot bench pods``) are
imported on demand."""

from models.pod_packing import PROBLEM
from solvers.pod_packing import common, cpsat, fit, greedy, kube, lex, lns, portfolio  # noqa: F401  (registration side effects)
from solvers.registry import register_warmup


@register_warmup(PROBLEM)
def warmup() -> None:
    """Compile the family's Numba kernels (:mod:`.fit`)."""
    fit.warmup()
