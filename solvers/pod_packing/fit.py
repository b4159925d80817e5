"""Multi-dimensional best-fit decreasing (``bfd``) and fragmentation-aware packing (``fgd``) in Numba.

Both place pods one at a time into the same state the kube replica keeps (per node and resource the
requested sum, per GPU device its free milli) with the replica's filters: the node-level ones
(unschedulable, taints, selector/affinity, GPU count/model), NodeResourcesFit (every resource the pod
requests, and ``pods``; a resource the pod does not request is not checked) and the GPU share fit (a
share needs one device with enough free milli, a whole-GPU pod ``count`` untouched devices). They
differ in the score:

* ``bfd`` — best fit: the node whose largest normalised free share (over the resources the pod asks
  for, free / allocatable after placing it) is smallest, i.e. the tightest node in its scarcest
  dimension; ties by the sum of those shares, then the first node. A GPU share takes the device with
  the least free milli that still fits it (exact fits first).
* ``fgd`` — GPU fragmentation gradient descent (Weng et al., "Beware of Fragmentation: Scheduling GPU-
  Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC'23): the *target workload* is the
  distribution of task types (cpu, memory, GPU share, GPU count) among the pods being placed, each
  with its popularity ``w_m``. A node's fragmentation for task type ``m`` is the free GPU milli that
  ``m`` can not use there: all of it when ``m`` does not fit the node at all (its cpu/memory, or no
  device with room); otherwise, for a share, the free milli of the devices with less free than ``m``
  asks, and for whole GPUs, the free milli of the partly used devices. The node's expected
  fragmentation is ``F_n = sum_m w_m F_n(m)``; a pod goes to the node and device that increase it the
  least (ties: best fit as in ``bfd``). Task types without GPU demand are left out of the
  distribution: for them every free GPU milli is unusable whatever the placement, so they only add a
  constant. At most ``MAX_TYPES`` types (the most popular) are kept.

Orders. As solvers (``solve --solver bfd|fgd``, and inside ``auto``): priority levels highest first,
within a level the pods by decreasing size (GPU milli, then the dominant share of cpu/memory over the
cluster). Pods with inter-pod affinity, anti-affinity or hard spread constraints, the pods such terms
select, and gang members are not placed by the kernel: within each level they go first, through the
kube replica's filters (:class:`.kube.ClusterState`, MostAllocated), on the state the kernel leaves,
so every answer satisfies every constraint kind; a gang goes, all or nothing, with the level of its
most important member. :func:`place_online` is the arrival-order variant
used by the openb replay (:mod:`.replan`): pods in input order, stop at the first that fits nowhere.

Kernels are compiled with ``cache=True`` and by :func:`warmup` (registered for the family).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import njit

from models.pod_packing import GPU_MILLI, Instance, Solution
from solvers.budget import Budget
from solvers.pod_packing.common import (
    NodeFilter,
    checked,
    interacting,
    level_bound_source,
    lex_lower_bound,
    node_filter,
    pending_vector,
    worth_checking,
)
from solvers.pod_packing.kube import MOST, ClusterState
from solvers.registry import register
from solvers.result import Result, Status

BFD = 0
FGD = 1
#: pods per kernel call when a budget is polled (about 0.1 s on the openb trace's 1,213 GPU nodes)
CHUNK = 512
#: the most popular task types kept in FGD's target workload
MAX_TYPES = 24
BIG = 1 << 40


@njit(cache=True)
def _node_frag(
    gfree: np.ndarray, n: int, ng: int, cpu_ok: np.ndarray, tm: np.ndarray, tc: np.ndarray, tw: np.ndarray
) -> float:
    """Expected fragmentation of node ``n`` (``cpu_ok[m]``: type m's non-GPU requests fit)."""
    total = 0.0
    free_all = 0
    full = 0
    for g in range(ng):
        f = gfree[n, g]
        free_all += f
        if f == 1000:
            full += 1
    for m in range(tm.shape[0]):
        milli = tm[m]
        frag = 0
        if not cpu_ok[m]:
            frag = free_all
        elif milli < 1000:
            room = False
            for g in range(ng):
                f = gfree[n, g]
                if f >= milli:
                    room = True
                else:
                    frag += f
            if not room:
                frag = free_all
        else:
            if full < tc[m]:
                frag = free_all
            else:
                for g in range(ng):
                    f = gfree[n, g]
                    if f < 1000:
                        frag += f
        total += tw[m] * frag
    return total


@njit(cache=True)
def _types_fit(used: np.ndarray, cap: np.ndarray, n: int, treq: np.ndarray, out: np.ndarray) -> None:
    for m in range(treq.shape[0]):
        ok = True
        for r in range(cap.shape[1]):
            q = treq[m, r]
            if q > 0 and used[n, r] + q > cap[n, r]:
                ok = False
                break
        out[m] = ok


@njit(cache=True)
def _fits(
    used: np.ndarray,
    cap: np.ndarray,
    gfree: np.ndarray,
    ngpu: np.ndarray,
    n: int,
    req: np.ndarray,
    milli: int,
    count: int,
) -> bool:
    for r in range(cap.shape[1]):
        q = req[r]
        if q > 0 and used[n, r] + q > cap[n, r]:
            return False
    if count > 0:
        if milli < 1000:
            for g in range(ngpu[n]):  # noqa: SIM110 (Numba: a plain loop, no generator)
                if gfree[n, g] >= milli:
                    return True
            return False
        full = 0
        for g in range(ngpu[n]):
            if gfree[n, g] == 1000:
                full += 1
        return full >= count
    return True


@njit(cache=True)
def _fit_key(used: np.ndarray, cap: np.ndarray, n: int, req: np.ndarray) -> tuple[float, float]:
    """Best-fit key after placing ``req`` on n: (largest normalised free share, their sum)."""
    worst = 0.0
    tot = 0.0
    for r in range(cap.shape[1]):
        if req[r] > 0 and cap[n, r] > 0:
            s = (cap[n, r] - used[n, r] - req[r]) / cap[n, r]
            tot += s
            if s > worst:
                worst = s
    return worst, tot


@njit(cache=True)
def place_pods(
    order: np.ndarray,
    req: np.ndarray,
    milli: np.ndarray,
    count: np.ndarray,
    elig: np.ndarray,
    cap: np.ndarray,
    used: np.ndarray,
    gfree: np.ndarray,
    ngpu: np.ndarray,
    policy: int,
    treq: np.ndarray,
    tm: np.ndarray,
    tc: np.ndarray,
    tw: np.ndarray,
    stop_at_failure: bool,
    node_of: np.ndarray,
    devs_of: np.ndarray,
) -> int:
    """Place ``order``'s pods in turn (``used``/``gfree`` updated in place); ``node_of[i]`` = node or -1,
    ``devs_of[i]`` = bitmask of its devices. Returns how many pods of ``order`` were processed (all, or
    up to and excluding the first failure when ``stop_at_failure``)."""
    N = cap.shape[0]
    T = tm.shape[0]
    frag = np.zeros(N)
    ok_before = np.zeros(T, dtype=np.bool_)
    ok_after = np.zeros(T, dtype=np.bool_)
    if policy == FGD:
        for n in range(N):
            _types_fit(used, cap, n, treq, ok_before)
            frag[n] = _node_frag(gfree, n, ngpu[n], ok_before, tm, tc, tw)
    for k in range(order.shape[0]):
        i = order[k]
        node_of[i] = -1
        devs_of[i] = 0
        best_n = -1
        best_dev = -1
        best_a = np.inf
        best_b = np.inf
        best_c = np.inf
        m_i = milli[i]
        c_i = count[i]
        for n in range(N):
            if not elig[i, n] or not _fits(used, cap, gfree, ngpu, n, req[i], m_i, c_i):
                continue
            worst, tot = _fit_key(used, cap, n, req[i])
            if c_i > 0 and m_i < 1000:
                # candidate devices: one per distinct free value that fits
                for g in range(ngpu[n]):
                    f = gfree[n, g]
                    if f < m_i:
                        continue
                    dup = False
                    for h in range(g):
                        if gfree[n, h] == f:
                            dup = True
                            break
                    if dup:
                        continue
                    if policy == FGD:
                        for r in range(cap.shape[1]):
                            used[n, r] += req[i, r]
                        gfree[n, g] -= m_i
                        _types_fit(used, cap, n, treq, ok_after)
                        a = _node_frag(gfree, n, ngpu[n], ok_after, tm, tc, tw) - frag[n]
                        gfree[n, g] += m_i
                        for r in range(cap.shape[1]):
                            used[n, r] -= req[i, r]
                        b = worst
                        c = float(f - m_i)
                    else:
                        a = worst  # the tightest node, then the device best fit (exact fits first)
                        b = float(f - m_i)
                        c = tot
                    if a < best_a or (a == best_a and (b < best_b or (b == best_b and c < best_c))):
                        best_a, best_b, best_c, best_n, best_dev = a, b, c, n, g
            else:
                if policy == FGD and c_i > 0:
                    for r in range(cap.shape[1]):
                        used[n, r] += req[i, r]
                    taken = 0
                    took = 0
                    for g in range(ngpu[n]):
                        if taken < c_i and gfree[n, g] == 1000:
                            gfree[n, g] = 0
                            took |= 1 << g
                            taken += 1
                    _types_fit(used, cap, n, treq, ok_after)
                    a = _node_frag(gfree, n, ngpu[n], ok_after, tm, tc, tw) - frag[n]
                    for g in range(ngpu[n]):
                        if took >> g & 1:
                            gfree[n, g] = 1000
                    for r in range(cap.shape[1]):
                        used[n, r] -= req[i, r]
                elif policy == FGD:
                    # a pod without GPUs changes fragmentation only through cpu/memory
                    for r in range(cap.shape[1]):
                        used[n, r] += req[i, r]
                    _types_fit(used, cap, n, treq, ok_after)
                    a = _node_frag(gfree, n, ngpu[n], ok_after, tm, tc, tw) - frag[n]
                    for r in range(cap.shape[1]):
                        used[n, r] -= req[i, r]
                else:
                    a = worst
                b = worst if policy == FGD else tot
                c = tot
                if a < best_a or (a == best_a and (b < best_b or (b == best_b and c < best_c))):
                    best_a, best_b, best_c, best_n, best_dev = a, b, c, n, -1
        if best_n < 0:
            if stop_at_failure:
                return k
            continue
        n = best_n
        for r in range(cap.shape[1]):
            used[n, r] += req[i, r]
        mask = 0
        if c_i > 0:
            if m_i < 1000:
                gfree[n, best_dev] -= m_i
                mask = 1 << best_dev
            else:
                taken = 0
                for g in range(ngpu[n]):
                    if taken < c_i and gfree[n, g] == 1000:
                        gfree[n, g] = 0
                        mask |= 1 << g
                        taken += 1
        node_of[i] = n
        devs_of[i] = mask
        if policy == FGD:
            _types_fit(used, cap, n, treq, ok_before)
            frag[n] = _node_frag(gfree, n, ngpu[n], ok_before, tm, tc, tw)
    return order.shape[0]


# -- Python side -----------------------------------------------------------------------------------------
class FitData:
    """The arrays the kernel reads for one instance (requests, eligibility, FGD's target workload)."""

    def __init__(self, instance: Instance, nf: NodeFilter | None = None):
        self.inst = instance
        self.nf = nf = nf or node_filter(instance)
        pods = instance.pods
        P, N = len(pods), len(instance.nodes)
        self.req = np.array([nf.request_vector(p) for p in pods], dtype=np.int64).reshape(
            P, len(nf.resources)
        )
        self.milli = np.array([p.gpu.milli if p.gpu else 0 for p in pods], dtype=np.int64)
        self.count = np.array([p.gpu.count if p.gpu else 0 for p in pods], dtype=np.int64)
        self.elig = np.zeros((P, N), dtype=np.bool_)
        for i, p in enumerate(pods):
            self.elig[i] = nf.node_level(p)
        self.ngpu = np.array([nd.gpu_count for nd in instance.nodes], dtype=np.int64)
        gmax = max(1, int(self.ngpu.max(initial=0)))
        self.gmax = gmax
        if gmax > 62:
            raise ValueError("the Numba packers support at most 62 GPUs per node")
        # FGD's target workload: task types of the GPU pods, by popularity
        kinds: dict[tuple[Any, ...], int] = {}
        for i in range(P):
            if self.count[i] > 0:
                key = (tuple(self.req[i]), int(self.milli[i]), int(self.count[i]))
                kinds[key] = kinds.get(key, 0) + 1
        top = sorted(kinds.items(), key=lambda kv: -kv[1])[:MAX_TYPES]
        R = len(nf.resources)
        self.treq = np.array([k[0] for k, _ in top], dtype=np.int64).reshape(len(top), R)
        if len(top):
            self.treq[:, nf.resources.index("pods")] = 1
        self.tm = np.array([k[1] for k, _ in top], dtype=np.int64)
        self.tc = np.array([k[2] for k, _ in top], dtype=np.int64)
        total = sum(v for _, v in top) or 1
        self.tw = np.array([v / total for _, v in top], dtype=np.float64)

    def empty_state(self) -> tuple[np.ndarray, np.ndarray]:
        used = np.zeros_like(self.nf.cap)
        gfree = np.full((len(self.inst.nodes), self.gmax), -1, dtype=np.int64)
        for n, c in enumerate(self.ngpu):
            gfree[n, :c] = GPU_MILLI
        return used, gfree

    def run(
        self,
        order: list[int],
        used: np.ndarray,
        gfree: np.ndarray,
        policy: int,
        stop_at_failure: bool,
        budget: Budget | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """The kernel over ``order``; with a ``budget``, in chunks of :data:`CHUNK` pods with the budget
        polled between them (the kernel keeps no state of its own between calls beyond ``used`` and
        ``gfree``, so the decisions are the same); pods not reached stay unplaced."""
        P = len(self.inst.pods)
        node_of = np.full(P, -1, dtype=np.int64)
        devs_of = np.zeros(P, dtype=np.int64)
        arr = np.array(order, dtype=np.int64)
        step = CHUNK if budget is not None else max(1, len(arr))
        done = 0
        for k in range(0, len(arr), step):
            if budget is not None and k > 0 and budget.expired():
                break
            part = arr[k : k + step]
            got = place_pods(
                part, self.req, self.milli, self.count, self.elig, self.nf.cap, used, gfree, self.ngpu,
                policy, self.treq, self.tm, self.tc, self.tw, stop_at_failure, node_of, devs_of,
            )  # fmt: skip
            done += int(got)
            if got < len(part):
                break
        return node_of, devs_of, done


def devices(mask: int) -> tuple[int, ...]:
    return tuple(g for g in range(63) if mask >> g & 1)


def decreasing(instance: Instance, idx: list[int]) -> list[int]:
    """``idx`` by priority (highest first), then decreasing GPU milli, then dominant cpu/memory share."""
    pods = instance.pods
    caps = {r: sum(n.capacity.get(r, 0) for n in instance.nodes) or 1 for r in ("cpu", "memory")}

    def key(i: int) -> tuple[float, ...]:
        p = pods[i]
        g = p.gpu.count * p.gpu.milli if p.gpu is not None else 0
        share = max(p.request_map.get(r, 0) / caps[r] for r in caps)
        return (-p.priority, -g, -share, i)

    return sorted(idx, key=key)


def pack(instance: Instance, budget: Budget, policy: int) -> Solution:
    """The solver's placement (see the module doc): per level, constrained pods by the replica, then the
    kernel for the plain ones, all on one cluster state."""
    st = ClusterState(instance)
    data = FitData(instance, st.nf)
    flags, _ = interacting(instance)
    placement: dict[str, str | None] = {p.name: None for p in instance.pods}
    gpu: dict[str, tuple[int, ...]] = {}
    names = [nd.name for nd in instance.nodes]
    levels = sorted({p.priority for p in instance.pods}, reverse=True)
    pods = instance.pods
    # a gang goes with the level of its most important member (as the replica's queue reaches it)
    gang_level = {g: max(pods[i].priority for i in members) for g, members in instance.gangs.items()}
    for lv in levels:
        if budget.expired():
            break
        at = [
            i
            for i, p in enumerate(pods)
            if (p.gang is None and p.priority == lv) or (p.gang is not None and gang_level[p.gang] == lv)
        ]
        hard = [i for i in at if flags[i] or pods[i].gang is not None]
        plain = decreasing(instance, [i for i in at if not (flags[i] or pods[i].gang is not None)])
        done: set[int] = set()
        for i in decreasing(instance, hard):
            if i in done:
                continue
            if budget.expired():
                break
            group = [i] if pods[i].gang is None else [j for j in hard if pods[j].gang == pods[i].gang]
            done.update(group)
            snap = st.snapshot() if len(group) > 1 else None
            chosen: list[tuple[int, int, tuple[int, ...]]] = []
            for j in group:
                mask = st.feasible(pods[j])
                if not mask.any():
                    break
                ni = st.score(pods[j], mask, MOST)
                chosen.append((j, ni, st.bind(pods[j], ni)))
            if len(chosen) < len(group):
                if snap is not None:
                    st.restore(snap)
                continue
            for j, ni, devs in chosen:
                placement[pods[j].name] = names[ni]
                if devs:
                    gpu[pods[j].name] = devs
        if plain:
            used, gfree = st.used.copy(), st.gfree.copy()
            node_of, devs_of, _ = data.run(plain, used, gfree, policy, False, budget)
            for i in plain:
                ni = int(node_of[i])
                if ni < 0:
                    continue
                devs = devices(int(devs_of[i]))
                st._add(pods[i], ni, devs)
                placement[pods[i].name] = names[ni]
                if devs:
                    gpu[pods[i].name] = devs
    return Solution(tuple(placement.items()), (), (), tuple(gpu.items()))


def _run(instance: Instance, budget: Budget, policy: int, name: str) -> Result:
    t0 = time.perf_counter()
    sol = pack(instance, budget, policy)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE,
        name,
        solution=sol,
        bound=float(lex_lower_bound(instance)[1]),
        bound_source=level_bound_source(instance),
        limit=budget.limit_reason(),
        stats={"time_s": round(time.perf_counter() - t0, 4)},
    )


@register("pod_packing", "bfd", "heuristic", "Numba multi-dimensional best-fit decreasing, by priority level")
def run_bfd(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    return _run(instance, budget, BFD, "bfd")


@register("pod_packing", "fgd", "heuristic", "Numba GPU-fragmentation-aware packing (FGD), by priority level")
def run_fgd(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    return _run(instance, budget, FGD, "fgd")


@register("pod_packing", "fit", "heuristic", "the better of fgd and bfd")
def run_fit(instance: Instance, budget: Budget, hint: Any = None) -> Result:
    """``fgd``, then ``bfd`` if the budget allows; the better answer (``auto``'s second step)."""
    t0 = time.perf_counter()
    best: Solution | None = None
    best_obj = float("inf")
    stats: dict[str, Any] = {}
    for name, policy in (("fgd", FGD), ("bfd", BFD)):
        if best is not None and budget.should_stop():
            break
        sol = pack(instance, budget, policy)
        stats[f"{name}.pending"] = list(pending_vector(instance, sol))
        if not worth_checking(instance, sol, best):
            continue
        ev = checked(instance, sol)
        if ev.feasible and ev.objective < best_obj:
            best, best_obj = sol, ev.objective
            stats["best"] = name
            budget.report("fit", best_obj, None, sol)
    stats["time_s"] = round(time.perf_counter() - t0, 4)
    return Result(
        instance.PROBLEM,
        Status.FEASIBLE if best is not None else Status.NO_SOLUTION,
        "fit",
        solution=best,
        bound=float(lex_lower_bound(instance)[1]),
        bound_source=level_bound_source(instance),
        limit=budget.limit_reason(),
        stats=stats,
    )


def place_online(instance: Instance, policy: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Arrival order, empty cluster, stop at the first pod that fits nowhere (openb replay). Returns
    (pods placed, node per pod, device mask per pod, final free milli per device)."""
    data = FitData(instance)
    used, gfree = data.empty_state()
    node_of, devs_of, done = data.run(list(range(len(instance.pods))), used, gfree, policy, True)
    return done, node_of, devs_of, gfree


def warmup() -> None:
    """Compile the kernel (both policies, both stop modes) on a two-node instance."""
    from models.pod_packing import Instance as Inst

    inst = Inst.from_dict(
        {
            "problem": "pod_packing",
            "nodes": [
                {"name": "a", "allocatable": {"cpu": 4000, "memory": 4096}, "gpus": {"count": 2}},
                {"name": "b", "allocatable": {"cpu": 4000, "memory": 4096}},
            ],
            "pods": [
                {"name": "p", "requests": {"cpu": 1000, "memory": 512}, "gpu": {"count": 1, "milli": 500}},
                {"name": "q", "requests": {"cpu": 1000, "memory": 512}, "gpu": {"count": 1, "milli": 1000}},
                {"name": "r", "requests": {"cpu": 1000, "memory": 512}},
            ],
        }
    )
    for policy in (BFD, FGD):
        place_online(inst, policy)
        pack(inst, Budget(None), policy)
