"""Pod packing solvers: the kube-scheduler replica (``kube``, ``kube-most``), CP-SAT (``cpsat``), the
cheap bound (unplaceable pods) and the ``auto`` portfolio (kube -> kube-most -> cpsat, warm-started)."""

from solvers.pod_packing import common, cpsat, greedy, kube, lex, lns, portfolio  # noqa: F401  (registration side effects)
