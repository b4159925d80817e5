"""``auto``: greedy incumbent, then (large cost instances) ``lptabu`` with, given one capacitated
resource, ``bnb`` before it and ``bnb-lns`` and ``bnb`` after it; or (small ones) the knapsack
Lagrangian bound, ``bnb`` and ``lptabu``; then the HiGHS MIP warm-started from the best incumbent
with everything left.

Why this chain (measured, see the issue-6 report for the table and the load it was measured under):

* HiGHS is the exact backend: on Chu-Beasley c/d instances at 10 s it ended 0.04-2.8 % above best
  known where CP-SAT (hinted, 1 worker) ended 0.3-2.2 %, and CP-SAT needs seconds just to build the
  80 x 1600 model in Python; on OR-Library gap1-12 HiGHS proves all 60 within 2 s each.
* On small instances (m·n <= ``TABU_MIN_PAIRS``) with several capacitated resources (or the makespan
  objective) the chain is greedy -> mip: the MIP finds and proves optima by itself.
* On large ones (Yagiura-size) the MIP may not get past its root within the budget (at load 5-7 it
  did not on 54k-64k pair models in 8 s), and greedy starts are poor on type E (e801600: +97 %).
  ``lptabu`` (:func:`.tabu.run_lp_tabu`) reaches the LP bound by the Lagrangian relaxation of the
  capacities (subgradient, 0.1-0.4 s on 80 x 1600; an HiGHS LP there took seconds and often did not
  finish in a 10 s budget, leaving e801600 at +39 % with a bound of 22925), keeps it as the proved
  bound and for the MIP's reduced-cost fixing, and runs the tabu search, restricted to each task's 5
  best agents by reduced cost, from the Lagrangian solution. Yagiura C/D/E at 10 s (all 33): mean
  +1.59 % / max +39.3 % with the LP start (load 0.2-4.1), +0.17 % / +0.79 % with this one (load
  2.9-4.0), +0.14 % / +0.79 % with ejection chains added (load 2.6-3.5). It gets ``TABU_SHARE`` of
  the budget; the MIP, warm-started from the best incumbent, gets the rest. Measured at 10 s, load
  7-9: a 0.9 tabu share instead left c20400 at 4802 where the MIP's 40 % took it to 4790.
* Single capacitated resource, integral costs: the Lagrangian branch and bound (:mod:`.bnb`) proves
  what HiGHS does not. Measured at 10 s (load 0.7-1.0) with the chain as it is, Chu-Beasley A-D went
  from 17 to 21 of 24 proved (A-C all within 0.18 s; d05100 / d05200 / d10100 in 0.6 / 1.1 / 7.1
  s), Yagiura from 3 to 11 (e-type instances up to 20 x 400 within 1.7 s: e05200, e10100, e10200,
  e20200, e10400 and e20400 at their best-known values, which ``best-known.csv`` lists with a lower
  bound one below). On small instances it runs right after ``lagrange`` (``BNB_SHARE``; it needs a feasible
  incumbent for its guesses, not a good one), and ``lptabu`` works on the primal only when it did
  not finish; on large ones for ``EARLY_BNB_SHARE`` right after greedy and again after ``lptabu``
  (``LARGE_BNB_SHARE`` of what is left, the MIP the rest; the second run goes on from the guesses the
  first proved). The early run, measured at 10 s on 12 large Yagiura c/d/e instances: c20400 / c40400
  proved in 1.5 / 0.6 s instead of 6.8 / 6.4 s, e20400 in 0.5 s instead of not at all; every other
  answer the same but e40400's, 2 higher (and on the eight large type-D instances at 60 s the same).
  Its first version ran after ``lptabu`` (15 %) on small instances, with 75 % of what was left:
  d10100 was then not proved at 10 s (the search needs 7-8.5 s alone). Chu D at 10 s with bnb first:
  70 % for bnb and half the rest for lptabu proved 2 of 6, mean +0.300 % / max +0.824 %; 85 % and
  half 3 of 6 (d10100 in 7.4 s), +0.270 / +0.872 %; 85 % and 90 % 3 of 6, +0.244 / +0.824 %. Since
  a round closes at an assignment that meets the proved bound, d10100 needs about 5.5 s of bnb, so
  bnb now gets 70 % and ``bnb-lns`` searches the whole instance after lptabu (below).
* Large instances with one capacitated resource: greedy -> ``bnb`` (:func:`.bnb.quick`,
  ``EARLY_BNB_SHARE``) -> ``lptabu`` (``LARGE_TABU_SHARE``) -> ``bnb-lns`` (``LNS_SHARE``) -> ``bnb``
  (:func:`.bnb.resume`) -> mip. Both bnb runs give up on rounds they cannot finish, so on type D,
  where no round past the root ends (d40400: the first took more than 9.6 s), the time goes to the
  primal side: the early run used all of its 12 s of a 60 s budget before, 7.2 s now (of it 2.4 s
  for the root multipliers, whose bound is the one reported). ``bnb-lns`` (:mod:`.lns`) re-solves
  neighbourhoods of related agents on a reduced-cost core with the branch and bound, which packs
  agents to capacity where tabu search does not: d40400 at 60 s went from 24450-24462 (lptabu given
  more time, and the merge MIP) to 24424 (steps: lptabu 21.6 s -> 24451, bnb-lns 19.8 s -> 24424).
  lptabu comes first because bnb-lns needs its LP reduced costs and a good start; measured on
  d40400, an 8 s lptabu start then 40 s of bnb-lns ended 24417-24431, a 27 s start then 25 s
  24441: bnb-lns keeps improving where one tabu search has stopped. But type E gains more from
  lptabu's several searches and merge MIP: at 60 s, lptabu 0.3 and bnb-lns 0.85 of what each finds
  left gave d40400 / d60900 / e40400 / e801600 / c60900 24423 / 54658 / 44647 / 176958 / 9331,
  lptabu 0.45 and bnb-lns 0.75 24431 / 54673 / 44606 / 176904 / 9330, and 0.45 and 0.9 (now)
  24427 / 54666 / 44606 / 176904 / 9330 (the MIP and the second bnb get the rest; neither changed an
  answer on these). bnb-lns runs wherever there is one capacitated resource, also where ``bnb``'s
  whole-instance tables are too large (d60900, the 1,600-task instances): d801600 at 60 s went from
  97269 (lptabu, then 24 s of MIP) to 97219. The figures for the whole set are in the README.
* On small instances with one capacitated resource (m·n <= ``TABU_MIN_PAIRS``) the chain is greedy ->
  lagrange -> bnb -> lptabu -> bnb-lns -> mip. bnb-lns (``SMALL_LNS_SHARE``) searches the whole instance
  there, its reduced-cost cores taking turns; Chu-Beasley D at 10 s (d10100 still proved, in 5.8-6.6 s): bnb
  85 % then lptabu 90 % ended d10200 / d20100 / d20200 at 12454 / 6244 / 12299, mean +0.258 %; bnb 70 %,
  lptabu 50 % and bnb-lns 90 % at 12446 / 6211 / 12282, +0.135 % (lptabu 30 %: 12445 / 6222 / 12277). The
  best known 12432 / 6190 / 12238 are still not reached. The Lagrangian bound (:mod:`.lagrange`,
  ``LAGRANGE_SHARE``) comes first: it often meets the greedy incumbent (Chu-Beasley A: proved in 0.01-0.04
  s), is often above HiGHS's dual bound at 10 s (d05100: 6350 vs 6349, best known 6353), and its multipliers
  let the MIP drop every pair whose forced-in Lagrangian bound exceeds incumbent - 1
  (:func:`.lagrange.fixing_mask`; c10200 at incumbent 2808: 409 of 2,000 pairs left). The tabu search
  (``SMALL_TABU_SHARE``, stopping at that bound: b10100 proved in 0.3 s) hands the MIP a better incumbent
  (1.5 s on Chu b05200, b10200, c05200, c10200, c20200: 0.2-0.5 % above best known, greedy 1.6-3.6 %;
  measured at load 7). It is ``lptabu`` (the capacity-Lagrangian start and candidate lists) rather than
  ``tabu``: 3 s of each on Yagiura e20100 / e20200 / e10100 / d10400 ended +0.57 / +0.17 / +0.18 / +0.10 %
  against +2.26 / +2.46 / +0.43 / +0.90 % (load 2.8), and Chu-Beasley at 10 s went from 14 to 15 of 24
  proved, type D mean +0.79 % -> +0.45 % (gap1-12: 60 of 60 proved either way; both runs side by side at
  load 2.6-4.9). Splitting the MIP in two runs instead was measured worse: at load 5 HiGHS found nothing
  better than greedy within 5 s on c05200 / c20200 / b05200, which it finds in 8 s.

The makespan objective follows the same chain (tabu hands makespan instances to greedy, so on them
the step is skipped).
"""

from __future__ import annotations

from models.task_allocation import PROBLEM, Instance, Solution
from solvers.budget import Budget
from solvers.portfolio import Step, run_portfolio
from solvers.registry import register
from solvers.result import Result
from solvers.task_allocation import bnb, exact, greedy, lagrange, lns, tabu
from solvers.task_allocation._data import arrays

#: instances with more (agent, task) pairs than this get a tabu phase before the MIP
TABU_MIN_PAIRS = 4000
#: share of the remaining budget the tabu phase may use (several resources; with one, the lptabu share
#: before bnb-lns, and bnb-lns's share of what is left after it)
TABU_SHARE = 0.6
LARGE_TABU_SHARE = 0.45
LNS_SHARE = 0.9


#: small instances where the Lagrangian bound applies: shares of the tabu search and of the bound
SMALL_TABU_SHARE = 0.5
SMALL_LNS_SHARE = 0.9
LAGRANGE_SHARE = 0.1
#: shares of what is left for the Lagrangian branch and bound: on small instances (before lptabu) and
#: on large ones (after it)
BNB_SHARE = 0.7
LARGE_BNB_SHARE = 0.5
EARLY_BNB_SHARE = 0.2
#: ... and at most this many seconds on small instances, so that on long budgets the primal side keeps
#: time where the tree is out of reach (Chu d10200 / d20100 were not proved by bnb alone in 40 s, while
#: the longest small-instance proof measured took 8.5 s, d10100)
BNB_MAX_S = 20.0


def _lagrange_ok(inst: Instance) -> bool:
    return inst.num_agents * inst.num_tasks <= TABU_MIN_PAIRS and lagrange.applicable(arrays(inst))


def _small_bnb(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    return bnb.run(inst, budget.child(seconds=min(budget.remaining(), BNB_MAX_S)), hint)


def _large_bnb(inst: Instance) -> bool:
    return _large_cost(inst) and bnb.applicable(arrays(inst))


def _large_lns(inst: Instance) -> bool:
    return _large_cost(inst) and lns.bnb_lns_applicable(arrays(inst))


def _large_other(inst: Instance) -> bool:
    return _large_cost(inst) and not lns.bnb_lns_applicable(arrays(inst))


def _large_cost(inst: Instance) -> bool:
    return inst.objective == "cost" and inst.num_agents * inst.num_tasks > TABU_MIN_PAIRS


@register(PROBLEM, "auto", "portfolio", "greedy, Lagrangian bounds, lptabu, then HiGHS MIP warm-started")
def run(inst: Instance, budget: Budget, hint: Solution | None = None) -> Result:
    steps = [
        Step("greedy", greedy.run, share=0.1 if _large_cost(inst) else 0.25),
        Step("bnb-early", bnb.quick, share=EARLY_BNB_SHARE, when=_large_bnb),
        Step("lptabu", tabu.run_lp_tabu, share=TABU_SHARE, when=_large_other),
        Step("lptabu", tabu.run_lp_tabu, share=LARGE_TABU_SHARE, when=_large_lns),
        Step("bnb-lns", lns.run_bnb_lns, share=LNS_SHARE, when=_large_lns),
        Step("bnb", bnb.resume, share=LARGE_BNB_SHARE, when=_large_bnb),
        Step("lagrange", lagrange.run, share=LAGRANGE_SHARE, when=_lagrange_ok),
        Step("bnb", _small_bnb, share=BNB_SHARE, when=_lagrange_ok),
        Step("lptabu", tabu.run_lp_tabu, share=SMALL_TABU_SHARE, when=_lagrange_ok),
        Step("bnb-lns", lns.run_bnb_lns, share=SMALL_LNS_SHARE, when=_lagrange_ok),
        Step("mip", exact.run_mip, share=1.0),
    ]
    bnb.forget()  # the second large-instance bnb resumes only from this chain's first
    return run_portfolio(inst, budget, steps, hint=hint)
