"""Seeded SMTT instance generator after Potts & Van Wassenhove (the OR-Library wt sets' recipe).

``generate(seed=0, n=20, tf=0.6, rdd=0.6, weighted=True, p_max=100, w_max=10, name="")``

* ``n``        number of jobs (>= 1);
* ``p_j``      uniform integers in [1, p_max];
* ``w_j``      uniform integers in [1, w_max] when ``weighted``, else all 1 (written without weights);
* ``d_j``      uniform integers in [P(1 - tf - rdd/2), P(1 - tf + rdd/2)] with P = Σp, clipped at 0;
  ``tf`` (tardiness factor) and ``rdd`` (relative range of due dates) are in (0, 1] in the literature
  (0.2 .. 1.0 in OR-Library); a high ``tf`` makes most jobs late, a low one gives many zero optima.

The same seed and parameters always give the same instance (numpy ``default_rng(seed)``).
"""

from __future__ import annotations

import numpy as np

from models.smtt import Instance


def generate(
    seed: int = 0,
    n: int = 20,
    tf: float = 0.6,
    rdd: float = 0.6,
    weighted: bool = True,
    p_max: int = 100,
    w_max: int = 10,
    name: str = "",
) -> Instance:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if p_max < 1 or w_max < 1:
        raise ValueError(f"p_max and w_max must be >= 1, got {p_max}, {w_max}")
    if rdd < 0:
        raise ValueError(f"rdd must be >= 0, got {rdd}")
    rng = np.random.default_rng(seed)
    p = rng.integers(1, p_max + 1, size=n)
    w = rng.integers(1, w_max + 1, size=n) if weighted else None
    total = int(p.sum())
    lo = max(0, int(np.floor(total * (1 - tf - rdd / 2))))
    hi = max(lo, int(np.ceil(total * (1 - tf + rdd / 2))))
    d = rng.integers(lo, hi + 1, size=n)
    label = name or f"smtt-n{n}-tf{tf:g}-rdd{rdd:g}-s{seed}"
    return Instance.from_arrays(
        [int(x) for x in p], [int(x) for x in d], None if w is None else [int(x) for x in w], label
    )
