"""``auto`` for pod packing: kube (LeastAllocated) -> greedy -> lns -> cpsat-lex, warm-started.

``kube`` is the baseline the answer must never be worse than (and the first incumbent); ``greedy`` tries
priority/size orders with best fit (MostAllocated, which also covers ``kube-most``); ``lns`` re-solves
a few nodes at a time with CP-SAT (small models that solve in tens of milliseconds); ``cpsat-lex``
solves the priority levels in turn from the best of them, and certifies a level at once, without a
model, when the incumbent meets the capacity bound. CP-SAT is skipped when the model would have more
than :data:`MAX_CPSAT_LITERALS` placement/device literals (its build alone would take seconds):
``auto`` then answers with the heuristics and the capacity bound.
"""

from __future__ import annotations

from typing import Any

from models.pod_packing import Instance
from solvers.budget import Budget
from solvers.pod_packing.cpsat import estimated_size
from solvers.pod_packing.greedy import run_greedy
from solvers.pod_packing.kube import run_kube
from solvers.pod_packing.lex import run_lex
from solvers.pod_packing.lns import run_lns
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result

MAX_CPSAT_LITERALS = 150_000


@register("pod_packing", "auto", "portfolio", "kube -> greedy -> lns -> cpsat-lex (warm-started)")
def run_auto(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    steps = [
        Step("kube", run_kube, share=0.6),
        Step("greedy", run_greedy, share=0.4),
        Step("lns", run_lns, share=0.6),
        Step("cpsat-lex", run_lex, share=1.0, when=lambda i: estimated_size(i) <= MAX_CPSAT_LITERALS),
    ]
    return run_portfolio(instance, budget, steps, hint=hint, name="auto")
