"""``auto`` for pod packing: kube (LeastAllocated) -> kube-most (MostAllocated) -> CP-SAT.

The two replicas take a few milliseconds on small batches and give CP-SAT its hint (the better of the
two); CP-SAT then gets everything that is left and proves the bound. The heuristics get a small share
each so that a tight budget still leaves the exact step most of the time. CP-SAT is skipped when the
model would have more than :data:`MAX_CPSAT_LITERALS` placement/device literals (its build alone would
take seconds; measured ~18 us per literal): ``auto`` then answers with the replicas and the cheap bound.
"""

from __future__ import annotations

from typing import Any

from models.pod_packing import Instance
from solvers.budget import Budget
from solvers.pod_packing.cpsat import estimated_size
from solvers.pod_packing.greedy import run_greedy
from solvers.pod_packing.kube import run_kube, run_kube_most
from solvers.pod_packing.lex import run_lex
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result

MAX_CPSAT_LITERALS = 150_000


@register("pod_packing", "auto", "portfolio", "kube -> kube-most -> greedy -> cpsat-lex (warm-started)")
def run_auto(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    steps = [
        Step("kube", run_kube, share=0.2),
        Step("kube-most", run_kube_most, share=0.2),
        Step("greedy", run_greedy, share=0.3),
        Step("cpsat-lex", run_lex, share=1.0, when=lambda i: estimated_size(i) <= MAX_CPSAT_LITERALS),
    ]
    return run_portfolio(instance, budget, steps, hint=hint, name="auto")
