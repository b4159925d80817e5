"""Exact CP-SAT model of pod packing (``cpsat``): every constraint kind, the lexicographic objective as
one mixed-radix weighted sum (the same weights as :func:`models.pod_packing.objective_weights`).

Formulation
-----------
*Agents* are the pending pods and the running pods. Node-level filters (unschedulable, taints,
selector/affinity, GPU count/model, requests fit the empty node) are applied in Python, so a pending
pod ``p`` gets a literal ``x[p,n]`` only for nodes that pass them. A running pod is *fixed* (always on
its node) unless it is evictable and evictions or moves are allowed; then it has ``stay``, ``evict``
(when allowed) and ``move[r,n]`` (when ``max_moves > 0``) literals with ``stay + evict + sum move = 1``.
"New" literals are ``x`` and ``move``; presence on a node is new literals plus ``stay``.

* resources: per node and resource, sum of requests of the agents present <= allocatable; where the
  given state already exceeds a capacity (resource or GPU device) the constraint is only enforced by
  each new agent requesting that resource (using that device), as the checker does;
* GPU devices: a new GPU agent on node ``n`` picks ``count`` devices (``y`` literals); per device the
  milli of present agents (staying agents on their given devices) <= 1000; devices that hold no given
  pod are interchangeable, so their loads are ordered non-increasingly (symmetry breaking);
* anti-affinity, for a term of ``A`` selecting ``B`` and each domain ``v``:
  ``new(A,v) + present(B,v) <= 1`` and ``present(A,v) + new(B,v) <= 1`` (two staying pods are exempt);
* affinity of ``P`` (terms ``T``): P only on nodes carrying every key; for each term and domain
  ``new(P,v) <= sum over Q matching all T of present(Q,v) + first``, where ``first`` (only if P matches
  its own terms) forbids every such Q from nodes carrying any of the keys;
* topology spread (DoNotSchedule): with ``cnt_d`` the matching agents present on eligible nodes of
  domain ``d``, ``new(P,D) => cnt_D - cnt_d <= max_skew`` for every other eligible domain ``d`` — this is
  exactly the checker's "count(others in D) + self - min(others)" on the final state;
* symmetry breaking: nodes without running pods that are identical in allocatable, taints,
  unschedulable, GPUs and every label a pod refers to (a topology key whose value is unique per node,
  like the hostname, only needs to be present) are interchangeable: permuting their whole contents
  keeps every constraint and objective term, so their new-pod counts are ordered non-increasingly;
* gangs: equal ``placed`` for all members; moves <= ``max_moves``; an eviction needs a new pod of
  strictly higher priority on the victim's node.

Objective: sum of weight * component with ``unplaced = level size - sum placed``, disruption
``(rank+1) * (evict + moves)`` and the packing term (``fewest_nodes``: one "used" literal per node;
``spread``: an integer >= every node's pod count; ``least_fragmentation``: per device a stranded-free
variable, 0 only if the device's free milli is 0 or >= the smallest pending request). CP-SAT's objective
bound is a proved lower bound on the encoded objective and is reported as such. The hint (kube's
answer in ``auto``) is passed with ``add_hint``, completed with the auxiliary literals it implies (CP-SAT
drops an incomplete hint easily). Level-by-level solving over this model is :mod:`.lex`; the
anti-affinity of identical pending replicas is one clique per domain instead of pairwise constraints.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from models.pod_packing import (
    GPU_MILLI,
    Instance,
    Pod,
    Solution,
    component_maxima,
    objective_weights,
    running_rank,
    smallest_gpu_request,
    spread_eligible,
    spread_matches,
)
from solvers.budget import Budget
from solvers.cpsat import solve_cpsat
from solvers.pod_packing.common import node_filter, static_masks
from solvers.registry import register
from solvers.result import Result, Status

Lit = Any  # cp_model literal (IntVar)


class BuildStopped(Exception):
    """The budget ran out while the model was being built."""


def estimated_size(instance: Instance) -> int:
    """Rough number of placement + GPU-device literals of the model (to skip hopeless builds)."""
    masks = static_masks(instance)
    gpus = np.array([nd.gpu_count for nd in instance.nodes], dtype=np.int64)
    has_gpu = np.array([p.gpu is not None for p in instance.pods], dtype=bool)
    return int(masks.sum()) + int((masks[has_gpu] @ gpus).sum()) if len(masks) else 0


def key_mask(p: Pod, labels: list[dict[str, str]]) -> np.ndarray:
    """Nodes carrying every topology key of ``p``'s affinity terms and hard spread constraints."""
    keys = [t.topology_key for t in p.pod_affinity] + [c.topology_key for c in p.hard_spread]
    if not keys:
        return np.ones(len(labels), dtype=bool)
    return np.array([all(k in lab for k in keys) for lab in labels], dtype=bool)


class PodModel:
    """The model of one instance. ``candidates`` (optional, one boolean node mask per pending pod) must be
    a subset of what :meth:`candidate_mask` gives; new placements are limited to it (LNS passes its
    precomputed masks restricted to a neighbourhood's nodes)."""

    def __init__(self, instance: Instance, budget: Budget | None = None, candidates: list[Any] | None = None):
        self.budget = budget
        self._ticks = 0
        self.inst = inst = instance
        self.m = m = cp_model.CpModel()
        self.nf = node_filter(inst)
        nodes = inst.nodes
        self.agents: list[Pod] = [*inst.pods, *inst.running]
        P = len(inst.pods)
        self.P = P
        o = inst.options
        labels = [n.labels_map for n in nodes]
        self.labels = labels
        # new-placement literals per agent: node -> literal
        self.new: list[dict[int, Lit]] = [{} for _ in self.agents]
        self.stay: list[Any] = [None] * len(self.agents)  # running: literal or 1
        self.evict: dict[int, Lit] = {}
        self.placed: list[Any] = []
        for a, p in enumerate(inst.pods):
            self.tick()
            mask = self.candidate_mask(p) if candidates is None else candidates[a]
            for n in mask.nonzero()[0]:
                self.new[a][int(n)] = m.new_bool_var(f"x[{a},{n}]")
            self.placed.append(sum(self.new[a].values()) if self.new[a] else 0)
            if self.new[a]:
                m.add(sum(self.new[a].values()) <= 1)
        for r, rp in enumerate(inst.running):
            a = P + r
            mobile = rp.evictable and (o.allow_evictions or o.max_moves > 0)
            if not mobile:
                self.stay[a] = 1
                continue
            s = m.new_bool_var(f"stay[{r}]")
            self.stay[a] = s
            parts: list[Any] = [s]
            if o.allow_evictions:
                self.evict[a] = m.new_bool_var(f"evict[{r}]")
                parts.append(self.evict[a])
            if o.max_moves > 0:
                assert rp.node is not None
                home = inst.node_index[rp.node]
                mask = self.nf.static(rp) & self._key_mask(rp)
                for n in mask.nonzero()[0]:
                    if int(n) != home:
                        self.new[a][int(n)] = m.new_bool_var(f"move[{r},{n}]")
                parts.extend(self.new[a].values())
            m.add(sum(parts) == 1)
        self.home: list[int | None] = [None] * P + [
            inst.node_index[rp.node] for rp in inst.running if rp.node is not None
        ]
        # presence per node: node -> list of (agent, literal or 1)
        self.on_node: dict[int, list[tuple[int, Any]]] = defaultdict(list)
        for a in range(len(self.agents)):
            for n, lit in self.new[a].items():
                self.on_node[n].append((a, lit))
            h = self.home[a]
            if h is not None:
                self.on_node[h].append((a, self.stay[a]))
        self.gpu_y: dict[tuple[int, int], list[Lit]] = {}
        #: auxiliary literals and what defines them, so hints can be complete: ("first", var, partners,
        #: keyed nodes) / ("in", var, agent, nodes) / ("used", var, node)
        self.aux: list[tuple[Any, ...]] = []
        self.free_devs: dict[int, list[int]] = {}
        self.classes: list[list[int]] = []
        self._resources()
        self._inter_pod()
        self._spread()
        self._gangs_evictions()
        self._node_symmetry()
        self._objective()

    def tick(self) -> None:
        """Poll the budget while building (big models take seconds to build)."""
        self._ticks += 1
        if self.budget is not None and self._ticks % 4 == 0 and self.budget.expired():
            raise BuildStopped

    # -- helpers ----------------------------------------------------------------------------------------
    def candidate_mask(self, p: Pod) -> Any:
        """Nodes a pending pod may be placed on: node-level filters, empty-node fit, topology keys."""
        return self.nf.static(p) & self._key_mask(p)

    def _key_mask(self, p: Pod) -> Any:
        return key_mask(p, self.labels)

    def pres(self, a: int, nodes: set[int] | None = None) -> list[Any]:
        """Terms (literals or 1) of agent a's presence on the given nodes (all nodes when None)."""
        out = list(self.new[a].values()) if nodes is None else self.newp(a, nodes)
        h = self.home[a]
        if h is not None and (nodes is None or h in nodes):
            out.append(self.stay[a])
        return out

    def newp(self, a: int, nodes: set[int]) -> list[Any]:
        lits = self.new[a]
        if len(nodes) < len(lits):
            return [lits[n] for n in sorted(nodes) if n in lits]
        return [lit for n, lit in lits.items() if n in nodes]

    def domains(self, key: str) -> dict[str, set[int]]:
        cache: dict[str, dict[str, set[int]]] = self.__dict__.setdefault("_dom_cache", {})
        out = cache.get(key)
        if out is None:
            out = defaultdict(set)
            for n, lab in enumerate(self.labels):
                if key in lab:
                    out[lab[key]].add(n)
            cache[key] = out
        return out

    # -- constraints ---------------------------------------------------------------------------------------
    def _resources(self) -> None:
        m, inst = self.m, self.inst
        for n, node in enumerate(inst.nodes):
            self.tick()
            entries = self.on_node.get(n, [])
            if not any(not isinstance(lit, int) for _, lit in entries):
                continue
            cap = node.capacity
            fixed: dict[str, int] = defaultdict(int)
            for a, lit in entries:
                if isinstance(lit, int):
                    for r, q in self.agents[a].request_map.items():
                        fixed[r] += q
            # GPU devices
            dev_terms: dict[int, list[Any]] = defaultdict(list)
            dev_fixed: dict[int, int] = defaultdict(int)
            staying: set[int] = set()
            for a, lit in entries:
                p = self.agents[a]
                if p.gpu is None:
                    continue
                if self.home[a] == n and (lit is self.stay[a]):
                    for g in p.gpu_indices:
                        if isinstance(lit, int):
                            dev_fixed[g] += p.gpu.milli
                        else:
                            dev_terms[g].append(p.gpu.milli * lit)
                            staying.add(g)
                else:
                    ys = [m.new_bool_var(f"y[{a},{n},{g}]") for g in range(node.gpu_count)]
                    self.gpu_y[(a, n)] = ys
                    m.add(sum(ys) == p.gpu.count * lit)
                    for g, y in enumerate(ys):
                        dev_terms[g].append(p.gpu.milli * y)
            # a resource / device already over capacity in the given state (counting staying mobile
            # pods) is only checked when a new pod requesting it arrives, as the checker does
            initial: dict[str, int] = defaultdict(int)
            for a, _ in entries:
                if self.home[a] == n:
                    for r, q in self.agents[a].request_map.items():
                        initial[r] += q
            dev_initial: dict[int, int] = defaultdict(int)
            for a, _ in entries:
                p = self.agents[a]
                if self.home[a] == n and p.gpu is not None:
                    for g in p.gpu_indices:
                        dev_initial[g] += p.gpu.milli
            for r in inst.resources:
                terms = [
                    self.agents[a].request_map.get(r, 0) * lit
                    for a, lit in entries
                    if not isinstance(lit, int) and self.agents[a].request_map.get(r, 0)
                ]
                if not terms:
                    continue
                expr = sum(terms) + fixed.get(r, 0) <= cap.get(r, 0)
                if initial.get(r, 0) <= cap.get(r, 0):
                    m.add(expr)
                else:
                    for a, lit in entries:
                        if (
                            not isinstance(lit, int)
                            and self.home[a] != n
                            and self.agents[a].request_map.get(r, 0)
                        ):
                            m.add(expr).only_enforce_if(lit)
            for g in range(node.gpu_count):
                if dev_terms.get(g):
                    expr = sum(dev_terms[g]) + dev_fixed.get(g, 0) <= GPU_MILLI
                    if dev_initial.get(g, 0) <= GPU_MILLI:
                        m.add(expr)
                    else:
                        for a, _ in entries:
                            if (a, n) in self.gpu_y:
                                m.add(expr).only_enforce_if(self.gpu_y[(a, n)][g])
            # symmetry breaking: devices free of given pods are interchangeable -> loads non-increasing
            free_devs = [g for g in range(node.gpu_count) if not dev_fixed.get(g) and g not in staying]
            self.free_devs[n] = free_devs
            for g, h in itertools.pairwise(free_devs):
                if dev_terms.get(h):
                    m.add(sum(dev_terms.get(g, [])) >= sum(dev_terms[h]))

    def _signatures(self) -> dict[tuple[Any, ...], list[int]]:
        sigs = getattr(self, "_sigs", None)
        if sigs is None:
            sigs = defaultdict(list)
            for b, p in enumerate(self.agents):
                sigs[(p.namespace, p.labels)].append(b)
            self._sigs: dict[tuple[Any, ...], list[int]] = sigs
            self._sel_cache: dict[tuple[Any, ...], list[int]] = {}
        return sigs

    def selected(self, owner: Pod, term: Any, mobile_only: bool = False) -> list[int]:
        """Agents ``term`` (of ``owner``) selects, evaluated once per (namespace, labels) signature."""
        sigs = self._signatures()
        key = ("sel", owner.namespace, term, mobile_only)
        out = self._sel_cache.get(key)
        if out is None:
            out = [
                b
                for bs in sigs.values()
                if term.selects(owner, self.agents[bs[0]])
                for b in bs
                if not mobile_only or self.new[b]
            ]
            self._sel_cache[key] = out
        return out

    def matching(self, owner: Pod, c: Any) -> list[int]:
        """Agents a spread constraint of ``owner`` counts (once per signature)."""
        sigs = self._signatures()
        key = ("spread", owner.namespace, c)
        out = self._sel_cache.get(key)
        if out is None:
            out = [b for bs in sigs.values() if spread_matches(owner, c, self.agents[bs[0]]) for b in bs]
            self._sel_cache[key] = out
        return out

    def _le1(self, left: list[Any], right: list[Any]) -> None:
        consts = sum(1 for x in (*left, *right) if isinstance(x, int))
        lits = [x for x in (*left, *right) if not isinstance(x, int)]
        if not lits:
            return
        self.m.add(sum(lits) <= 1 - consts)

    def _inter_pod(self) -> None:
        m = self.m
        A = len(self.agents)
        # cliques: pending pods identical in namespace, labels and anti-affinity whose term selects its
        # own kind may share no domain of that term's key -> one "sum <= 1" per domain for the group
        # replaces the pairwise constraints among them (fewer constraints, a tighter relaxation)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for a in range(self.P):
            pa = self.agents[a]
            if pa.pod_anti_affinity and self.new[a]:
                groups[(pa.namespace, pa.labels, pa.pod_anti_affinity)].append(a)
        clique_of: dict[tuple[int, int], int] = {}  # (agent, term index) -> group id
        for gid, members in enumerate(groups.values()):
            if len(members) < 2:
                continue
            p0 = self.agents[members[0]]
            for ti, t in enumerate(p0.pod_anti_affinity):
                if not t.selects(p0, p0):
                    continue
                for a in members:
                    clique_of[(a, ti)] = gid
                for nodes in self.domains(t.topology_key).values():
                    lits = [x for a in members for x in self.newp(a, nodes)]
                    if len(lits) > 1:
                        m.add(sum(lits) <= 1)
        gid_of = {a: gid for gid, members in enumerate(groups.values()) for a in members}
        for a in range(A):
            self.tick()
            pa = self.agents[a]
            for ti, t in enumerate(pa.pod_anti_affinity):
                doms = self.domains(t.topology_key)
                dom_of = {n: v for v, ns in doms.items() for n in ns}
                in_clique = (a, ti) in clique_of
                for b in self.selected(pa, t) if self.new[a] else self.selected(pa, t, mobile_only=True):
                    if b == a:
                        continue
                    if in_clique and gid_of.get(b) == clique_of[(a, ti)]:
                        continue
                    if not self.new[a] and not self.new[b]:
                        continue
                    # only domains where a or b may newly arrive carry a constraint
                    vals = {dom_of.get(n) for n in (*self.new[a], *self.new[b])} - {None}
                    for v in vals:
                        nodes = doms[v]  # type: ignore[index]
                        na, nb = self.newp(a, nodes), self.newp(b, nodes)
                        if na:
                            pb = self.pres(b, nodes)
                            if pb:
                                self._le1(na, pb)
                        if nb:
                            pa_ = self.pres(a, nodes)
                            if pa_:
                                self._le1(pa_, nb)
        for a in range(A):
            self.tick()
            pa = self.agents[a]
            if not pa.pod_affinity or not self.new[a]:
                continue
            terms = pa.pod_affinity
            keys = {t.topology_key for t in terms}
            partners = [
                b
                for b in self.selected(pa, terms[0])
                if b != a and all(t.selects(pa, self.agents[b]) for t in terms)
            ]
            first: Any = 0
            if all(t.selects(pa, pa) for t in terms):
                keyed = {n for n, lab in enumerate(self.labels) if any(k in lab for k in keys)}
                first = m.new_bool_var(f"first[{a}]")
                self.aux.append(("first", first, partners, keyed))
                for b in partners:
                    for x in self.pres(b, keyed):
                        if isinstance(x, int):
                            m.add(first == 0)
                        else:
                            m.add_implication(first, x.Not())
            for t in terms:
                for nodes in self.domains(t.topology_key).values():
                    na = self.newp(a, nodes)
                    if not na:
                        continue
                    support = [x for b in partners for x in self.pres(b, nodes)]
                    m.add(sum(na) <= sum(support) + first)

    def _spread(self) -> None:
        m, inst = self.m, self.inst
        A = len(self.agents)
        for a in range(A):
            self.tick()
            pa = self.agents[a]
            if not self.new[a]:
                continue
            for c in pa.hard_spread:
                key = c.topology_key
                eligible = {n for n, nd in enumerate(inst.nodes) if spread_eligible(pa, nd)}
                doms: dict[str, set[int]] = defaultdict(set)
                for n in eligible:
                    doms[self.labels[n][key]].add(n)
                matching = self.matching(pa, c)
                cnt = {v: sum(x for b in matching for x in self.pres(b, nodes)) for v, nodes in doms.items()}
                for v, nodes in doms.items():
                    na = self.newp(a, nodes)
                    if not na:
                        continue
                    b_in = m.new_bool_var(f"in[{a},{key}={v}]")
                    self.aux.append(("in", b_in, a, nodes))
                    m.add(sum(na) == b_in)
                    for w in doms:
                        if w == v:
                            continue
                        diff = cnt[v] - cnt[w]
                        if isinstance(diff, int):
                            if diff > c.max_skew:
                                m.add(b_in == 0)
                            continue
                        m.add(diff <= c.max_skew).only_enforce_if(b_in)

    def node_classes(self) -> list[list[int]]:
        """Classes of interchangeable nodes (see module doc), each in node order, size >= 2."""
        inst = self.inst
        exact: set[str] = set()
        topo: set[str] = set()
        for p in self.agents:
            exact.update(k for k, _ in p.node_selector)
            exact.update(r.key for term in p.node_affinity for r in term)
            topo.update(t.topology_key for t in (*p.pod_affinity, *p.pod_anti_affinity))
            topo.update(c.topology_key for c in p.hard_spread)
        unique = set()
        for k in topo - exact:
            vals = [lab[k] for lab in self.labels if k in lab]
            if len(vals) == len(self.labels) and len(set(vals)) == len(vals):
                unique.add(k)
        occupied = {h for h in self.home if h is not None}
        classes: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for n, node in enumerate(inst.nodes):
            if n in occupied:
                continue
            lab = self.labels[n]
            sig = (
                tuple(sorted(node.capacity.items())),
                tuple(sorted((t.key, t.value, t.effect) for t in node.taints)),
                node.unschedulable,
                node.gpus,
                tuple((k, lab.get(k)) for k in sorted(exact | (topo - unique))),
            )
            classes[sig].append(n)
        return [c for c in classes.values() if len(c) >= 2]

    def _node_symmetry(self) -> None:
        """Interchangeable empty nodes hold non-increasing numbers of new pods (symmetry breaking)."""
        self.classes = self.node_classes()
        for cls in self.classes:
            for n, k in itertools.pairwise(cls):
                later = [lit for _, lit in self.on_node.get(k, [])]
                if later:
                    self.m.add(sum(lit for _, lit in self.on_node.get(n, [])) >= sum(later))

    def _gangs_evictions(self) -> None:
        m, inst = self.m, self.inst
        for members in inst.gangs.values():
            first = self.placed[members[0]]
            for i in members[1:]:
                if isinstance(first, int) and isinstance(self.placed[i], int):
                    continue  # both unplaceable (no candidate node)
                m.add(self.placed[i] == first)
        moves = [lit for a in range(self.P, len(self.agents)) for lit in self.new[a].values()]
        if moves:
            m.add(sum(moves) <= inst.options.max_moves)
        for a, e in self.evict.items():
            rp = self.agents[a]
            h = self.home[a]
            assert h is not None
            helpers = [
                self.new[p][h]
                for p in range(self.P)
                if h in self.new[p] and inst.pods[p].priority > rp.priority
            ]
            if helpers:
                m.add(sum(helpers) >= 1).only_enforce_if(e)
            else:
                m.add(e == 0)

    def _objective(self) -> None:
        m, inst = self.m, self.inst
        weights = dict(objective_weights(inst))
        maxima = dict(component_maxima(inst))
        obj: list[Any] = []
        const = 0
        #: per priority level: the placed expressions of its pods (level-by-level solving)
        self.level_placed: dict[int, list[Any]] = defaultdict(list)
        for i, p in enumerate(inst.pods):
            w = weights[f"unplaced_p{p.priority}"]
            const += w
            if not isinstance(self.placed[i], int):
                obj.append(-w * self.placed[i])
                self.level_placed[p.priority].append(self.placed[i])
        n_level_terms, level_const = len(obj), const
        rank = running_rank(inst)
        wd = weights["evictions"]
        for a in range(self.P, len(self.agents)):
            k = rank[self.agents[a].priority] + 1
            for lit in [*([self.evict[a]] if a in self.evict else []), *self.new[a].values()]:
                obj.append(wd * k * lit)
        wp = weights["packing"]
        packing = inst.options.packing
        if packing == "fewest_nodes":
            for n in range(len(inst.nodes)):
                entries = self.on_node.get(n, [])
                if any(isinstance(lit, int) for _, lit in entries):
                    const += wp
                elif entries:
                    u = m.new_bool_var(f"used[{n}]")
                    self.aux.append(("used", u, n))
                    for _, lit in entries:
                        m.add_implication(lit, u)
                    obj.append(wp * u)
        elif packing == "spread":
            mx = m.new_int_var(0, maxima["packing"], "max_pods")
            for n in range(len(inst.nodes)):
                entries = self.on_node.get(n, [])
                if entries:
                    m.add(sum(lit for _, lit in entries) <= mx)
            obj.append(wp * mx)
        elif packing == "least_fragmentation":
            small = smallest_gpu_request(inst)
            for n, node in enumerate(inst.nodes):
                self.tick()
                for g in range(node.gpu_count):
                    used: list[Any] = []
                    for a, lit in self.on_node.get(n, []):
                        p = self.agents[a]
                        if p.gpu is None:
                            continue
                        if self.home[a] == n and lit is self.stay[a]:
                            if g in p.gpu_indices:
                                used.append(p.gpu.milli * lit)
                        elif (a, n) in self.gpu_y:
                            used.append(p.gpu.milli * self.gpu_y[(a, n)][g])
                    if all(isinstance(u, int) for u in used):
                        free = GPU_MILLI - min(sum(used), GPU_MILLI)
                        if 0 < free < small:
                            const += wp * free
                        continue
                    free_e = GPU_MILLI - sum(used)
                    f = m.new_int_var(0, GPU_MILLI, f"frag[{n},{g}]")
                    b0 = m.new_bool_var(f"full[{n},{g}]")
                    b1 = m.new_bool_var(f"roomy[{n},{g}]")
                    m.add(free_e <= 0).only_enforce_if(b0)
                    m.add(free_e >= small).only_enforce_if(b1)
                    m.add(f >= free_e).only_enforce_if(b0.Not(), b1.Not())
                    obj.append(wp * f)
        #: evictions/moves and packing: the components after the levels (already weighted), constant
        self.tail: tuple[list[Any], int] = (obj[n_level_terms:], const - level_const)
        m.minimize(sum(obj) + const)

    # -- hint and extraction -----------------------------------------------------------------------------
    def add_hint(self, sol: Solution) -> None:
        inst, m = self.inst, self.m
        placed = dict(sol.placements)
        moved = dict(sol.moves)
        evicted = set(sol.evictions)
        gidx = dict(sol.gpu_indices)
        target: dict[int, int] = {}
        for a, p in enumerate(self.agents):
            nm = placed.get(p.name) if a < self.P else moved.get(p.name)
            if nm is not None and nm in inst.node_index:
                target[a] = inst.node_index[nm]
        # canonical form under the symmetry breaking: interchangeable nodes swap whole contents so that
        # counts are non-increasing; free devices of a node are renumbered by non-increasing load
        content: dict[int, list[int]] = defaultdict(list)
        for a, n in target.items():
            content[n].append(a)
        for cls in self.classes:
            groups = sorted((content.get(n, []) for n in cls), key=len, reverse=True)
            for n, grp in zip(cls, groups, strict=True):
                for a in grp:
                    target[a] = n
        devmap: dict[str, tuple[int, ...]] = {}
        by_node: dict[int, list[int]] = defaultdict(list)
        for a, n in target.items():
            by_node[n].append(a)
        for n, agents in by_node.items():
            free = self.free_devs.get(n, [])
            load = {g: 0 for g in free}
            for a in agents:
                p = self.agents[a]
                if p.gpu is not None:
                    for g in gidx.get(p.name, ()):
                        if g in load:
                            load[g] += p.gpu.milli
            order = sorted(free, key=lambda g: -load[g])
            perm = dict(zip(order, free, strict=True))
            for a in agents:
                name = self.agents[a].name
                if name in gidx:
                    devmap[name] = tuple(perm.get(g, g) for g in gidx[name])
        for a, p in enumerate(self.agents):
            if a >= self.P:
                if isinstance(self.stay[a], int):
                    continue
                m.add_hint(self.stay[a], p.name not in moved and p.name not in evicted)
                if a in self.evict:
                    m.add_hint(self.evict[a], p.name in evicted)
            tn = target.get(a)
            for n, lit in self.new[a].items():
                m.add_hint(lit, n == tn)
                if (a, n) in self.gpu_y:
                    devs = set(devmap.get(p.name, ())) if n == tn else set()
                    for g, y in enumerate(self.gpu_y[(a, n)]):
                        m.add_hint(y, g in devs)
        # auxiliary literals follow from the placement (an incomplete hint is often lost by CP-SAT)
        where: dict[int, int] = {}
        for a, p in enumerate(self.agents):
            if a in target:
                where[a] = target[a]
            elif a >= self.P and p.name not in evicted and self.home[a] is not None:
                where[a] = self.home[a]  # type: ignore[assignment]
        for item in self.aux:
            kind, var = item[0], item[1]
            if kind == "first":
                m.add_hint(var, not any(where.get(b) in item[3] for b in item[2]))
            elif kind == "in":
                m.add_hint(var, where.get(item[2]) in item[3])
            else:
                m.add_hint(var, any(where.get(a) == item[2] for a in range(len(self.agents))))

    def extract(self, value: Any) -> Solution:
        inst = self.inst
        placements: list[tuple[str, str | None]] = []
        gpu: list[tuple[str, tuple[int, ...]]] = []
        moves: list[tuple[str, str]] = []
        evictions: list[str] = []
        for a, p in enumerate(self.agents):
            chosen = [n for n, lit in self.new[a].items() if value(lit)]
            tn = chosen[0] if chosen else None
            if a < self.P:
                placements.append((p.name, None if tn is None else inst.nodes[tn].name))
            elif tn is not None:
                moves.append((p.name, inst.nodes[tn].name))
            if a in self.evict and value(self.evict[a]):
                evictions.append(p.name)
            if tn is not None and (a, tn) in self.gpu_y:
                gpu.append((p.name, tuple(g for g, y in enumerate(self.gpu_y[(a, tn)]) if value(y))))
        return Solution(tuple(placements), tuple(evictions), tuple(moves), tuple(gpu))


def build_stopped(instance: Instance, budget: Budget, solver: str, t0: float) -> Result:
    """The answer of a CP-SAT solver whose model build ran out of budget (no solution, no bound)."""
    return Result(
        instance.PROBLEM,
        Status.NO_SOLUTION,
        solver,
        limit=budget.limit_reason(),
        stats={"build_s": round(time.perf_counter() - t0, 4), "stopped_while_building": True},
    )


@register("pod_packing", "cpsat", "exact", "CP-SAT over pods x feasible nodes, lexicographic objective")
def run_cpsat(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    t0 = time.perf_counter()
    try:
        pm = PodModel(instance, budget)
    except BuildStopped:
        return build_stopped(instance, budget, "cpsat", t0)
    if hint is not None:
        pm.add_hint(hint)
    build = time.perf_counter() - t0
    last = [float("inf")]

    def on_solution(cb: cp_model.CpSolverSolutionCallback) -> None:
        obj = cb.objective_value
        if obj < last[0]:
            last[0] = obj
            budget.report("cpsat", obj, cb.best_objective_bound, None)

    out = solve_cpsat(pm.m, budget, on_solution=on_solution)
    stats: dict[str, Any] = {
        "build_s": round(build, 4),
        "variables": len(pm.m.proto.variables),
        "constraints": len(pm.m.proto.constraints),
        "cpsat_status": out.solver.status_name(out.status),
    }
    sol = pm.extract(out.solver.boolean_value) if out.has_solution else None
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE if sol is not None else Status.NO_SOLUTION,
        "cpsat",
        solution=sol,
        bound=out.bound,
        bound_source="cpsat" if out.bound is not None else "",
        limit=out.limit,
        stats=stats,
    )
