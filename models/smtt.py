"""Single-machine total weighted tardiness, 1||ΣwjTj (``PROBLEM = "smtt"``).

Model
-----
``n`` jobs with integer processing times ``p_j >= 0``, due dates ``d_j >= 0`` and weights ``w_j >= 0``
(all 1 when the document gives none) run back to back from time 0 in the order of a
:class:`Solution`'s ``sequence``. The completion time ``C_j`` of a job is the sum of the processing
times up to and including it, its tardiness ``T_j = max(0, C_j - d_j)``, and the objective
``Σ w_j T_j`` is minimised. Idle time never helps (every ``T_j`` is non-decreasing in ``C_j``), so a
permutation is a complete decision.

Native JSON::

    {"problem": "smtt", "name": "wt40#1", "processing_times": [26, 24], "due_dates": [79, 46],
     "weights": [1, 10]}

``weights`` is optional. ``to_dict`` writes it back when the document had it or any weight differs
from 1, so ``Instance.from_dict(x.to_dict()) == x``; whether weights were given explicitly does not take
part in equality (two instances with the same data are equal).

Value ranges: ``p_j, d_j <= 10**9`` and ``w_j <= 10**6`` so that solvers can work in int64 (and CP-SAT
in its int64 domain) without overflow for any realistic ``n``.

Public formats
--------------
:func:`read_orlib_wt` reads OR-Library ``wt40/50/100.txt`` (Beasley): a stream of integers, per
instance ``n`` processing times, ``n`` weights, ``n`` due dates. :func:`read_orlib_optima` reads the
optimum / best-known files, and :func:`jobs_from_filename` gets ``n`` from a name like ``wt40.txt``.

:func:`evaluate` recomputes the objective with Python integers (exact, no overflow) and imports no
solver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from models.common import Checker, Evaluation, FieldViolation, InstanceError, check_problem_tag, join

PROBLEM = "smtt"
INTEGRAL_OBJECTIVE = True

MAX_TIME = 10**9
MAX_WEIGHT = 10**6

_INSTANCE_KEYS = ("problem", "name", "processing_times", "due_dates", "weights")
_SOLUTION_KEYS = ("sequence",)


def _int_list(
    chk: Checker,
    doc: Mapping[str, Any],
    key: str,
    *,
    required: bool,
    maximum: int | None,
    minimum: int | None = 0,
    min_len: int = 0,
) -> list[int] | None:
    """Read a list of non-negative integers, reporting every bad element by its index."""
    raw = chk.field(doc, key, "", required=required)
    if raw is None:
        return None
    seq = chk.sequence(raw, key, min_len=min_len)
    if seq is None:
        return None
    out: list[int] = []
    ok = True
    for i, v in enumerate(seq):
        x = chk.integer(v, join(key, i), minimum=minimum, maximum=maximum)
        if x is None:
            ok = False
        else:
            out.append(x)
    return out if ok else None


def _np(values: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Instance:
    """A validated SMTT instance; the numpy views :attr:`p`, :attr:`d`, :attr:`w` are read-only int64."""

    PROBLEM = PROBLEM

    processing_times: tuple[int, ...]
    due_dates: tuple[int, ...]
    weights: tuple[int, ...]
    name: str = ""
    #: whether the source document listed weights (only affects ``to_dict``, not equality)
    explicit_weights: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        # Direct construction is validated too (the same rules as from_dict).
        doc: dict[str, Any] = {
            "processing_times": list(self.processing_times),
            "due_dates": list(self.due_dates),
            "weights": list(self.weights),
        }
        _validate(doc)

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any) -> Instance:
        p, d, w, name, explicit = _validate(doc)
        return cls(tuple(p), tuple(d), tuple(w), name, explicit)

    @classmethod
    def from_arrays(
        cls,
        processing_times: Sequence[int],
        due_dates: Sequence[int],
        weights: Sequence[int] | None = None,
        name: str = "",
    ) -> Instance:
        doc: dict[str, Any] = {
            "processing_times": [int(x) for x in processing_times],
            "due_dates": [int(x) for x in due_dates],
            "name": name,
        }
        if weights is not None:
            doc["weights"] = [int(x) for x in weights]
        return cls.from_dict(doc)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"problem": PROBLEM, "name": self.name}
        out["processing_times"] = list(self.processing_times)
        out["due_dates"] = list(self.due_dates)
        if self.explicit_weights or any(x != 1 for x in self.weights):
            out["weights"] = list(self.weights)
        return out

    # -- views ------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.processing_times)

    @property
    def weighted(self) -> bool:
        return any(x != 1 for x in self.weights)

    @cached_property
    def p(self) -> np.ndarray:
        return _np(self.processing_times)

    @cached_property
    def d(self) -> np.ndarray:
        return _np(self.due_dates)

    @cached_property
    def w(self) -> np.ndarray:
        return _np(self.weights)

    @property
    def total_processing_time(self) -> int:
        return sum(self.processing_times)


def _validate(doc: Any) -> tuple[list[int], list[int], list[int], str, bool]:
    chk = Checker()
    m = chk.document(doc)
    check_problem_tag(chk, m, PROBLEM)
    chk.unknown_keys(m, _INSTANCE_KEYS, "")
    name = ""
    if m.get("name") is not None:
        name = chk.string(m["name"], "name") or ""
    p = _int_list(chk, m, "processing_times", required=True, maximum=MAX_TIME, min_len=1)
    d = _int_list(chk, m, "due_dates", required=True, maximum=MAX_TIME)
    explicit = m.get("weights") is not None
    w = _int_list(chk, m, "weights", required=False, maximum=MAX_WEIGHT)
    # Lengths are compared on the raw lists so a mismatch is reported even when elements are bad too.
    n = len(m["processing_times"]) if isinstance(m.get("processing_times"), list | tuple) else None
    if n is not None and n >= 1:
        for key in ("due_dates", "weights"):
            raw = m.get(key)
            if isinstance(raw, list | tuple) and len(raw) != n:
                chk.add(
                    key,
                    f"has {len(raw)} element(s) but processing_times has {n}: "
                    f"one {key[:-1].replace('_', ' ')} per job is required",
                )
    chk.raise_if_any()
    assert p is not None and d is not None
    return p, d, (w if w is not None else [1] * len(p)), name, explicit


@dataclass(frozen=True)
class Solution:
    """A processing order: 0-based job indices, first job first."""

    sequence: tuple[int, ...]

    @classmethod
    def from_dict(cls, doc: Any) -> Solution:
        chk = Checker()
        m = chk.document(doc)
        chk.unknown_keys(m, _SOLUTION_KEYS, "")
        # Any integer is accepted here; evaluate() reports out-of-range entries as violations.
        seq = _int_list(chk, m, "sequence", required=True, maximum=None, minimum=None)
        chk.raise_if_any()
        assert seq is not None
        return cls(tuple(seq))

    @classmethod
    def of(cls, sequence: Sequence[int] | np.ndarray) -> Solution:
        return cls(tuple(int(x) for x in sequence))

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": list(self.sequence)}


def completion_times(instance: Instance, sequence: Sequence[int]) -> list[int]:
    """Completion time of each position of a (valid) sequence, exact Python integers."""
    out: list[int] = []
    t = 0
    for j in sequence:
        t += instance.processing_times[j]
        out.append(t)
    return out


def evaluate(instance: Instance, solution: Solution) -> Evaluation:
    """Objective Σ w_j max(0, C_j - d_j) and every defect of the sequence.

    Violations: wrong length, indices out of range, duplicated jobs, missing jobs (each listed). The
    objective of an invalid sequence is computed over its in-range first occurrences only (it is
    informative, never trusted: the solution is infeasible).
    """
    n = instance.n
    seq = solution.sequence
    violations: list[str] = []
    if len(seq) != n:
        violations.append(f"sequence has {len(seq)} entries, expected {n} (one per job)")
    seen: dict[int, int] = {}
    order: list[int] = []
    for pos, j in enumerate(seq):
        if not 0 <= j < n:
            violations.append(f"sequence[{pos}] = {j} is not a job index (0..{n - 1})")
            continue
        if j in seen:
            violations.append(f"sequence[{pos}]: job {j} is repeated (first at sequence[{seen[j]}])")
            continue
        seen[j] = pos
        order.append(j)
    missing = [j for j in range(n) if j not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        violations.append(f"{len(missing)} job(s) missing from the sequence: {shown}")
    total = 0
    late = 0
    t = 0
    for j in order:
        t += instance.processing_times[j]
        tard = t - instance.due_dates[j]
        if tard > 0:
            total += instance.weights[j] * tard
            late += 1
    return Evaluation(float(total), tuple(violations), {"late_jobs": float(late)})


# -- public formats ------------------------------------------------------------------------------


def _tokens_to_ints(text: str) -> list[int]:
    out: list[int] = []
    for k, tok in enumerate(text.split()):
        try:
            out.append(int(tok))
        except ValueError:
            raise ValueError(f"token {k} (0-based) is {tok[:30]!r}, not an integer") from None
    return out


def read_orlib_wt(text: str, n: int, name: str = "") -> list[Instance]:
    """Read an OR-Library weighted tardiness file (``wt40.txt``...): per instance ``n`` processing
    times, ``n`` weights, ``n`` due dates, concatenated. Instances are named ``f"{name}#{k}"``, k from 1.

    Raises ``ValueError`` naming the bad token, or when the token count is not a multiple of ``3n``;
    :class:`InstanceError` (with the instance number in each path) when values are out of range.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    values = _tokens_to_ints(text)
    if not values:
        raise ValueError("no instances in the file (it is empty)")
    if len(values) % (3 * n):
        raise ValueError(
            f"{len(values)} integers is not a multiple of 3*n = {3 * n} "
            f"({len(values) // (3 * n)} complete instance(s) and {len(values) % (3 * n)} left over)"
        )
    out: list[Instance] = []
    for k in range(len(values) // (3 * n)):
        base = 3 * n * k
        doc = {
            "name": f"{name}#{k + 1}",
            "processing_times": values[base : base + n],
            "weights": values[base + n : base + 2 * n],
            "due_dates": values[base + 2 * n : base + 3 * n],
        }
        try:
            out.append(Instance.from_dict(doc))
        except InstanceError as exc:
            raise InstanceError(
                FieldViolation(f"instance {k + 1}: {v.path}", v.message) for v in exc.violations
            ) from None
    return out


def read_orlib_optima(text: str) -> list[int]:
    """Read ``wtopt40.txt`` / ``wtopt50.txt`` / ``wtbest100b.txt``: one value per instance, in order."""
    return _tokens_to_ints(text)


def jobs_from_filename(path: str | os.PathLike[str]) -> int | None:
    """The job count in an OR-Library file name: ``"wt40.txt"`` -> 40; ``None`` if the name has none."""
    base = os.path.basename(os.fspath(path))
    m = re.match(r"wt(\d+)(?!\d)", base)
    return int(m.group(1)) if m else None
