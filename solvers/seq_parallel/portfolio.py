"""``auto`` for seq_parallel: ``pack`` plan, the ``lp`` bound, ``pack-deep``, and ``milp`` on small batches.

1. ``bfd`` (milliseconds; FlexSP's adaptive baseline) so an incumbent exists even on an exhausted budget;
2. ``pack`` (target-time packing + Numba local search; tens of milliseconds on 512 sequences and 64
   GPUs), which beats the per-micro-batch MILP on real batches because it decides micro-batches and
   groups together;
3. ``lp`` (LP relaxations with micro-batch symmetry and the two longest sequences' degrees fixed; a
   proved bound, no plan), so the answer carries a certified gap;
4. ``pack-deep`` with most of what is left (more micro-batch target vectors, each polished by the LS);
5. ``milp`` with the rest, on small batches only (``n <= EXACT_MAX_SEQS``): the exact global model,
   warm-started, proves optimality there. On large batches ``milp`` is FlexSP's per-micro-batch model
   after the contiguous cut; measured on the reference case it is 2-14% worse than ``pack`` per step
   even with 1 s, so ``auto`` does not spend the budget on it (``allot bench flexsp`` shows both).
"""

from __future__ import annotations

from models.seq_parallel import Instance
from solvers.budget import Budget
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result
from solvers.seq_parallel.bfd import run_bfd
from solvers.seq_parallel.lpbound import run_lp
from solvers.seq_parallel.milp import EXACT_MAX_SEQS, run_milp
from solvers.seq_parallel.pack import run_pack, run_pack_deep

PROBLEM = "seq_parallel"


@register(
    PROBLEM, "auto", "portfolio", "bfd, pack (packing + Numba LS), lp bound, pack-deep; milp on small batches"
)
def run_auto(inst: Instance, budget: Budget, hint: object = None) -> Result:
    steps = [
        Step("bfd", run_bfd, share=0.1),
        Step("pack", run_pack, share=0.3),
        Step("lp", run_lp, share=0.6, when=lambda i: len(i.sequences) > EXACT_MAX_SEQS),
        Step("pack-deep", run_pack_deep, share=0.8, when=lambda i: len(i.sequences) > EXACT_MAX_SEQS),
        Step("milp", run_milp, share=1.0, when=lambda i: len(i.sequences) <= EXACT_MAX_SEQS),
    ]
    return run_portfolio(inst, budget, steps, hint=hint, name="auto")
