"""``auto`` for pod packing: kube -> fit -> lp-bound -> greedy -> lns -> cpsat-lex, warm-started.

``kube`` is the baseline the answer must never be worse than (and the first incumbent); ``fit`` is the
better of the Numba packers ``fgd`` and ``bfd`` (:mod:`.fit`: decreasing size per level,
fragmentation-aware / best-fit scoring); ``lp-bound`` solves the LP relaxation level by level
(:mod:`.lpbound`, tens of milliseconds on the failing scenarios), which can prove the incumbent
optimal before any search and lets the later steps stop as soon as they meet it; ``greedy`` tries
priority/size orders with best fit (MostAllocated, which also covers ``kube-most``); ``lns`` re-solves
a few nodes at a time with CP-SAT (small models that solve in milliseconds); ``cpsat-lex`` solves the
priority levels in turn from the best of them, and certifies a level at once, without a model, when
the incumbent meets the capacity bound. CP-SAT is skipped when the model would have more than
:data:`MAX_CPSAT_LITERALS` placement/device literals, or when its build alone is expected to take more
than :data:`LEX_BUILD_SHARE` of the budget (:data:`BUILD_S_PER_LITERAL`): LNS then gets all the time
and ``auto`` answers with the heuristics and the bounds.

The chain is :func:`solvers.portfolio.run_portfolio`'s (same child budgets, stop rules, stats and
result naming), except for the checks: the checker costs tens of milliseconds on a few hundred pods,
which a 1 s budget cannot pay several times over, so a step's answer is checked only when it can be
better than the incumbent (:func:`.common.worth_checking`: its pending vector is lexicographically
smaller, or equal when evictions, moves or packing count), and each solution object once
(:func:`.common.checked`). Every answer the chain adopts is checked; the registry checks the final
one again. Each step after the first ends early enough for the registry's check (timed by
:func:`.common.check_cost`), so the answer comes back within the budget.
"""

from __future__ import annotations

from typing import Any

from models.pod_packing import Instance
from solvers.budget import Budget
from solvers.pod_packing.common import check_cost, checked, worth_checking
from solvers.pod_packing.cpsat import estimated_size
from solvers.pod_packing.fit import run_fit
from solvers.pod_packing.greedy import run_greedy
from solvers.pod_packing.kube import run_kube
from solvers.pod_packing.lex import run_lex
from solvers.pod_packing.lns import run_lns
from solvers.pod_packing.lpbound import run_lp_bound
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result

MAX_CPSAT_LITERALS = 150_000
#: ``greedy`` runs only on batches of at most this many pods
GREEDY_MAX_PODS = 150
#: seconds to build the CP-SAT model per placement/device literal (34-55 us measured on the failing
#: scenarios at load 1; a 188-pod, 7,138-literal model took 0.39 s)
BUILD_S_PER_LITERAL = 40e-6
#: ``cpsat-lex`` runs only when its build is expected to take at most this share of the budget left at
#: the start (it gets about a third of the budget, after LNS); otherwise LNS gets all the time. On 1 s
#: budgets a lex step whose build could not finish used to overrun the budget by up to 0.14 s.
LEX_BUILD_SHARE = 0.25


@register(
    "pod_packing", "auto", "portfolio", "kube -> fit -> lp-bound -> greedy -> lns -> cpsat-lex (warm-started)"
)
def run_auto(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    size = estimated_size(instance)
    lex = size <= MAX_CPSAT_LITERALS and size * BUILD_S_PER_LITERAL <= LEX_BUILD_SHARE * budget.remaining()
    steps = [
        Step("kube", run_kube, share=0.6),
        Step("fit", run_fit, share=0.3),
        Step("lp-bound", run_lp_bound, share=0.25),
        # big batches: fit's orders cover greedy's; the time goes to LNS
        Step("greedy", run_greedy, share=0.3, when=lambda i: len(i.pods) <= GREEDY_MAX_PODS),
        Step("lns", run_lns, share=0.6 if lex else 1.0),
        Step("cpsat-lex", run_lex, share=1.0, when=lambda i: lex),
    ]
    # the checker costs tens of milliseconds on a few hundred pods: each answer is checked once, only
    # when it can beat the incumbent, and time for the registry's final check is kept back
    return run_portfolio(
        instance,
        budget,
        steps,
        hint=hint,
        name="auto",
        check=checked,
        worth_checking=worth_checking,
        reserve=check_cost,
    )
