"""Sequence-parallel assignment for LLM training (the FlexSP problem): instance, plan, checker, readers.

Problem
-------
A global batch of sequences (token lengths) is trained in one step on ``num_gpus`` GPUs. The step is a
series of *micro-batches*; each micro-batch partitions ALL GPUs into sequence-parallel (SP) groups of
allowed degrees (powers of two) and gives every group some sequences. Every sequence is processed
exactly once in the step. The objective (minimised, in modelled milliseconds) is the step time.

Cost model (FlexSP, ASPLOS'25; constants pinned in ``../shared/data/seqlen/flexsp-reference.json``)
-----------------------------------------------------------------------------------------------
For a group ``G`` of degree ``d`` (its number of GPUs) with token sum ``S``::

    time(G) = sum_{s in G} ( (alpha1*s^2 + alpha2*s)/d + comm_mb_per_token*s/(d*bw) ) + beta_ms

where ``bw`` is ``bandwidth_intra_node[d]`` when all the group's GPUs lie in one node
(``gpu // gpus_per_node``) and ``bandwidth_inter_node[d]`` when they span nodes. Degree 1 has no
communication. ``beta_ms`` is paid once per group, even by an empty one. A micro-batch takes the
time of its slowest group; the step time is the sum over micro-batches.

Memory: a group holds ``S/d`` tokens per GPU. The reference's rule is *token capacity* based:
``S/d <= floor((memory_mb - model_state_mb) / activation_mb_per_token)`` (30 GB and GPT-7B give
``int(6407.87) = 6407`` tokens per GPU). This is what :func:`evaluate` checks; it is at most one token
per GPU stricter than ``model_state_mb + activation_mb_per_token*S/d <= memory_mb`` and coincides
with it whenever ``S/d`` is an integer (always the case for lengths padded to a multiple of 128).

Placement
---------
A plan names each group's GPUs explicitly. :func:`evaluate` does NOT require groups to be contiguous
or aligned rank ranges: any set of distinct GPUs whose size is an allowed degree is accepted, and the
bandwidth follows from whether the set lies in one node. Every solver in ``solvers.seq_parallel``
nevertheless emits contiguous, aligned ranges with larger degrees first (``[0..31], [32..47], ...``),
which a training framework can consume directly.

Presets
-------
``PRESETS["gpt-7b"]`` holds the reference's GPT-7B constants (ZeRO-3 on 64 GPUs, ``seq_limit_k=384``).
``gpt-13b`` and ``gpt-30b`` come from the same published FlexSP solver (Hetu-Galvatron,
``galvatron/flexsp_solver/solver.py``, ``optimizer_param_dict``; the copy read is the AFDWang fork at
commit caf67662, whose gpt-7b entry matches the reference bit for bit): ``act_per_token``,
``cpt_alpha1/2``, ``cpt_beta1``, hidden size and layers (13B: 5120 x 40, 30B: 6656 x 60) and
``param_size_B[384]`` (13B: 14.03158187866211, 30B: 32.71532440185547). Derived exactly as for 7B:
``comm_mb_per_token = 4*2*L*H*2/2^20`` (3.125, 6.09375) and ``model_state_mb = param_size_B*16/64*1024``
(ZeRO-3 on 64 GPUs: 3592.0849609375, 8375.123046875). The all-to-all bandwidth table is the solver's
single hard-coded one ("4k seq, 2 IB"), shared by all three models. Like 7B, these state sizes hold for
64 GPUs and the 384K sequence limit only; another cluster size needs its own ``model_state_mb``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.common import Checker, Evaluation, FieldViolation, InstanceError, check_problem_tag, join

PROBLEM = "seq_parallel"
INTEGRAL_OBJECTIVE = False

_COST_KEYS = (
    "name",
    "alpha1",
    "alpha2",
    "beta_ms",
    "comm_mb_per_token",
    "bandwidth_intra_node",
    "bandwidth_inter_node",
    "model_state_mb",
    "activation_mb_per_token",
)

#: Cost-model presets (see "Presets" above). gpt-7b from flexsp-reference.json (64 GPUs, ZeRO-3, 384K):
#: model_state_mb = 7.8498687744140625 B params * 16 bytes / 64 * 1024 = 2009.56640625 MB;
#: comm volume 4*2*L*H*2/2^20 MB per token = 2.0 for L=32, H=4096.
#: FlexSP's all-to-all bandwidth table (MB/ms by degree) of its 64-GPU cluster, shared by every preset.
_FLEXSP_64GPU_BANDWIDTH: dict[str, dict[str, float]] = {
    "bandwidth_intra_node": {"2": 119.54, "4": 104.07, "8": 96.5},
    "bandwidth_inter_node": {"16": 10.33, "32": 5.94, "64": 4.87},
}

PRESETS: dict[str, dict[str, Any]] = {
    "gpt-7b": {
        "name": "gpt-7b",
        "alpha1": 5.128e-06,
        "alpha2": 0.1839576,
        "beta_ms": 629.3563,
        "comm_mb_per_token": 2.0,
        **_FLEXSP_64GPU_BANDWIDTH,
        "model_state_mb": 2009.56640625,
        "activation_mb_per_token": 4.480441895,
    },
    "gpt-13b": {
        "name": "gpt-13b",
        "alpha1": 9.2852e-06,
        "alpha2": 0.3060189,
        "beta_ms": 1132.5632,
        "comm_mb_per_token": 3.125,
        **_FLEXSP_64GPU_BANDWIDTH,
        "model_state_mb": 3592.0849609375,
        "activation_mb_per_token": 4.220439453,
    },
    "gpt-30b": {
        "name": "gpt-30b",
        "alpha1": 1.54262e-05,
        "alpha2": 0.8035742,
        "beta_ms": 2789.3644,
        "comm_mb_per_token": 6.09375,
        **_FLEXSP_64GPU_BANDWIDTH,
        "model_state_mb": 8375.123046875,
        "activation_mb_per_token": 3.417381836,
    },
}


def _is_pow2(x: int) -> bool:
    return x >= 1 and (x & (x - 1)) == 0


@dataclass(frozen=True)
class CostModel:
    """Per-model constants of the FlexSP cost model (see the module docstring for the formulas)."""

    name: str
    alpha1: float
    alpha2: float
    beta_ms: float
    comm_mb_per_token: float
    #: (degree, MB/ms) pairs sorted by degree
    bandwidth_intra_node: tuple[tuple[int, float], ...]
    bandwidth_inter_node: tuple[tuple[int, float], ...]
    model_state_mb: float
    activation_mb_per_token: float

    def intra(self, d: int) -> float | None:
        return dict(self.bandwidth_intra_node).get(d)

    def inter(self, d: int) -> float | None:
        return dict(self.bandwidth_inter_node).get(d)

    def compute_ms(self, s: float, d: int) -> float:
        return (self.alpha1 * s * s + self.alpha2 * s) / d

    def seq_time(self, s: float, d: int, bw: float | None) -> float:
        """Time one sequence adds to a group of degree ``d`` whose all-to-all bandwidth is ``bw``."""
        t = (self.alpha1 * s * s + self.alpha2 * s) / d
        if d > 1 and bw is not None:
            t += self.comm_mb_per_token * s / (d * bw)
        return t

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alpha1": self.alpha1,
            "alpha2": self.alpha2,
            "beta_ms": self.beta_ms,
            "comm_mb_per_token": self.comm_mb_per_token,
            "bandwidth_intra_node": {str(d): b for d, b in self.bandwidth_intra_node},
            "bandwidth_inter_node": {str(d): b for d, b in self.bandwidth_inter_node},
            "model_state_mb": self.model_state_mb,
            "activation_mb_per_token": self.activation_mb_per_token,
        }

    @classmethod
    def parse(cls, chk: Checker, value: Any, path: str) -> CostModel | None:
        """A preset name or an object with every constant; violations go to ``chk``."""
        if isinstance(value, str):
            if value not in PRESETS:
                chk.add(path, f"unknown preset {value!r}; known: {', '.join(sorted(PRESETS))}")
                return None
            value = PRESETS[value]
        doc = chk.mapping(value, path)
        if doc is None:
            return None
        chk.unknown_keys(doc, _COST_KEYS, path)
        name = chk.field(doc, "name", path, required=False)
        name_s = "" if name is None else chk.string(name, join(path, "name"))
        nums: dict[str, float | None] = {}
        for key, positive in (
            ("alpha1", False),
            ("alpha2", False),
            ("beta_ms", False),
            ("comm_mb_per_token", False),
            ("model_state_mb", False),
            ("activation_mb_per_token", True),
        ):
            raw = chk.field(doc, key, path)
            if raw is None:
                nums[key] = None
            elif positive:
                nums[key] = chk.number(raw, join(path, key), exclusive_minimum=0.0)
            else:
                nums[key] = chk.number(raw, join(path, key), minimum=0.0)
        tables: dict[str, tuple[tuple[int, float], ...] | None] = {}
        for key in ("bandwidth_intra_node", "bandwidth_inter_node"):
            raw = chk.field(doc, key, path, required=False)
            tpath = join(path, key)
            if raw is None:
                tables[key] = ()
                continue
            tab = chk.mapping(raw, tpath)
            if tab is None:
                tables[key] = None
                continue
            pairs: list[tuple[int, float]] = []
            ok = True
            for k, v in tab.items():
                kpath = f"{tpath}.{k}"
                try:
                    d = int(str(k))
                except ValueError:
                    d = -1
                if str(d) != str(k) or not _is_pow2(d) or d < 2:
                    chk.add(kpath, f"key must be a power-of-two degree >= 2 written as an integer, got {k!r}")
                    ok = False
                    continue
                bw = chk.number(v, kpath, exclusive_minimum=0.0)
                if bw is None:
                    ok = False
                    continue
                pairs.append((d, bw))
            tables[key] = tuple(sorted(pairs)) if ok else None
        if name_s is None or any(v is None for v in nums.values()) or any(v is None for v in tables.values()):
            return None
        return cls(
            name=name_s,
            alpha1=nums["alpha1"],  # type: ignore[arg-type]
            alpha2=nums["alpha2"],  # type: ignore[arg-type]
            beta_ms=nums["beta_ms"],  # type: ignore[arg-type]
            comm_mb_per_token=nums["comm_mb_per_token"],  # type: ignore[arg-type]
            bandwidth_intra_node=tables["bandwidth_intra_node"],  # type: ignore[arg-type]
            bandwidth_inter_node=tables["bandwidth_inter_node"],  # type: ignore[arg-type]
            model_state_mb=nums["model_state_mb"],  # type: ignore[arg-type]
            activation_mb_per_token=nums["activation_mb_per_token"],  # type: ignore[arg-type]
        )


def preset(name: str) -> CostModel:
    """The named preset as a :class:`CostModel` (``KeyError`` for an unknown name)."""
    chk = Checker()
    cm = CostModel.parse(chk, name, "cost_model")
    if cm is None:
        raise KeyError(name)
    return cm


_INSTANCE_KEYS = ("problem", "name", "sequences", "cluster", "degrees", "cost_model", "max_microbatches")
_CLUSTER_KEYS = ("num_gpus", "gpus_per_node", "memory_mb")


@dataclass(frozen=True)
class Instance:
    """One global batch on one cluster. ``degrees`` is always stored resolved (sorted, ascending)."""

    PROBLEM = PROBLEM

    sequences: tuple[int, ...]
    num_gpus: int
    gpus_per_node: int
    memory_mb: float
    degrees: tuple[int, ...]
    cost_model: CostModel
    max_microbatches: int | None = None
    name: str = ""

    # -- derived quantities ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.sequences)

    @property
    def token_capacity(self) -> int:
        """Tokens one GPU can hold: floor((memory - model states) / activation per token); may be < 0."""
        cm = self.cost_model
        return math.floor((self.memory_mb - cm.model_state_mb) / cm.activation_mb_per_token)

    def bandwidth(self, d: int, spans_nodes: bool) -> float | None:
        """All-to-all bandwidth of a degree-``d`` group (None: such a group is not allowed)."""
        if d == 1:
            return math.inf
        return self.cost_model.inter(d) if spans_nodes else self.cost_model.intra(d)

    def group_time(self, lengths: list[int] | tuple[int, ...], d: int, spans_nodes: bool) -> float:
        bw = self.bandwidth(d, spans_nodes)
        cm = self.cost_model
        t = cm.beta_ms
        for s in lengths:
            t += cm.seq_time(s, d, bw if bw is not None and math.isfinite(bw) else None)
        return t

    # -- native JSON ----------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any) -> Instance:
        chk = Checker()
        d = chk.document(doc)
        check_problem_tag(chk, d, PROBLEM)
        chk.unknown_keys(d, _INSTANCE_KEYS, "")
        name = chk.field(d, "name", "", required=False)
        name_s = "" if name is None else chk.string(name, "name")

        seqs: list[int] | None = None
        raw = chk.field(d, "sequences", "")
        if raw is not None:
            lst = chk.sequence(raw, "sequences", min_len=1)
            if lst is not None:
                vals = [chk.integer(v, f"sequences[{i}]", minimum=1) for i, v in enumerate(lst)]
                seqs = None if any(v is None for v in vals) else [int(v) for v in vals]  # type: ignore[arg-type]

        num_gpus = gpn = None
        mem: float | None = None
        raw = chk.field(d, "cluster", "")
        if raw is not None:
            cl = chk.mapping(raw, "cluster")
            if cl is not None:
                chk.unknown_keys(cl, _CLUSTER_KEYS, "cluster")
                v = chk.field(cl, "num_gpus", "cluster")
                num_gpus = None if v is None else chk.integer(v, "cluster.num_gpus", minimum=1)
                v = chk.field(cl, "gpus_per_node", "cluster")
                gpn = None if v is None else chk.integer(v, "cluster.gpus_per_node", minimum=1)
                v = chk.field(cl, "memory_mb", "cluster")
                mem = None if v is None else chk.number(v, "cluster.memory_mb", exclusive_minimum=0.0)

        raw = chk.field(d, "cost_model", "")
        cm = None if raw is None else CostModel.parse(chk, raw, "cost_model")

        degrees: tuple[int, ...] | None = None
        raw = chk.field(d, "degrees", "", required=False)
        if raw is None:
            if num_gpus is not None:
                degrees = tuple(1 << k for k in range(num_gpus.bit_length()) if (1 << k) <= num_gpus)
        else:
            lst = chk.sequence(raw, "degrees", min_len=1)
            if lst is not None:
                out: list[int] = []
                ok = True
                for i, v in enumerate(lst):
                    p = f"degrees[{i}]"
                    x = chk.integer(v, p, minimum=1)
                    if x is None:
                        ok = False
                    elif not _is_pow2(x):
                        chk.add(p, f"must be a power of two, got {x}")
                        ok = False
                    elif num_gpus is not None and x > num_gpus:
                        chk.add(p, f"must be <= cluster.num_gpus ({num_gpus}), got {x}")
                        ok = False
                    elif x in out:
                        chk.add(p, f"duplicate degree {x}")
                        ok = False
                    else:
                        out.append(x)
                degrees = tuple(sorted(out)) if ok else None

        mmb: int | None = None
        raw = chk.field(d, "max_microbatches", "", required=False)
        if raw is not None:
            mmb = chk.integer(raw, "max_microbatches", minimum=1)

        if cm is not None and mem is not None and mem - cm.model_state_mb < cm.activation_mb_per_token:
            chk.add(
                "cluster.memory_mb",
                f"{mem} MB leaves no room for one token after cost_model.model_state_mb "
                f"({cm.model_state_mb} MB)",
            )
        chk.raise_if_any()
        assert seqs is not None and num_gpus is not None and gpn is not None and mem is not None
        assert cm is not None and degrees is not None and name_s is not None
        return cls(
            sequences=tuple(seqs),
            num_gpus=num_gpus,
            gpus_per_node=gpn,
            memory_mb=mem,
            degrees=degrees,
            cost_model=cm,
            max_microbatches=mmb,
            name=name_s,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": PROBLEM,
            "name": self.name,
            "sequences": list(self.sequences),
            "cluster": {
                "num_gpus": self.num_gpus,
                "gpus_per_node": self.gpus_per_node,
                "memory_mb": self.memory_mb,
            },
            "degrees": list(self.degrees),
            "cost_model": self.cost_model.to_dict(),
            "max_microbatches": self.max_microbatches,
        }


# -- solution ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    gpus: tuple[int, ...]
    sequences: tuple[int, ...]

    @property
    def degree(self) -> int:
        return len(self.gpus)


@dataclass(frozen=True)
class MicroBatch:
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Solution:
    """``microbatches[i].groups[j]`` = a set of GPU ranks and the sequence indices it trains (0-based)."""

    microbatches: tuple[MicroBatch, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, doc: Any) -> Solution:
        chk = Checker()
        d = chk.document(doc)
        chk.unknown_keys(d, ("microbatches",), "")
        mbs: list[MicroBatch] = []
        raw = chk.field(d, "microbatches", "")
        lst = None if raw is None else chk.sequence(raw, "microbatches")
        for i, mb in enumerate(lst or []):
            p = f"microbatches[{i}]"
            m = chk.mapping(mb, p)
            if m is None:
                continue
            chk.unknown_keys(m, ("groups",), p)
            graw = chk.field(m, "groups", p)
            glst = None if graw is None else chk.sequence(graw, join(p, "groups"))
            groups: list[Group] = []
            for j, g in enumerate(glst or []):
                gp = f"{p}.groups[{j}]"
                gm = chk.mapping(g, gp)
                if gm is None:
                    continue
                chk.unknown_keys(gm, ("gpus", "sequences"), gp)
                ints: dict[str, tuple[int, ...]] = {}
                for key in ("gpus", "sequences"):
                    v = chk.field(gm, key, gp)
                    vl = None if v is None else chk.sequence(v, join(gp, key))
                    vals = [chk.integer(x, f"{gp}.{key}[{k}]", minimum=0) for k, x in enumerate(vl or [])]
                    ints[key] = tuple(int(x) for x in vals if x is not None)
                groups.append(Group(ints.get("gpus", ()), ints.get("sequences", ())))
            mbs.append(MicroBatch(tuple(groups)))
        chk.raise_if_any()
        return cls(tuple(mbs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "microbatches": [
                {"groups": [{"gpus": list(g.gpus), "sequences": list(g.sequences)} for g in mb.groups]}
                for mb in self.microbatches
            ]
        }


def evaluate(instance: Instance, solution: Solution) -> Evaluation:
    """Recompute the step time of ``solution`` and list every violated constraint."""
    inst = instance
    viol: list[str] = []
    n, N, gpn = inst.n, inst.num_gpus, inst.gpus_per_node
    cap = inst.token_capacity
    allowed = set(inst.degrees)
    if not solution.microbatches:
        viol.append("the plan has no micro-batch (at least one is needed)")
    if inst.max_microbatches is not None and len(solution.microbatches) > inst.max_microbatches:
        viol.append(
            f"{len(solution.microbatches)} micro-batches exceed max_microbatches = {inst.max_microbatches}"
        )
    seen: dict[int, str] = {}
    total = 0.0
    mb_times: list[float] = []
    for i, mb in enumerate(solution.microbatches):
        used: dict[int, int] = {}
        mb_time = 0.0
        for j, g in enumerate(mb.groups):
            where = f"micro-batch {i} group {j}"
            for r in g.gpus:
                if not 0 <= r < N:
                    viol.append(f"{where}: GPU {r} out of range 0..{N - 1}")
                elif r in used:
                    viol.append(f"micro-batch {i}: GPU {r} is in both group {used[r]} and group {j}")
                else:
                    used[r] = j
            d = len(g.gpus)
            lengths: list[int] = []
            for s in g.sequences:
                if not 0 <= s < n:
                    viol.append(f"{where}: sequence {s} out of range 0..{n - 1}")
                    continue
                if s in seen:
                    viol.append(f"sequence {s} is assigned twice ({seen[s]} and {where})")
                else:
                    seen[s] = where
                lengths.append(inst.sequences[s])
            if d not in allowed:
                viol.append(f"{where}: degree {d} is not allowed (allowed: {sorted(allowed)})")
            nodes = {r // gpn for r in g.gpus if 0 <= r < N}
            spans = len(nodes) > 1
            if d > 1 and d in allowed and inst.bandwidth(d, spans) is None:
                kind = "spans nodes" if spans else "lies in one node"
                table = "bandwidth_inter_node" if spans else "bandwidth_intra_node"
                viol.append(f"{where}: degree {d} {kind} but cost_model.{table} has no entry for {d}")
            tokens = sum(lengths)
            if d > 0 and tokens > cap * d:
                viol.append(
                    f"{where}: memory exceeded: {tokens} tokens on {d} GPU(s) = {tokens / d:g} tokens/GPU "
                    f"> limit {cap} tokens/GPU"
                )
            gt = inst.group_time(lengths, max(d, 1), spans)
            mb_time = max(mb_time, gt)
        missing = [r for r in range(N) if r not in used]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            viol.append(f"micro-batch {i}: {len(missing)} GPU(s) in no group: {shown}")
        mb_times.append(mb_time)
        total += mb_time
    absent = [s for s in range(n) if s not in seen]
    if absent:
        shown = ", ".join(map(str, absent[:10])) + (" ..." if len(absent) > 10 else "")
        viol.append(f"{len(absent)} sequence(s) in no micro-batch: {shown}")
    terms = {"microbatches": float(len(solution.microbatches))}
    return Evaluation(objective=total, violations=tuple(viol), terms=terms)


# -- readers ----------------------------------------------------------------------------------------------
def read_token_lengths(
    text: str,
    *,
    batch_size: int,
    batches: list[int] | None,
    pad_to: int = 1,
    max_length: int | None = None,
    cluster: Mapping[str, Any],
    cost_model: Mapping[str, Any] | str,
    name: str = "",
    degrees: list[int] | None = None,
    max_microbatches: int | None = None,
) -> list[Instance]:
    """Global batches from a token-length file (one integer per line, as FlexSP's ``wikipedia.txt``).

    Each length is padded up to a multiple of ``pad_to``; a padded length above ``max_length`` is
    dropped (FlexSP: pad_to=128, max_length=384000-128=383872). The kept lengths form consecutive global
    batches of ``batch_size`` in file order (an incomplete tail is not a batch); ``batches`` selects
    0-based batch indices (None: all). Blank lines are skipped (they still count for line numbers);
    anything else that is not a positive integer is a ``ValueError`` naming the line.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pad_to < 1:
        raise ValueError(f"pad_to must be >= 1, got {pad_to}")
    kept: list[int] = []
    bad: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tok = line.strip()
        if not tok:
            continue
        try:
            v = int(tok)
        except ValueError:
            bad.append(f"line {lineno}: expected one integer token length, got {tok[:40]!r}")
            continue
        if v < 1:
            bad.append(f"line {lineno}: token length must be >= 1, got {v}")
            continue
        padded = -(-v // pad_to) * pad_to
        if max_length is not None and padded > max_length:
            continue
        kept.append(padded)
    if bad:
        raise InstanceError([FieldViolation("", m) for m in bad])
    available = len(kept) // batch_size
    wanted = list(range(available)) if batches is None else list(batches)
    out_of_range = [b for b in wanted if not 0 <= b < available]
    if out_of_range:
        raise ValueError(
            f"batch index(es) {out_of_range} out of range: the file gives {available} full batch(es) "
            f"of {batch_size} sequences"
        )
    insts = []
    for b in wanted:
        doc: dict[str, Any] = {
            "problem": PROBLEM,
            "name": f"{name}-b{b}" if name else f"batch{b}",
            "sequences": kept[b * batch_size : (b + 1) * batch_size],
            "cluster": dict(cluster),
            "cost_model": cost_model if isinstance(cost_model, str) else dict(cost_model),
            "max_microbatches": max_microbatches,
        }
        if degrees is not None:
            doc["degrees"] = list(degrees)
        insts.append(Instance.from_dict(doc))
    return insts
