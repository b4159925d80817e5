"""Online arrival with batch re-planning (the openb benchmark) and the GPU-aware packer it uses.

:func:`first_failure` feeds the pending pods of an instance (no running pods, no inter-pod constraints:
openb) one by one, in input order, to a policy and stops at the first pod the policy cannot place:

* ``kube`` / ``kube-most``: the kube-scheduler replica (:mod:`solvers.pod_packing.kube`) with
  LeastAllocated / MostAllocated scoring;
* ``fgd`` / ``bfd``: the Numba packers of :mod:`.fit` (fragmentation gradient descent, best fit) in
  arrival order — FGD's own online setting;
* ``allotment``: each arriving pod is placed by ``fgd``; when it does not fit, the whole batch placed so
  far plus the new pod is re-planned from an empty cluster in decreasing size (priority, GPU milli,
  dominant cpu/memory share) by ``fgd``, then by ``bfd`` if that fails — the re-planned placement is
  adopted only if it places every pod of the batch (a re-plan is a set of migrations an operator would
  apply); the first failure is the first pod that neither the online step nor a re-plan can place;
* ``allotment-packer``: the same re-planning with the NumPy best fit of :class:`Packer` (the first
  version, kept for comparison).

Best fit of :class:`Packer` (:meth:`Packer.choose`), lexicographic over the feasible nodes:
whole-GPU pods take the node with the fewest free whole devices left; GPU shares take the device whose
free milli is the smallest that still fits (exact fits first), preferring nodes with fewer untouched
devices; every GPU pod then prefers the node whose free cpu stays largest relative to its free GPUs (so
cpu does not strand GPUs); cpu-only pods go where the fewest GPU milli are free (nodes whose GPUs are
all allocated first), then best fit on cpu. Ratio reported: allocated milli-GPU / all milli-GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.pod_packing import GPU_MILLI, Instance, Pod, Solution
from solvers.budget import Budget
from solvers.pod_packing.common import NodeFilter
from solvers.pod_packing.fit import BFD, FGD, FitData, decreasing, devices
from solvers.pod_packing.kube import ClusterState


class Packer:
    """Resource/GPU state of a cluster for pods without inter-pod constraints."""

    def __init__(self, instance: Instance):
        self.inst = instance
        self.nf = NodeFilter(instance)
        self.cap = self.nf.cap
        self.ri = {r: k for k, r in enumerate(self.nf.resources)}
        self.cpu = self.ri.get("cpu", -1)
        self.reset()

    def reset(self) -> None:
        n = len(self.inst.nodes)
        self.used = np.zeros_like(self.cap)
        gmax = max((nd.gpu_count for nd in self.inst.nodes), default=0)
        self.gfree = np.full((n, max(gmax, 1)), -1, dtype=np.int64)
        for i, nd in enumerate(self.inst.nodes):
            self.gfree[i, : nd.gpu_count] = GPU_MILLI
        self.where: dict[int, tuple[int, tuple[int, ...]]] = {}

    def copy_state(self) -> tuple[Any, ...]:
        return self.used.copy(), self.gfree.copy(), dict(self.where)

    def set_state(self, st: tuple[Any, ...]) -> None:
        self.used, self.gfree, self.where = st[0].copy(), st[1].copy(), dict(st[2])

    def choose(self, pod: Pod) -> tuple[int, tuple[int, ...]] | None:
        req = self.nf.request_vector(pod)
        mask = self.nf.node_level(pod) & ((self.used + req <= self.cap) | (req == 0)).all(axis=1)
        g = pod.gpu
        full = (self.gfree == GPU_MILLI).sum(axis=1)
        if g is not None:
            if g.milli < GPU_MILLI:
                fits = np.where(self.gfree >= g.milli, self.gfree, 1 << 30)
                best_dev = fits.min(axis=1)
                mask &= best_dev < (1 << 30)
            else:
                mask &= full >= g.count
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return None
        free_cpu = (
            (self.cap[idx, self.cpu] - self.used[idx, self.cpu]) if self.cpu >= 0 else np.zeros(idx.size)
        )
        gfree_tot = np.where(self.gfree[idx] > 0, self.gfree[idx], 0).sum(axis=1)
        keys: tuple[Any, ...]
        if g is None:
            keys = (free_cpu, gfree_tot)  # lexsort: last key is primary
        elif g.milli < GPU_MILLI:
            cpu_per_gpu = (
                -(free_cpu - req[self.cpu] if self.cpu >= 0 else 0)
                * GPU_MILLI
                // np.maximum(gfree_tot - g.milli, 1)
            )
            keys = (cpu_per_gpu, full[idx], best_dev[idx] - g.milli)
        else:
            cpu_per_gpu = (
                -(free_cpu - req[self.cpu] if self.cpu >= 0 else 0)
                * GPU_MILLI
                // np.maximum(gfree_tot - g.count * GPU_MILLI, 1)
            )
            keys = (cpu_per_gpu, full[idx] - g.count)
        ni = int(idx[np.lexsort(keys)[0]])
        devs: tuple[int, ...] = ()
        if g is not None:
            row = self.gfree[ni]
            if g.milli < GPU_MILLI:
                devs = (int(np.argmin(np.where(row >= g.milli, row, 1 << 30))),)
            else:
                devs = tuple(int(d) for d in np.flatnonzero(row == GPU_MILLI)[: g.count])
        return ni, devs

    def bind(self, i: int, ni: int, devs: tuple[int, ...]) -> None:
        pod = self.inst.pods[i]
        self.used[ni] += self.nf.request_vector(pod)
        if pod.gpu is not None:
            for d in devs:
                self.gfree[ni, d] -= pod.gpu.milli
        self.where[i] = (ni, devs)

    def place(self, i: int) -> bool:
        c = self.choose(self.inst.pods[i])
        if c is None:
            return False
        self.bind(i, *c)
        return True

    def replan(self, batch: list[int]) -> bool:
        """Re-pack ``batch`` from empty, largest GPU demand first; False (state kept) if a pod fails."""
        saved = self.copy_state()
        self.reset()

        def size(i: int) -> tuple[int, int, int]:
            p = self.inst.pods[i]
            gpu = p.gpu.count * p.gpu.milli if p.gpu is not None else 0
            return (-gpu, -p.request_map.get("cpu", 0), i)

        for i in sorted(batch, key=size):
            if not self.place(i):
                self.set_state(saved)
                return False
        return True

    def gpu_allocated(self) -> int:
        return int(np.where(self.gfree >= 0, GPU_MILLI - self.gfree, 0).sum())

    def solution(self) -> Solution:
        names = [nd.name for nd in self.inst.nodes]
        placements = tuple(
            (p.name, names[self.where[i][0]] if i in self.where else None)
            for i, p in enumerate(self.inst.pods)
        )
        gpu = tuple((self.inst.pods[i].name, d) for i, (_, d) in sorted(self.where.items()) if d)
        return Solution(placements, (), (), gpu)


def first_failure(instance: Instance, policy: str, budget: Budget | None = None) -> dict[str, Any]:
    """Place pods in input order until the first failure; see the module doc for the policies."""
    budget = budget or Budget(None)
    total_milli = sum(nd.gpu_count for nd in instance.nodes) * GPU_MILLI
    if policy in ("kube", "kube-most"):
        st = ClusterState(instance)
        scoring = instance.options.scoring
        if policy == "kube-most":
            scoring = scoring.with_type("MostAllocated")
        placed = 0
        for pod in instance.pods:
            if budget.should_stop():
                break
            mask = st.feasible(pod)
            if not mask.any():
                break
            st.bind(pod, st.score(pod, mask, scoring))
            placed += 1
        alloc = int(np.where(st.gfree >= 0, GPU_MILLI - st.gfree, 0).sum())
        return {
            "placed": placed,
            "gpu_ratio": alloc / total_milli if total_milli else 0.0,
            "first_failure": instance.pods[placed].name if placed < len(instance.pods) else None,
        }
    if policy in ("fgd", "bfd"):
        return _online_fit(instance, FGD if policy == "fgd" else BFD, total_milli)
    if policy == "allotment":
        return _replan_fit(instance, budget, total_milli)
    if policy != "allotment-packer":
        raise ValueError(f"unknown policy {policy!r}")
    pk = Packer(instance)
    replans = 0
    placed = 0
    for i in range(len(instance.pods)):
        if budget.should_stop():
            break
        if not pk.place(i):
            replans += 1
            if not pk.replan(list(range(i + 1))):
                break
        placed += 1
    return {
        "placed": placed,
        "gpu_ratio": pk.gpu_allocated() / total_milli if total_milli else 0.0,
        "first_failure": instance.pods[placed].name if placed < len(instance.pods) else None,
        "replans": replans,
        "solution": pk.solution(),
    }


def _result(
    instance: Instance, placed: int, gfree: np.ndarray, total_milli: int, **extra: Any
) -> dict[str, Any]:
    alloc = int(np.where(gfree >= 0, GPU_MILLI - gfree, 0).sum())
    return {
        "placed": placed,
        "gpu_ratio": alloc / total_milli if total_milli else 0.0,
        "first_failure": instance.pods[placed].name if placed < len(instance.pods) else None,
        **extra,
    }


def _solution(instance: Instance, node_of: np.ndarray, devs_of: np.ndarray) -> Solution:
    names = [nd.name for nd in instance.nodes]
    placements = tuple(
        (p.name, names[int(node_of[i])] if node_of[i] >= 0 else None) for i, p in enumerate(instance.pods)
    )
    gpu = tuple(
        (p.name, devices(int(devs_of[i])))
        for i, p in enumerate(instance.pods)
        if node_of[i] >= 0 and devs_of[i]
    )
    return Solution(placements, (), (), gpu)


def _online_fit(instance: Instance, policy: int, total_milli: int) -> dict[str, Any]:
    """``fgd`` / ``bfd``: the Numba packers of :mod:`.fit` in arrival order (FGD's own setting)."""
    data = FitData(instance)
    used, gfree = data.empty_state()
    node_of, devs_of, done = data.run(list(range(len(instance.pods))), used, gfree, policy, True)
    return _result(instance, done, gfree, total_milli, solution=_solution(instance, node_of, devs_of))


def _replan_fit(instance: Instance, budget: Budget, total_milli: int) -> dict[str, Any]:
    """``allotment``: online FGD; at a failure the batch so far plus the new pod is re-planned from
    an empty cluster in decreasing size (FGD, then best fit) and adopted if it places all of them."""
    data = FitData(instance)
    P = len(instance.pods)
    used, gfree = data.empty_state()
    node_of = np.full(P, -1, dtype=np.int64)
    devs_of = np.zeros(P, dtype=np.int64)
    i = replans = 0
    while i < P and not budget.should_stop():
        n1, d1, done = data.run(list(range(i, P)), used, gfree, FGD, True)
        node_of[i : i + done] = n1[i : i + done]
        devs_of[i : i + done] = d1[i : i + done]
        i += done
        if i >= P:
            break
        batch = decreasing(instance, list(range(i + 1)))
        adopted = False
        for policy in (FGD, BFD):
            u2, g2 = data.empty_state()
            n2, d2, _ = data.run(batch, u2, g2, policy, False)
            if (n2[: i + 1] >= 0).all():
                used, gfree = u2, g2
                node_of[: i + 1] = n2[: i + 1]
                devs_of[: i + 1] = d2[: i + 1]
                adopted = True
                break
        if not adopted:
            break
        replans += 1
        i += 1
    return _result(
        instance, i, gfree, total_milli, replans=replans, solution=_solution(instance, node_of, devs_of)
    )
