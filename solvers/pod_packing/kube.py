"""A replica of the default kube-scheduler run over a batch of pending pods (``kube``, ``kube-most``).

Queue: pods by priority descending, input order within a priority (the active queue's FIFO). Each pod
goes through the Filter plugins of :mod:`models.pod_packing` (NodeUnschedulable, NodeResourcesFit incl.
extended resources and the pod count, NodeAffinity/nodeSelector, TaintToleration, InterPodAffinity with
symmetric anti-affinity and the "first pod of a self-affine series" exception, PodTopologySpread with
DoNotSchedule, GPU share fit with accepted models), then one Score plugin, NodeResourcesFit:

* ``kube``: the strategy of ``options.scoring`` (:class:`models.pod_packing.Scoring`, the profile's
  ``scoringStrategy``), by default LeastAllocated over cpu and memory with weight 1 each;
* ``kube-most``: MostAllocated over the same resources and weights;

with the plugin's integer arithmetic (:func:`node_scores`): LeastAllocated ``(capacity - requested)
* 100 // capacity``, MostAllocated ``requested * 100 // capacity`` (requested capped at capacity),
RequestedToCapacityRatio the broken-linear ``shape`` of the utilization; weighted mean over the
resources the node has. ``requested`` is the node's request sum after adding the pod; for cpu and
memory the non-zero sum (a container without a cpu/memory request counts as 100m / 200Mi, the
scheduler's defaults for scoring); an extended resource the pod does not request is not scored. The
best score wins; ties go to the first node in input order (the scheduler samples ties at random).
Other score plugins (balanced allocation, taint and affinity preferences, spread scoring) are not
replicated. GPU devices: best fit (the device with the
least free milli that still fits a share; the lowest free whole devices for whole-GPU pods).

Gangs: when the queue reaches a gang's first member, all its members are scheduled in queue order and
rolled back if one fails. Preemption (DefaultPreemption, when ``options.allow_evictions``): a pod that
fits nowhere may evict evictable running pods of lower priority on one node, chosen and trimmed as
:meth:`ClusterState.preempt` describes (gang members do not preempt; pods placed by this batch are
never victims, as they are not running yet). The replica never moves pods.

Budget: polled between pods; pods not reached when the budget stops are left pending (the answer stays
feasible).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from models.pod_packing import (
    DEFAULT_SCORING,
    GPU_MILLI,
    Instance,
    Pod,
    Scoring,
    Solution,
    spread_eligible,
    spread_matches,
)
from solvers.budget import Budget
from solvers.pod_packing.common import checked, interacting, node_filter
from solvers.registry import register
from solvers.result import Result, Status

DEFAULT_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
#: MostAllocated over cpu and memory with weight 1: best fit, as the packers' final passes use it
MOST = DEFAULT_SCORING.with_type("MostAllocated")
#: framework.MaxNodeScore / config.MaxCustomPriorityScore: a shape's 0..10 scores scaled to 0..100
SHAPE_SCALE = 10
_UNIT2 = np.ones(2, dtype=np.int64)


def node_scores(scoring: Scoring, req: np.ndarray, alloc: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """NodeResourcesFit scores (0..100) per row of ``req`` / ``alloc`` (nodes x scored resources).

    Integer arithmetic as in kube-scheduler's ``noderesources`` plugin. A resource with allocatable 0
    drops out of the weighted mean (its weight too); no resource left gives 0.

    * LeastAllocated: ``(alloc - req) * 100 // alloc`` (0 when over), weighted mean rounded down;
    * MostAllocated: ``min(req, alloc) * 100 // alloc``, weighted mean rounded down;
    * RequestedToCapacityRatio: utilization ``req * 100 // alloc`` (100 when over) through the broken
      linear ``shape`` (scores x 10, Go's truncating division between points); a resource whose score
      is 0 also drops out of the mean, which is rounded half up (``math.Round`` of a non-negative).
    """
    on = alloc > 0
    safe = np.where(on, alloc, 1)
    if scoring.type == "RequestedToCapacityRatio":
        util = np.where(req > alloc, 100, np.minimum(req, alloc) * 100 // safe)
        s = _broken_linear(scoring.shape, util)
        on = on & (s > 0)
    elif scoring.type == "MostAllocated":
        s = np.minimum(req, alloc) * 100 // safe
    else:
        s = np.where(req <= alloc, (alloc - req) * 100 // safe, 0)
    w = np.where(on, weights, 0)
    num = (s * w).sum(axis=1)
    den = w.sum(axis=1)
    dsafe = np.where(den > 0, den, 1)
    ratio = scoring.type == "RequestedToCapacityRatio"
    out = (2 * num + dsafe) // (2 * dsafe) if ratio else num // dsafe
    return np.where(den > 0, out, 0)


def _broken_linear(shape: tuple[tuple[int, int], ...], p: np.ndarray) -> np.ndarray:
    """kube-scheduler's ``BuildBrokenLinearFunction`` over scaled scores: the first point's score up
    to its utilization, linear (truncated toward zero) between points, the last point's after it."""
    out = np.full(p.shape, shape[-1][1] * SHAPE_SCALE, dtype=np.int64)
    done = np.zeros(p.shape, dtype=bool)
    for i, (u, sc) in enumerate(shape):
        here = ~done & (p <= u)
        if i == 0:
            val = np.full(p.shape, sc * SHAPE_SCALE, dtype=np.int64)
        else:
            u0, s0 = shape[i - 1][0], shape[i - 1][1] * SHAPE_SCALE
            a = (sc * SHAPE_SCALE - s0) * (p - u0)
            val = s0 + np.sign(a) * (np.abs(a) // (u - u0))
        out = np.where(here, val, out)
        done |= here
    return out


class ClusterState:
    """Mutable cluster state the replica schedules into (snapshot/restore for gang rollback)."""

    def __init__(self, instance: Instance):
        self.inst = instance
        self.nf = node_filter(instance)
        n = len(instance.nodes)
        self.res = instance.resources
        self._col = {r: j for j, r in enumerate(self.res)}
        self.cap = self.nf.cap
        self.used = np.zeros_like(self.cap)
        self.cap_cm = np.array(
            [[nd.capacity.get("cpu", 0), nd.capacity.get("memory", 0)] for nd in instance.nodes],
            dtype=np.int64,
        ).reshape(n, 2)
        self.nz_used = np.zeros((n, 2), dtype=np.int64)
        gmax = max((nd.gpu_count for nd in instance.nodes), default=0)
        self.gfree = np.full((n, max(gmax, 1)), -1, dtype=np.int64)
        for i, nd in enumerate(instance.nodes):
            self.gfree[i, : nd.gpu_count] = GPU_MILLI
        self.bound: list[tuple[Pod, int]] = []
        #: bound pods carrying anti-affinity (the symmetric check only needs these)
        self.anti: list[tuple[Pod, int]] = []
        #: newly placed pods whose affinity / hard spread must stay satisfied (final-state semantics)
        self.watchers: list[tuple[Pod, int]] = []
        self.labels = [nd.labels_map for nd in instance.nodes]
        self._running_ids = {id(rp) for rp in instance.running}
        # pods with no inter-pod term or hard spread that no term or spread selector selects: the
        # InterPodAffinity / PodTopologySpread filters can never reject them (nor can they break a
        # placed pod's constraints), so they skip those checks
        flags_p, flags_r = interacting(instance)
        everyone = (*instance.pods, *instance.running)
        self._plain = {id(p) for p, f in zip(everyone, (*flags_p, *flags_r), strict=True) if not f}
        #: ids of the instance's own pods: alive as long as the state, so id-keyed memos are safe for them
        self._own = {id(p) for p in everyone}
        self._eligible: dict[tuple[Any, ...], list[int]] = {}
        self._sig_index: dict[tuple[Any, ...], int] = {}
        self._sig_pods: list[Pod] = []
        self._sig_id: dict[int, int] = {}
        self.sig_count = np.zeros((0, n), dtype=np.int64)
        for p in everyone:
            self._sig_of(p)
        self._term_memo: dict[tuple[Any, ...], tuple[list[bool], np.ndarray]] = {}
        self._spread_memo: dict[tuple[Any, ...], tuple[list[bool], np.ndarray]] = {}
        self._aff_nodes: dict[tuple[int, int], tuple[np.ndarray, list[int]]] = {}
        self._req: dict[int, np.ndarray] = {}
        self._wgroup: dict[int, int] = {}
        self._wgroup_ids: dict[tuple[Any, ...], int] = {}
        self._wgroup_keys: dict[int, list[str]] = {}
        self._nz: dict[int, np.ndarray] = {}
        for rp in instance.running:
            assert rp.node is not None
            ni = instance.node_index[rp.node]
            self._add(rp, ni, rp.gpu_indices)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def request(self, pod: Pod) -> np.ndarray:
        if id(pod) not in self._own:
            return self.nf.request_vector(pod)
        r = self._req.get(id(pod))
        if r is None:
            r = self._req[id(pod)] = self.nf.request_vector(pod)
        return r

    def nonzero_of(self, pod: Pod) -> np.ndarray:
        if id(pod) not in self._own:
            return self.nonzero(pod)
        r = self._nz.get(id(pod))
        if r is None:
            r = self._nz[id(pod)] = self.nonzero(pod)
        return r

    def _add(self, pod: Pod, ni: int, devs: tuple[int, ...]) -> None:
        self.used[ni] += self.request(pod)
        self.nz_used[ni] += self.nonzero_of(pod)
        self.sig_count[self._sig_of(pod), ni] += 1
        if pod.gpu is not None:
            for g in devs:
                self.gfree[ni, g] -= pod.gpu.milli
        self.bound.append((pod, ni))
        if pod.pod_anti_affinity:
            self.anti.append((pod, ni))

    @staticmethod
    def nonzero(pod: Pod) -> np.ndarray:
        rm = pod.request_map
        return np.array(
            [rm.get("cpu", 0) or DEFAULT_CPU, rm.get("memory", 0) or DEFAULT_MEMORY], dtype=np.int64
        )

    def snapshot(self) -> tuple[Any, ...]:
        return (
            self.used.copy(),
            self.nz_used.copy(),
            self.gfree.copy(),
            self.sig_count.copy(),
            len(self.bound),
            len(self.watchers),
            len(self.anti),
        )

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.used, self.nz_used, self.gfree, sig_count, nb, nw, na = snap
        grown = self.sig_count.shape[0] - sig_count.shape[0]  # signatures first seen since the snapshot
        self.sig_count = np.vstack([sig_count, np.zeros((grown, sig_count.shape[1]), np.int64)])
        del self.bound[nb:]
        del self.watchers[nw:]
        del self.anti[na:]

    # -- filters ---------------------------------------------------------------------------------------
    def feasible(self, pod: Pod) -> np.ndarray:
        req = self.request(pod)
        # NodeResourcesFit checks only the resources the pod requests (pods: always 1)
        mask = self.nf.node_level(pod) & ((self.used + req <= self.cap) | (req == 0)).all(axis=1)
        if pod.gpu is not None:
            if pod.gpu.milli < GPU_MILLI:
                mask &= (self.gfree >= pod.gpu.milli).any(axis=1)
            else:
                mask &= (self.gfree == GPU_MILLI).sum(axis=1) >= pod.gpu.count
        if mask.any():
            mask = self._inter_pod(pod, mask)
        return mask

    # -- inter-pod bookkeeping: bound pods counted per node and (namespace, labels) signature ----------
    def _sig(self, pod: Pod) -> int:
        key = (pod.namespace, pod.labels)
        s = self._sig_index.get(key)
        if s is None:
            s = self._sig_index[key] = len(self._sig_pods)
            self._sig_pods.append(pod)
            self.sig_count = np.vstack([self.sig_count, np.zeros((1, self.sig_count.shape[1]), np.int64)])
        return s

    def _term_entry(self, owner: Pod, term: Any) -> tuple[list[bool], np.ndarray]:
        """Per signature: does the affinity term of ``owner`` select it (a term, or a tuple of terms
        that must all select)? Memoised by the term's value, and by its identity for the instance's own
        pods (alive as long as the state, so an ``id`` cannot be reused; a pod from outside, such as an
        extender request's, is looked up by value only)."""
        key = (owner.namespace, id(term)) if id(owner) in self._own else None
        out = self._term_memo.get(key) if key is not None else None
        if out is None or len(out[0]) != len(self._sig_pods):
            vkey = (owner.namespace, term)  # equal terms of other replicas share the work
            out = self._term_memo.get(vkey)
            if out is None or len(out[0]) != len(self._sig_pods):
                terms = term if isinstance(term, tuple) else (term,)
                hits = [all(t.selects(owner, q) for t in terms) for q in self._sig_pods]
                out = (hits, np.flatnonzero(np.array(hits, dtype=bool)))
                self._term_memo[vkey] = out
            if key is not None:
                self._term_memo[key] = out
        return out

    def _term_sigs(self, owner: Pod, term: Any) -> np.ndarray:
        """Signatures an affinity term of ``owner`` selects (a term: one; a tuple of terms: all)."""
        return self._term_entry(owner, term)[1]

    def _selects(self, owner: Pod, term: Any, other: Pod) -> bool:
        s = self._sig_of(other)
        return self._term_entry(owner, term)[0][s]

    def _spread_entry(self, owner: Pod, c: Any) -> tuple[list[bool], np.ndarray]:
        key = (owner.namespace, id(c)) if id(owner) in self._own else None
        out = self._spread_memo.get(key) if key is not None else None
        if out is None or len(out[0]) != len(self._sig_pods):
            vkey = (owner.namespace, c)
            out = self._spread_memo.get(vkey)
            if out is None or len(out[0]) != len(self._sig_pods):
                hits = [spread_matches(owner, c, q) for q in self._sig_pods]
                out = (hits, np.flatnonzero(np.array(hits, dtype=bool)))
                self._spread_memo[vkey] = out
            if key is not None:
                self._spread_memo[key] = out
        return out

    def _spread_sigs(self, owner: Pod, c: Any) -> np.ndarray:
        return self._spread_entry(owner, c)[1]

    def _spread_hit(self, owner: Pod, c: Any, other: Pod) -> bool:
        s = self._sig_of(other)
        return self._spread_entry(owner, c)[0][s]

    def _sig_of(self, pod: Pod) -> int:
        if id(pod) not in self._own:
            return self._sig(pod)  # not the instance's: by value, never by (reusable) id
        s = self._sig_id.get(id(pod))
        if s is None:
            s = self._sig_id[id(pod)] = self._sig(pod)
        return s

    def _per_node(self, sigs: np.ndarray) -> np.ndarray:
        """Bound pods of the given signatures on each node."""
        if len(sigs) == 0:
            return np.zeros(self.sig_count.shape[1], dtype=np.int64)
        return self.sig_count[sigs].sum(axis=0)

    def _inter_pod(self, pod: Pod, mask: np.ndarray) -> np.ndarray:
        if id(pod) in self._plain:
            return mask
        labels = self.labels
        if not (self.anti or self.watchers or pod.pod_anti_affinity or pod.pod_affinity or pod.hard_spread):
            return mask
        forbidden: set[tuple[str, str]] = set()
        # existing pods' anti-affinity against the incoming pod (symmetry), and the pod's own
        for e, ne in self.anti:
            for t in e.pod_anti_affinity:
                v = labels[ne].get(t.topology_key)
                if v is not None and self._selects(e, t, pod):
                    forbidden.add((t.topology_key, v))
        for t in pod.pod_anti_affinity:
            cnt = self._per_node(self._term_sigs(pod, t))
            for ne in np.flatnonzero(cnt).tolist():
                v = labels[ne].get(t.topology_key)
                if v is not None:
                    forbidden.add((t.topology_key, v))
        aff_ok: set[str] | None = None
        self_first = False
        if pod.pod_affinity:
            terms = pod.pod_affinity
            aff_ok = set()
            any_count = False
            cnt = self._per_node(self._term_sigs(pod, terms))
            for ne in np.flatnonzero(cnt).tolist():
                for t in terms:
                    v = labels[ne].get(t.topology_key)
                    if v is not None:
                        aff_ok.add(t.topology_key + "\0" + v)
                        any_count = True
            self_first = not any_count and all(t.selects(pod, pod) for t in terms)
        blocked = self._watched(pod)
        spreads = []
        for c in pod.hard_spread:
            eligible = self.eligible(pod)
            counts = {labels[ni][c.topology_key]: 0 for ni in eligible}
            cnt = self._per_node(self._spread_sigs(pod, c))
            for ni in eligible:
                if cnt[ni]:
                    counts[labels[ni][c.topology_key]] += int(cnt[ni])
            lo = min(counts.values()) if counts else 0
            spreads.append((c, counts, lo, 1 if spread_matches(pod, c, pod) else 0))
        if blocked:
            mask = mask.copy()
            mask[list(blocked)] = False
        if not forbidden and aff_ok is None and not spreads:
            return mask
        out = mask.copy()
        for ni in np.flatnonzero(mask).tolist():
            lab = labels[ni]
            ok = not any(lab.get(k) == v for k, v in forbidden)
            if ok and aff_ok is not None:
                keys = [t.topology_key for t in pod.pod_affinity]
                if any(k not in lab for k in keys):
                    ok = False
                elif not self_first:
                    ok = all(k + "\0" + lab[k] in aff_ok for k in keys)
            if ok:
                for c, counts, lo, me in spreads:
                    v = lab.get(c.topology_key)
                    if v is None or counts.get(v, 0) + me - lo > c.max_skew:
                        ok = False
                        break
            out[ni] = ok
        return out

    def eligible(self, pod: Pod) -> list[int]:
        """Nodes PodTopologySpread counts for ``pod`` (cached by what decides it)."""
        key = (pod.node_selector, pod.node_affinity, tuple(c.topology_key for c in pod.hard_spread))
        out = self._eligible.get(key)
        if out is None:
            out = [ni for ni, nd in enumerate(self.inst.nodes) if spread_eligible(pod, nd)]
            self._eligible[key] = out
        return out

    def _watched(self, pod: Pod) -> set[int]:
        """Nodes where ``pod`` would break the affinity or hard spread of an already placed batch pod.

        The real scheduler only checks a pod's constraints when that pod is scheduled; the batch is judged
        on its final state, so placing a later pod must keep earlier batch pods' constraints true.
        """
        labels = self.labels
        out: set[int] = set()
        memo: dict[tuple[Any, ...], dict[str, int]] = {}  # identical constraints share their counts
        seen: set[tuple[Any, ...]] = set()
        for w, nw in self.watchers:
            wk = self._watch_key(w, nw)
            if wk in seen:
                continue  # a replica with the same constraints in the same domains decides the same
            seen.add(wk)
            for c in w.hard_spread:
                if not self._spread_hit(w, c, pod):
                    continue
                key = c.topology_key
                mine = labels[nw][key]
                eligible = self.eligible(w)
                mkey = (w.namespace, c, w.node_selector, w.node_affinity, w.hard_spread)
                counts = memo.get(mkey)
                if counts is None:
                    counts = {labels[ni][key]: 0 for ni in eligible}
                    cnt = self._per_node(self._spread_sigs(w, c))
                    for ni in eligible:
                        if cnt[ni]:
                            counts[labels[ni][key]] += int(cnt[ni])
                    memo[mkey] = counts
                others = [v for d, v in counts.items() if d != mine]
                if others and counts[mine] + 1 - min(others) > c.max_skew:
                    out.update(ni for ni in eligible if labels[ni][key] == mine)
            if w.pod_affinity and self._selects(w, w.pod_affinity, pod):
                keyed, outside = self._affinity_nodes(w, nw)
                cnt = self._per_node(self._term_sigs(w, w.pod_affinity))
                partners = int(cnt[keyed].sum())
                if self._selects(w, w.pod_affinity, w) and nw in keyed:
                    partners -= 1  # w itself
                if partners <= 0:
                    out.update(outside)
        return out

    def _watch_key(self, w: Pod, nw: int) -> tuple[Any, ...]:
        """What :meth:`_watched` decides for watcher ``w`` on node ``nw`` depends on: its namespace,
        labels, selectors and constraints (a group id) and its node's values of their topology keys."""
        g = self._wgroup.get(id(w)) if id(w) in self._own else None
        if g is None:
            gk = (w.namespace, w.labels, w.node_selector, w.node_affinity, w.topology_spread, w.pod_affinity)
            g = self._wgroup_ids.setdefault(gk, len(self._wgroup_ids))
            if id(w) in self._own:
                self._wgroup[id(w)] = g
            keys = [c.topology_key for c in w.hard_spread] + [t.topology_key for t in w.pod_affinity]
            self._wgroup_keys[g] = keys
        lab = self.labels[nw]
        return (g, *(lab.get(k) for k in self._wgroup_keys[g]))

    def _affinity_nodes(self, w: Pod, nw: int) -> tuple[np.ndarray, list[int]]:
        """Nodes carrying any of ``w``'s affinity keys, and those of them outside w's domains."""
        key = (id(w), nw)
        got = self._aff_nodes.get(key) if id(w) in self._own else None
        if got is None:
            labels = self.labels
            keys = [t.topology_key for t in w.pod_affinity]
            keyed = np.array(
                [ni for ni, lab in enumerate(labels) if any(k in lab for k in keys)], dtype=np.int64
            )
            outside = [
                ni
                for ni, lab in enumerate(labels)
                if any(k in lab for k in keys) and any(lab.get(k) != labels[nw][k] for k in keys)
            ]
            got = (keyed, outside)
            if id(w) in self._own:
                self._aff_nodes[key] = got
        return got

    # -- preemption (DefaultPreemption, single node) ----------------------------------------------------
    def _remove(self, pod: Pod, ni: int) -> None:
        self.used[ni] -= self.request(pod)
        self.nz_used[ni] -= self.nonzero_of(pod)
        self.sig_count[self._sig_of(pod), ni] -= 1
        if pod.gpu is not None:
            for g in pod.gpu_indices:
                self.gfree[ni, g] += pod.gpu.milli
        self.bound = [(e, n) for e, n in self.bound if e is not pod]
        self.anti = [(e, n) for e, n in self.anti if e is not pod]

    def preempt(self, pod: Pod) -> tuple[int, list[Pod]] | None:
        """Where ``pod`` fits by evicting lower-priority evictable running pods of one node, and whom.

        As DefaultPreemption: on every node passing the node-level filters, remove every running pod of
        lower priority; if the pod then fits, re-add ("reprieve") them from the most important down,
        keeping out only those without which it does not fit. Among candidate nodes pick the one whose
        most important victim is least important, then the smallest sum of victim priorities, then the
        fewest victims, then the first node. Returns None when no node works.
        """
        if not self.inst.options.allow_evictions:
            return None
        by_node: dict[int, list[Pod]] = {}
        for e, ne in self.bound:
            if id(e) in self._running_ids and e.evictable and e.priority < pod.priority:
                by_node.setdefault(ne, []).append(e)
        level = self.nf.node_level(pod)
        best: tuple[tuple[int, int, int, int], int, list[Pod]] | None = None
        for ni in sorted(by_node):
            if not level[ni]:
                continue
            vics = by_node[ni]
            for v in vics:
                self._remove(v, ni)
            out = set(vics)
            if self.feasible(pod)[ni]:
                for v in sorted(vics, key=lambda v: -v.priority):
                    self._add(v, ni, v.gpu_indices)
                    out.discard(v)
                    if not self.feasible(pod)[ni]:
                        self._remove(v, ni)
                        out.add(v)
                victims = [v for v in vics if v in out]
                key = (
                    max((v.priority for v in victims), default=-(1 << 62)),
                    sum(v.priority for v in victims),
                    len(victims),
                    ni,
                )
                if best is None or key < best[0]:
                    best = (key, ni, victims)
            for v in vics:
                if v in out:
                    self._add(v, ni, v.gpu_indices)
        if best is None:
            return None
        return best[1], best[2]

    # -- score and bind -------------------------------------------------------------------------------
    def score(self, pod: Pod, mask: np.ndarray, scoring: Scoring) -> int:
        """The feasible node (``mask``) NodeResourcesFit ranks first for ``pod``; ties to the first."""
        idx = np.flatnonzero(mask)
        if scoring in (DEFAULT_SCORING, MOST):
            # the common case (cpu and memory, weight 1) without the general per-resource gather
            alloc, req = self.cap_cm[idx], self.nz_used[idx] + self.nonzero_of(pod)
            weights = _UNIT2
        else:
            alloc, req, weights = self._score_inputs(pod, idx, scoring)
        total = node_scores(scoring, req, alloc, weights)
        return int(idx[int(np.argmax(total))])

    def _score_inputs(
        self, pod: Pod, idx: np.ndarray, scoring: Scoring
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(allocatable, requested after adding ``pod``, weights) per node of ``idx`` and scored
        resource, as the plugin's ``calculateResourceAllocatableRequest`` gives them: cpu and memory
        count non-zero requests (the scoring defaults); an extended resource the pod does not request,
        or one the model does not know, has allocatable 0 and so drops out of the weighted mean."""
        k, m = len(idx), len(scoring.resources)
        alloc = np.zeros((k, m), dtype=np.int64)
        req = np.zeros((k, m), dtype=np.int64)
        weights = np.array([w for _, w in scoring.resources], dtype=np.int64)
        preq = self.request(pod)
        col = self._col
        for c, (name, _) in enumerate(scoring.resources):
            if name in ("cpu", "memory"):
                j = 0 if name == "cpu" else 1
                alloc[:, c] = self.cap_cm[idx, j]
                req[:, c] = self.nz_used[idx, j] + self.nonzero_of(pod)[j]
            elif name in col and (name == "ephemeral-storage" or preq[col[name]] > 0) and name != "pods":
                j = col[name]
                alloc[:, c] = self.cap[idx, j]
                req[:, c] = self.used[idx, j] + preq[j]
        return alloc, req, weights

    def bind(self, pod: Pod, ni: int) -> tuple[int, ...]:
        devs: tuple[int, ...] = ()
        if pod.gpu is not None:
            free = self.gfree[ni]
            if pod.gpu.milli < GPU_MILLI:
                cand = [(int(free[g]), g) for g in range(len(free)) if free[g] >= pod.gpu.milli]
                devs = (min(cand)[1],)
            else:
                devs = tuple(g for g in range(len(free)) if free[g] == GPU_MILLI)[: pod.gpu.count]
        self._add(pod, ni, devs)
        if pod.pod_affinity or pod.hard_spread:
            self.watchers.append((pod, ni))
        return devs


def schedule(
    instance: Instance,
    budget: Budget,
    scoring: Scoring,
    order: list[int] | None = None,
    preemption: bool = True,
) -> tuple[Solution, dict[str, Any]]:
    """Schedule the pending pods one by one in ``order`` (default: the kube queue order), each on the
    feasible node ``scoring`` ranks first; a pod that fits nowhere preempts running pods of one node
    (:meth:`ClusterState.preempt`) when evictions are allowed."""
    st = ClusterState(instance)
    if order is None:
        order = sorted(range(len(instance.pods)), key=lambda i: (-instance.pods[i].priority, i))
    placement: dict[str, str | None] = {p.name: None for p in instance.pods}
    gpu: dict[str, tuple[int, ...]] = {}
    evicted: list[str] = []
    done: set[int] = set()
    stopped = False
    for i in order:
        if i in done:
            continue
        if budget.should_stop():
            stopped = True
            break
        pod = instance.pods[i]
        group = [i]
        if pod.gang is not None:
            group = [j for j in order if instance.pods[j].gang == pod.gang]
        done.update(group)
        snap = st.snapshot() if len(group) > 1 else None
        chosen: list[tuple[int, int, tuple[int, ...]]] = []
        for j in group:
            p = instance.pods[j]
            mask = st.feasible(p)
            if not mask.any():
                pre = st.preempt(p) if len(group) == 1 and preemption else None
                if pre is None:
                    chosen = []
                    break
                ni, victims = pre
                for v in victims:
                    st._remove(v, ni)
                    evicted.append(v.name)
                chosen.append((j, ni, st.bind(p, ni)))
                continue
            ni = st.score(p, mask, scoring)
            chosen.append((j, ni, st.bind(p, ni)))
        if len(chosen) < len(group):
            if snap is not None:
                st.restore(snap)
            continue
        for j, ni, devs in chosen:
            placement[instance.pods[j].name] = instance.nodes[ni].name
            if devs:
                gpu[instance.pods[j].name] = devs
    sol = Solution(tuple(placement.items()), tuple(evicted), (), tuple(gpu.items()))
    return sol, {"stopped_early": stopped, "evictions": len(evicted)}


def _run(instance: Instance, budget: Budget, scoring: Scoring, name: str) -> Result:
    t0 = time.perf_counter()
    sol, stats = schedule(instance, budget, scoring)
    stats["scoring"] = scoring.type
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    ev = checked(instance, sol)
    budget.report(name, ev.objective if ev.feasible else None, None, sol)
    return Result(
        instance.PROBLEM, Status.FEASIBLE, name, solution=sol, limit=budget.limit_reason(), stats=stats
    )


@register(
    "pod_packing",
    "kube",
    "heuristic",
    "kube-scheduler replica, NodeResourcesFit as options.scoring says (default LeastAllocated)",
    instant=True,
)
def run_kube(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    return _run(instance, budget, instance.options.scoring, "kube")


@register(
    "pod_packing",
    "kube-most",
    "heuristic",
    "kube-scheduler replica, NodeResourcesFit MostAllocated (options.scoring's resources and weights)",
    instant=True,
)
def run_kube_most(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    return _run(instance, budget, instance.options.scoring.with_type("MostAllocated"), "kube-most")
