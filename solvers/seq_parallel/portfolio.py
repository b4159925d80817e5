"""``auto`` for seq_parallel: the adaptive BFD baseline as incumbent, then ``milp`` warm-started from it.

BFD takes milliseconds and always yields a plan when one single degree works; the MILP gets the rest of
the budget (exact with a proof on small batches, FlexSP's per-micro-batch model otherwise). The cheap
bound of :mod:`.common` is added by the registry.
"""

from __future__ import annotations

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result
from solvers.seq_parallel.bfd import run_bfd
from solvers.seq_parallel.milp import run_milp

PROBLEM = "seq_parallel"


@register(PROBLEM, "auto", "portfolio", "bfd incumbent, then milp warm-started with the rest of the budget")
def run_auto(inst: Instance, budget: Budget, hint: object = None) -> Result:
    steps = [Step("bfd", run_bfd, share=0.1), Step("milp", run_milp, share=1.0)]
    return run_portfolio(inst, budget, steps, hint=hint, name="auto")
