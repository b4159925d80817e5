"""Task allocation: the generalised assignment problem (GAP), its multi-resource form, and R||Cmax.

Model
-----
``m`` agents and ``n`` tasks. Every task goes to exactly one agent. Each *resource* gives every
(agent, task) pair a demand ``demands[i][j] >= 0`` and (optionally) every agent a capacity
``capacities[i] >= 0``; an agent's summed demand on every capacitated resource must not exceed its
capacity. Pairs listed in ``forbidden`` may not be used. Two objectives, both minimised:

``"cost"``      Σ_j costs[a(j)][j] -- the classical (minimisation) GAP; ``costs`` is required;
``"makespan"``  max_i Σ_{j: a(j)=i} demands[makespan_resource][i][j] -- unrelated parallel machines
                (R||Cmax) when no resource is capacitated, otherwise a capacitated variant.

Both objectives are integers (``INTEGRAL_OBJECTIVE``), so a fractional lower bound rounds up.

Representation
--------------
:class:`Instance` stores every matrix as tuples of tuples (hashable, so dataclass ``__eq__`` works and
``from_dict(to_dict(x)) == x``); solvers use the cached read-only numpy views :meth:`Instance.cost_array`,
:meth:`Instance.demand_array`, :meth:`Instance.capacity_array` and :meth:`Instance.allowed_array`.
Validation walks the whole document and reports every problem with its native-JSON path
(``resources[0].demands[2][7]: must be >= 0, got -1``, ``costs[3]: must have 15 elements, got 14``).

Public formats
--------------
:func:`read_orlib_gap` reads OR-Library / Chu-Beasley / Yagiura files (``m n``, cost matrix, resource
matrix, capacities; or the original multi-instance files that start with the instance count), and
:func:`read_best_known` the ``instance,lower_bound,best_known,status`` table of ``../shared/data/gap``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from models.common import Checker, Evaluation, FieldViolation, InstanceError, check_problem_tag, join

PROBLEM = "task_allocation"
INTEGRAL_OBJECTIVE = True
OBJECTIVES = ("cost", "makespan")

#: Stand-in capacity of an uncapacitated resource in the numpy views (far above any real load).
UNLIMITED = np.int64(2**62)

Matrix = tuple[tuple[int, ...], ...]

_INSTANCE_KEYS = (
    "problem",
    "name",
    "objective",
    "num_agents",
    "num_tasks",
    "costs",
    "resources",
    "makespan_resource",
    "forbidden",
    "agent_names",
    "task_names",
)
_RESOURCE_KEYS = ("name", "capacities", "demands")


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Resource:
    """One resource dimension: per-agent capacities (``None`` = unlimited) and an m x n demand matrix."""

    name: str
    capacities: tuple[int, ...] | None
    demands: Matrix

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "capacities": None if self.capacities is None else list(self.capacities),
            "demands": [list(row) for row in self.demands],
        }


@dataclass(frozen=True)
class Instance:
    """A validated task-allocation instance (see the module docstring for the semantics)."""

    PROBLEM = PROBLEM

    num_agents: int
    num_tasks: int
    resources: tuple[Resource, ...]
    costs: Matrix | None = None
    objective: str = "cost"
    makespan_resource: int = 0
    forbidden: tuple[tuple[int, int], ...] = ()
    agent_names: tuple[str, ...] | None = None
    task_names: tuple[str, ...] | None = None
    name: str = ""

    # -- numpy views (cached, read-only) ------------------------------------------------------------
    @cached_property
    def _cost_array(self) -> np.ndarray:
        if self.costs is None:
            return _readonly(np.zeros((self.num_agents, self.num_tasks), dtype=np.int64))
        return _readonly(np.asarray(self.costs, dtype=np.int64).reshape(self.num_agents, self.num_tasks))

    @cached_property
    def _demand_array(self) -> np.ndarray:
        a = np.asarray([r.demands for r in self.resources], dtype=np.int64)
        return _readonly(a.reshape(len(self.resources), self.num_agents, self.num_tasks))

    @cached_property
    def _capacity_array(self) -> np.ndarray:
        a = np.full((len(self.resources), self.num_agents), UNLIMITED, dtype=np.int64)
        for r, res in enumerate(self.resources):
            if res.capacities is not None:
                a[r] = res.capacities
        return _readonly(a)

    @cached_property
    def _allowed_array(self) -> np.ndarray:
        a = np.ones((self.num_agents, self.num_tasks), dtype=np.bool_)
        for i, j in self.forbidden:
            a[i, j] = False
        return _readonly(a)

    def cost_array(self) -> np.ndarray:
        """m x n int64 costs (zeros when the instance has no cost matrix)."""
        return self._cost_array

    def demand_array(self) -> np.ndarray:
        """R x m x n int64 demands."""
        return self._demand_array

    def capacity_array(self) -> np.ndarray:
        """R x m int64 capacities; an uncapacitated resource has :data:`UNLIMITED` everywhere."""
        return self._capacity_array

    def allowed_array(self) -> np.ndarray:
        """m x n bool: False exactly at the forbidden pairs."""
        return self._allowed_array

    def load_array(self) -> np.ndarray:
        """m x n loads whose per-agent sums the makespan objective takes the maximum of."""
        return self._demand_array[self.makespan_resource]

    @property
    def capacitated(self) -> tuple[int, ...]:
        """Indices of the resources that have capacities."""
        return tuple(r for r, res in enumerate(self.resources) if res.capacities is not None)

    # -- native JSON --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any) -> Instance:
        chk = Checker()
        d = chk.document(doc)
        check_problem_tag(chk, d, PROBLEM)
        chk.unknown_keys(d, _INSTANCE_KEYS, "")
        name = d.get("name", "")
        if name is None:
            name = ""
        if chk.string(name, "name") is None:
            name = ""
        objective = d.get("objective", "cost")
        if objective is None:
            objective = "cost"
        if chk.string(objective, "objective", choices=OBJECTIVES) is None:
            objective = None
        m = chk.field(d, "num_agents", "")
        m = None if m is None else chk.integer(m, "num_agents", minimum=1)
        n = chk.field(d, "num_tasks", "")
        n = None if n is None else chk.integer(n, "num_tasks", minimum=1)

        costs: Matrix | None = None
        raw_costs = d.get("costs")
        if raw_costs is not None:
            costs = _matrix(chk, raw_costs, "costs", m, n, minimum=None)
        elif objective == "cost":
            chk.add("costs", "is required when objective is 'cost'")

        resources: list[Resource] = []
        raw_res = chk.field(d, "resources", "")
        res_list = None if raw_res is None else chk.sequence(raw_res, "resources", min_len=1)
        for r, rdoc in enumerate(res_list or []):
            path = join("resources", r)
            rd = chk.mapping(rdoc, path)
            if rd is None:
                continue
            chk.unknown_keys(rd, _RESOURCE_KEYS, path)
            rname = rd.get("name", f"r{r}")
            if rname is None:
                rname = f"r{r}"
            if chk.string(rname, join(path, "name")) is None:
                rname = f"r{r}"
            caps: tuple[int, ...] | None = None
            if rd.get("capacities") is not None:
                caps = _vector(chk, rd["capacities"], join(path, "capacities"), m, minimum=0)
            raw_dem = chk.field(rd, "demands", path)
            dem = None if raw_dem is None else _matrix(chk, raw_dem, join(path, "demands"), m, n, minimum=0)
            if dem is not None:
                resources.append(Resource(rname, caps, dem))

        makespan_resource = d.get("makespan_resource", 0)
        if makespan_resource is None:
            makespan_resource = 0
        if res_list:
            makespan_resource = chk.integer(
                makespan_resource, "makespan_resource", minimum=0, maximum=len(res_list) - 1
            )
        else:
            makespan_resource = chk.integer(makespan_resource, "makespan_resource", minimum=0)

        forbidden: list[tuple[int, int]] = []
        raw_forb = d.get("forbidden")
        forb = None if raw_forb is None else chk.sequence(raw_forb, "forbidden")
        for k, pair in enumerate(forb or []):
            path = join("forbidden", k)
            p = chk.sequence(pair, path)
            if p is None:
                continue
            if len(p) != 2:
                chk.add(path, f"must be an [agent, task] pair, got {len(p)} element(s)")
                continue
            a = chk.integer(p[0], join(path, 0), minimum=0, maximum=None if m is None else m - 1)
            t = chk.integer(p[1], join(path, 1), minimum=0, maximum=None if n is None else n - 1)
            if a is not None and t is not None:
                forbidden.append((a, t))

        agent_names = _names(chk, d.get("agent_names"), "agent_names", m)
        task_names = _names(chk, d.get("task_names"), "task_names", n)
        chk.raise_if_any()
        assert m is not None and n is not None and objective is not None and makespan_resource is not None
        return cls(
            num_agents=m,
            num_tasks=n,
            resources=tuple(resources),
            costs=costs,
            objective=objective,
            makespan_resource=makespan_resource,
            forbidden=tuple(forbidden),
            agent_names=agent_names,
            task_names=task_names,
            name=name,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "problem": PROBLEM,
            "name": self.name,
            "objective": self.objective,
            "num_agents": self.num_agents,
            "num_tasks": self.num_tasks,
        }
        if self.costs is not None:
            out["costs"] = [list(row) for row in self.costs]
        out["resources"] = [r.to_dict() for r in self.resources]
        if self.makespan_resource:
            out["makespan_resource"] = self.makespan_resource
        if self.forbidden:
            out["forbidden"] = [list(p) for p in self.forbidden]
        if self.agent_names is not None:
            out["agent_names"] = list(self.agent_names)
        if self.task_names is not None:
            out["task_names"] = list(self.task_names)
        return out


def _vector(chk: Checker, value: Any, path: str, length: int | None, *, minimum: int | None) -> Any:
    seq = chk.sequence(value, path)
    if seq is None:
        return None
    ok = True
    if length is not None and len(seq) != length:
        chk.add(path, f"must have {length} elements, got {len(seq)}")
        ok = False
    out = []
    for k, v in enumerate(seq):
        x = chk.integer(v, join(path, k), minimum=minimum)
        if x is None:
            ok = False
        out.append(x)
    return tuple(out) if ok else None


def _matrix(
    chk: Checker, value: Any, path: str, rows: int | None, cols: int | None, *, minimum: int | None
) -> Matrix | None:
    seq = chk.sequence(value, path)
    if seq is None:
        return None
    ok = True
    if rows is not None and len(seq) != rows:
        chk.add(path, f"must have {rows} rows, got {len(seq)}")
        ok = False
    out = []
    for i, row in enumerate(seq):
        r = _vector(chk, row, join(path, i), cols, minimum=minimum)
        if r is None:
            ok = False
        out.append(r)
    return tuple(out) if ok else None


def _names(chk: Checker, value: Any, path: str, length: int | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    seq = chk.sequence(value, path)
    if seq is None:
        return None
    ok = True
    if length is not None and len(seq) != length:
        chk.add(path, f"must have {length} elements, got {len(seq)}")
        ok = False
    for k, v in enumerate(seq):
        if chk.string(v, join(path, k)) is None:
            ok = False
    return tuple(seq) if ok else None


@dataclass(frozen=True)
class Solution:
    """``assignment[j]`` is the (0-based) agent task ``j`` goes to."""

    assignment: tuple[int, ...]

    @classmethod
    def from_dict(cls, doc: Any) -> Solution:
        chk = Checker()
        d = chk.document(doc)
        chk.unknown_keys(d, ("assignment",), "")
        raw = chk.field(d, "assignment", "")
        seq = None if raw is None else chk.sequence(raw, "assignment")
        out = []
        for j, v in enumerate(seq or []):
            x = chk.integer(v, join("assignment", j), minimum=0)
            if x is not None:
                out.append(x)
        chk.raise_if_any()
        return cls(tuple(out))

    @classmethod
    def from_array(cls, assignment: Any) -> Solution:
        return cls(tuple(int(a) for a in assignment))

    def to_dict(self) -> dict[str, Any]:
        return {"assignment": list(self.assignment)}


def evaluate(instance: Instance, solution: Solution) -> Evaluation:
    """Recompute the objective and list every violated constraint (see the module docstring)."""
    m, n = instance.num_agents, instance.num_tasks
    a = solution.assignment
    violations: list[str] = []
    if len(a) != n:
        violations.append(f"assignment has {len(a)} entries, expected one per task ({n})")
    forbidden = set(instance.forbidden)
    valid: list[tuple[int, int]] = []  # (task, agent) pairs that can be counted
    for j, i in enumerate(a[:n]):
        if not 0 <= i < m:
            violations.append(f"task {j} is assigned to agent {i}, which does not exist (0..{m - 1})")
            continue
        if (i, j) in forbidden:
            violations.append(f"task {j} is assigned to agent {i}, a forbidden pair")
        valid.append((j, i))
    for r, res in enumerate(instance.resources):
        if res.capacities is None and not (
            instance.objective == "makespan" and r == instance.makespan_resource
        ):
            continue
        loads = [0] * m
        for j, i in valid:
            loads[i] += res.demands[i][j]
        if res.capacities is not None:
            for i in range(m):
                if loads[i] > res.capacities[i]:
                    violations.append(
                        f"agent {i} exceeds capacity on resource {r} ({res.name}): "
                        f"load {loads[i]} > capacity {res.capacities[i]}"
                    )
    if instance.objective == "cost":
        costs = instance.costs
        assert costs is not None
        objective = float(sum(costs[i][j] for j, i in valid))
        return Evaluation(objective, tuple(violations))
    dem = instance.resources[instance.makespan_resource].demands
    loads = [0] * m
    for j, i in valid:
        loads[i] += dem[i][j]
    return Evaluation(float(max(loads)), tuple(violations), {"total_load": float(sum(loads))})


# -- public formats ---------------------------------------------------------------------------------


class _Tokens:
    """Whitespace-separated integer tokens with their line numbers, for precise reader errors."""

    def __init__(self, text: str):
        self.items: list[tuple[str, int]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            for tok in line.split():
                self.items.append((tok, lineno))
        self.pos = 0

    def remaining(self) -> int:
        return len(self.items) - self.pos

    def take(self, what: str) -> int:
        if self.pos >= len(self.items):
            raise ValueError(f"unexpected end of input at token {self.pos} while reading {what}")
        tok, line = self.items[self.pos]
        try:
            v = int(tok)
        except ValueError:
            raise ValueError(
                f"token {self.pos} (line {line}): expected an integer for {what}, got {tok!r}"
            ) from None
        self.pos += 1
        return v

    def take_many(self, count: int, what: str) -> list[int]:
        if self.remaining() < count:
            raise ValueError(
                f"{what}: expected {count} integers from token {self.pos}, only {self.remaining()} left"
            )
        return [self.take(f"{what} (item {k})") for k in range(count)]


def _read_one(toks: _Tokens, name: str) -> Instance:
    start = toks.pos
    m = toks.take("number of agents m")
    n = toks.take("number of tasks n")
    if m < 1 or n < 1:
        raise ValueError(f"token {start}: m and n must be >= 1, got m={m}, n={n}")
    costs = toks.take_many(m * n, f"cost matrix ({m}x{n})")
    demands = toks.take_many(m * n, f"resource matrix ({m}x{n})")
    caps = toks.take_many(m, f"capacities ({m})")
    doc = {
        "problem": PROBLEM,
        "name": name,
        "objective": "cost",
        "num_agents": m,
        "num_tasks": n,
        "costs": [costs[i * n : (i + 1) * n] for i in range(m)],
        "resources": [
            {"name": "r0", "capacities": caps, "demands": [demands[i * n : (i + 1) * n] for i in range(m)]}
        ],
    }
    return Instance.from_dict(doc)


def read_orlib_gap(text: str, name: str = "") -> list[Instance]:
    """Read a GAP file: one instance (``m n`` costs demands capacities) or ``P`` then P instances.

    The multi-instance form is recognised by a first non-empty line holding a single integer. One
    instance is named ``name``; several are named ``f"{name}#{k}"`` with k from 1. Raises ValueError
    naming the token (and line) on malformed input, InstanceError on invalid values.
    """
    toks = _Tokens(text)
    if not toks.items:
        raise ValueError("empty GAP file")
    first_line = toks.items[0][1]
    first_line_count = sum(1 for _, ln in toks.items if ln == first_line)
    if first_line_count == 1:
        count = toks.take("number of instances P")
        if count < 1:
            raise ValueError(f"token 0: number of instances must be >= 1, got {count}")
        out = []
        for k in range(1, count + 1):
            try:
                out.append(_read_one(toks, f"{name}#{k}"))
            except InstanceError as exc:
                raise InstanceError(
                    [FieldViolation(f"instance {k}: {v.path}", v.message) for v in exc.violations]
                ) from None
            except ValueError as exc:
                raise ValueError(f"instance {k} of {count}: {exc}") from None
    else:
        out = [_read_one(toks, name)]
    if toks.remaining():
        tok, line = toks.items[toks.pos]
        raise ValueError(
            f"token {toks.pos} (line {line}): {toks.remaining()} unexpected trailing token(s) "
            f"starting with {tok!r}"
        )
    return out


def read_best_known(csv_text: str) -> dict[str, tuple[int, int, str]]:
    """``instance -> (lower_bound, best_known, status)`` from ``best-known.csv``."""
    reader = csv.DictReader(io.StringIO(csv_text))
    need = {"instance", "lower_bound", "best_known", "status"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise ValueError(f"best-known table needs columns {sorted(need)}, got {reader.fieldnames}")
    out: dict[str, tuple[int, int, str]] = {}
    for lineno, row in enumerate(reader, start=2):
        try:
            out[row["instance"]] = (int(row["lower_bound"]), int(row["best_known"]), row["status"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {lineno}: {exc}") from None
    return out
