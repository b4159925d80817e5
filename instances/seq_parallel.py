"""Seeded generator of seq_parallel instances (FlexSP-like global batches).

``generate(seed=0, n=32, num_gpus=8, gpus_per_node=8, memory_mb=30720, cost_model="gpt-7b",
median=512, sigma=1.2, pad_to=128, max_length=None, degrees=None, max_microbatches=None)``

Lengths are log-normal around ``median`` tokens with shape ``sigma`` (real corpora such as FlexSP's
wikipedia.txt are heavy-tailed: median 347, mean 1,014), rounded up to a multiple of ``pad_to`` and
capped at ``max_length`` (default: what the whole cluster can hold, ``token capacity * num_gpus``, so
every sequence fits some group of the largest degree).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.seq_parallel import Instance


def generate(
    seed: int = 0,
    *,
    n: int = 32,
    num_gpus: int = 8,
    gpus_per_node: int = 8,
    memory_mb: float = 30720,
    cost_model: str | dict[str, Any] = "gpt-7b",
    median: float = 512,
    sigma: float = 1.2,
    pad_to: int = 128,
    max_length: int | None = None,
    degrees: list[int] | None = None,
    max_microbatches: int | None = None,
    name: str = "",
) -> Instance:
    rng = np.random.default_rng(seed)
    base: dict[str, Any] = {
        "problem": "seq_parallel",
        "name": name or f"seqpar-n{n}-g{num_gpus}-s{seed}",
        "sequences": [1],
        "cluster": {"num_gpus": num_gpus, "gpus_per_node": gpus_per_node, "memory_mb": memory_mb},
        "cost_model": cost_model,
        "max_microbatches": max_microbatches,
    }
    if degrees is not None:
        base["degrees"] = list(degrees)
    probe = Instance.from_dict(base)
    limit = max_length if max_length is not None else probe.token_capacity * max(probe.degrees)
    raw = rng.lognormal(mean=np.log(median), sigma=sigma, size=n)
    lengths = [int(min(limit, max(1, -(-int(np.ceil(x)) // pad_to) * pad_to))) for x in raw]
    lengths = [min(v, limit // pad_to * pad_to) if limit >= pad_to else min(v, limit) for v in lengths]
    base["sequences"] = lengths
    return Instance.from_dict(base)
