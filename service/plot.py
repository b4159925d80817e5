"""Pictures of a result: ``allot plot INSTANCE RESULT [-o OUT.png] [--index K]``.

Design
------
The CLI maps files to calls; this module does the rest in three steps, each of which can refuse with
a message that names what is wrong (never a traceback):

1. **Match.** :func:`read_results` reads RESULT, the JSONL output of ``allot solve --output jsonl``
   (one object per line). :func:`pick_entry` picks the instance of INSTANCE (the entries of
   :func:`service.formats.read_file`, the reader ``allot solve`` uses, so every format and the
   ``FILE#k`` names of multi-instance files work the same): the only one, or the K-th with
   ``--index K``. :func:`find_result` then takes the result line whose ``instance`` is that name; when
   none is (the instance was solved from another directory, so the path differs) the one line whose
   last path component (``wt40.txt#3``) is the same. Several lines with the name: the last one counts
   (JSONL files are appended to).
2. **Check.** :func:`checked_solution` accepts only a result of the instance's family that carries a
   solution which parses, passes the family's independent checker (``models.<family>.evaluate``) and
   whose recomputed objective is the result's ``objective`` (a result of another instance under the
   same name is caught here). The figures draw only what the checker accepted.
3. **Draw.** One function per family, ``(instance, solution, result dict) -> Figure``:
   :func:`plot_smtt`, :func:`plot_task_allocation`, :func:`plot_pod_packing`, :func:`plot_seq_parallel`
   (dispatch: :data:`FIGURES`, :func:`figure`); :func:`render` writes the file (format from the suffix:
   png, svg, pdf, ...) through a temporary file, so no half-written picture is left behind. Every title
   carries the instance name, status, objective, bound and gap of the result.

Errors: :class:`PlotError` for a bad result or solution (the CLI exits 1), :class:`PlotUsageError` for
unreadable files and bad arguments (exit 2).

The figures
-----------
* SMTT: a Gantt chart of the sequence, one row per position (first job on top), a bar from start to
  completion (recomputed from the processing times), red when the job is tardy, a ``|`` marker at
  every due date. Job labels only up to 40 jobs; beyond that the rows are an unlabelled staircase.
* Task allocation: per resource (at most :data:`MAX_RESOURCES` panels, capacitated ones and the
  makespan resource first) one bar per agent with its load, a black segment at its capacity; for the
  makespan objective a dashed line at the makespan (and the proved bound when there is one).
* Pod packing: cpu, memory and GPU-share utilisation (%) per node in the final state of the plan
  (running pods minus evictions, moved pods at their new node, placed pods). Up to
  :data:`MAX_NODES_SHOWN` nodes one group of bars each; more nodes give a histogram of the
  utilisation of all nodes plus the :data:`TOP_BOTTOM` most and least utilised nodes (by their highest
  share). Pods left pending are counted in the title and listed (up to :data:`MAX_PENDING_LISTED`).
* Sequence parallelism: GPU ranks down, micro-batches across; one rectangle per group spanning its
  GPUs (one per contiguous run of ranks if a group is not contiguous), coloured by degree, a darker
  inner bar as long as the group's modelled time relative to its micro-batch's slowest group; labels
  give degree, number of sequences and modelled time (``Instance.group_time``, the model's own cost
  function) when the rectangle is large enough to hold them. Node boundaries are drawn as lines.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas: no pyplot, no global
state, no display needed. The CLI imports this module only for ``allot plot``, so other commands do
not pay for matplotlib.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

import models
from models.common import InstanceError
from models.pod_packing import GPU_MILLI
from service.formats import FormatError, fmt_gap, fmt_num, read_text

#: task allocation: resource panels drawn at most
MAX_RESOURCES = 6
#: pod packing: nodes drawn one by one up to this many; beyond, a histogram plus top/bottom nodes
MAX_NODES_SHOWN = 40
#: pod packing: most and least utilised nodes shown each when there are more than MAX_NODES_SHOWN
TOP_BOTTOM = 15
#: pod packing: pending pods listed by name at most
MAX_PENDING_LISTED = 15

ON_TIME = "#4c72b0"
TARDY = "#c44e52"
RESOURCE_COLOURS = {"cpu": "#4c72b0", "memory": "#55a868", "gpu": "#dd8452"}


class PlotError(ValueError):
    """The result or its solution cannot be drawn for this instance (the CLI exits 1)."""


class PlotUsageError(ValueError):
    """An unreadable file or a bad argument (the CLI exits 2)."""


# --------------------------------------------------------------------------------------------------
# matching and checking
# --------------------------------------------------------------------------------------------------


def read_results(path: Path) -> list[dict[str, Any]]:
    """The result objects of a JSONL file (blank lines skipped)."""
    try:
        text = read_text(path)
    except FormatError as exc:
        raise PlotUsageError(str(exc)) from None
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PlotUsageError(
                f"{path}: line {lineno} is not JSON ({exc.msg}); expected the output of "
                "`allot solve --output jsonl`"
            ) from None
        if not isinstance(obj, dict):
            raise PlotUsageError(f"{path}: line {lineno} is not a JSON object")
        rows.append(obj)
    if not rows:
        raise PlotUsageError(f"{path}: no result lines; expected the output of `allot solve --output jsonl`")
    return rows


def pick_entry(entries: Sequence[tuple[str, Any]], index: int | None, source: str) -> tuple[str, Any]:
    """The (name, instance) to draw: the only entry, or the ``index``-th (1-based, as in ``FILE#k``)."""
    if not entries:
        raise PlotUsageError(f"{source}: no instance in the file")
    if index is None:
        if len(entries) > 1:
            raise PlotUsageError(
                f"{source} holds {len(entries)} instances ({entries[0][0]} .. {entries[-1][0]}); "
                "pick one with --index K"
            )
        return entries[0]
    if not 1 <= index <= len(entries):
        raise PlotUsageError(
            f"--index {index}: {source} holds {len(entries)} instance(s) (1..{len(entries)})"
        )
    return entries[index - 1]


def _last_component(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def find_result(results: Sequence[dict[str, Any]], name: str, source: str) -> dict[str, Any]:
    """The result line of instance ``name`` (see the module docstring for the rule)."""
    exact = [r for r in results if r.get("instance") == name]
    if exact:
        return exact[-1]
    base = _last_component(name)
    same_base = [
        r for r in results if isinstance(r.get("instance"), str) and _last_component(r["instance"]) == base
    ]
    if len(same_base) == 1:
        return same_base[0]
    names = [str(r.get("instance")) for r in results]
    shown = ", ".join(repr(n) for n in names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
    why = f"{len(same_base)} lines end in {base!r}, " if same_base else ""
    raise PlotError(f"no result for instance {name!r} in {source} ({why}it has: {shown})")


def checked_solution(instance: Any, result: dict[str, Any]) -> Any:
    """The result's solution as the family's ``Solution``, accepted by the family's checker."""
    name = result.get("instance", "")
    problem = result.get("problem")
    if problem != instance.PROBLEM:
        raise PlotError(f"result {name!r} is a {problem!r} result, the instance is {instance.PROBLEM!r}")
    doc = result.get("solution")
    if doc is None:
        status = result.get("status", "?")
        message = result.get("message")
        raise PlotError(
            f"result {name!r} has no solution (status {status}{': ' + str(message) if message else ''})"
        )
    model = models.family(instance.PROBLEM)
    try:
        solution = model.Solution.from_dict(doc)
    except InstanceError as exc:
        raise PlotError(f"result {name!r}: malformed solution: {exc}") from None
    ev = model.evaluate(instance, solution)
    if not ev.feasible:
        shown = "; ".join(ev.violations[:5])
        more = f"; ... and {len(ev.violations) - 5} more" if len(ev.violations) > 5 else ""
        raise PlotError(
            f"result {name!r}: the solution is infeasible for this instance "
            f"({len(ev.violations)} violation(s)): {shown}{more}"
        )
    obj = result.get("objective")
    if (
        isinstance(obj, int | float)
        and not isinstance(obj, bool)
        and not math.isclose(float(obj), ev.objective, rel_tol=1e-9, abs_tol=1e-6)
    ):
        raise PlotError(
            f"result {name!r}: objective {obj} but the solution evaluates to {ev.objective:g} on this "
            "instance: the result is of another instance"
        )
    return solution


# --------------------------------------------------------------------------------------------------
# shared drawing helpers
# --------------------------------------------------------------------------------------------------


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _title(instance: Any, result: dict[str, Any], extra: str = "") -> str:
    name = result.get("instance") or instance.name or instance.PROBLEM
    head = f"{name} ({instance.PROBLEM}) - {result.get('status', '?')}"
    nums = f"objective {fmt_num(result.get('objective'))}   bound {fmt_num(result.get('bound'))}   "
    nums += f"gap {fmt_gap(result.get('gap'))}"
    return f"{head}\n{nums}" + (f"\n{extra}" if extra else "")


# --------------------------------------------------------------------------------------------------
# SMTT
# --------------------------------------------------------------------------------------------------


def plot_smtt(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
    """Gantt chart of the sequence; each job's bar has gid ``job-<j>``."""
    seq = list(solution.sequence)
    n = len(seq)
    p, d, w = instance.processing_times, instance.due_dates, instance.weights
    starts: list[int] = []
    ends: list[int] = []
    t = 0
    for j in seq:
        starts.append(t)
        t += p[j]
        ends.append(t)
    tardy = [ends[k] > d[j] for k, j in enumerate(seq)]
    n_tardy = sum(tardy)
    height = min(max(3.5, 1.6 + 0.26 * n), 10.0)
    fig = _new_figure(11.0, height)
    ax = fig.add_subplot()
    rows = np.arange(n)
    bars = ax.barh(
        rows,
        [e - s for s, e in zip(starts, ends, strict=True)],
        left=starts,
        height=0.8 if n <= 100 else 1.0,
        color=[TARDY if x else ON_TIME for x in tardy],
        edgecolor="black" if n <= 60 else "none",
        linewidth=0.5,
    )
    for rect, j in zip(bars.patches, seq, strict=True):
        rect.set_gid(f"job-{j}")
    horizon = max(t, 1)
    max_due = max(d) if d else 0
    right = 1.03 * max(horizon, min(max_due, 2 * horizon))
    due = [d[j] for j in seq]
    ax.scatter(due, rows, marker="|", color="black", s=60 if n <= 60 else 12, zorder=3, gid="due-dates")
    ax.set_xlim(0, right)
    ax.set_ylim(n - 0.5, -0.5)
    if n <= 40:
        ax.set_yticks(rows, [f"job {j} (w {w[j]})" if instance.weighted else f"job {j}" for j in seq])
    else:
        ax.set_ylabel(f"position in the sequence (1..{n})")
        ax.set_yticks([])
    if n <= 30:
        for k, j in enumerate(seq):
            if ends[k] - starts[k] >= 0.03 * right:
                ax.text(
                    (starts[k] + ends[k]) / 2, k, str(j), ha="center", va="center", fontsize=7, color="white"
                )
    ax.set_xlabel("time")
    ax.grid(axis="x", alpha=0.3)
    hidden = sum(1 for x in due if x > right)
    handles = [
        Patch(color=ON_TIME, label=f"on time ({n - n_tardy})"),
        Patch(color=TARDY, label=f"tardy ({n_tardy})"),
        Line2D([], [], marker="|", color="black", linestyle="none", markersize=10, label="due date"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    extra = f"{n} jobs, makespan {t}, {n_tardy} tardy"
    if hidden:
        extra += f", {hidden} due date(s) beyond the drawn range"
    ax.set_title(_title(instance, result, extra), fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# task allocation
# --------------------------------------------------------------------------------------------------


def plot_task_allocation(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
    """Agent loads per resource against capacities; bars have gid ``load-<r>-<agent>``."""
    m, n = instance.num_agents, instance.num_tasks
    assign = np.asarray(solution.assignment, dtype=np.int64)
    dem = instance.demand_array()
    makespan = instance.objective == "makespan"
    order = sorted(
        range(len(instance.resources)),
        key=lambda r: (
            not (makespan and r == instance.makespan_resource),
            instance.resources[r].capacities is None,
            r,
        ),
    )
    shown = order[:MAX_RESOURCES]
    fig = _new_figure(min(max(7.0, 0.3 * m + 2.5), 18.0), 1.2 + 3.0 * max(len(shown), 1))
    axes = fig.subplots(max(len(shown), 1), 1, squeeze=False)[:, 0]
    x = np.arange(m)
    labels = list(instance.agent_names) if instance.agent_names else [str(i) for i in range(m)]
    for ax, r in zip(axes, shown, strict=False):
        res = instance.resources[r]
        loads = np.zeros(m, dtype=np.int64)
        np.add.at(loads, assign, dem[r, assign, np.arange(n)])
        is_ms = makespan and r == instance.makespan_resource
        bars = ax.bar(x, loads, width=0.7, color=ON_TIME, label="load")
        for i, rect in enumerate(bars.patches):
            rect.set_gid(f"load-{r}-{i}")
        what = f"resource {res.name!r}"
        if res.capacities is not None:
            caps = np.asarray(res.capacities, dtype=np.int64)
            ax.hlines(caps, x - 0.45, x + 0.45, colors="black", linewidth=2, label="capacity", gid=f"cap-{r}")
            util = np.where(caps > 0, loads / np.maximum(caps, 1), np.nan)
            what += f": load / capacity, total {int(loads.sum())} / {int(caps.sum())}"
            if m <= 20:
                for i in range(m):
                    if not math.isnan(util[i]):
                        ax.annotate(
                            f"{100 * util[i]:.0f}%",
                            (i, max(loads[i], caps[i])),
                            textcoords="offset points",
                            xytext=(0, 3),
                            ha="center",
                            fontsize=7,
                        )
        else:
            what += f" (uncapacitated): load, total {int(loads.sum())}"
        if is_ms:
            peak = int(loads.max()) if m else 0
            ax.axhline(peak, color=TARDY, linestyle="--", linewidth=1.2, label=f"makespan {peak}")
            bound = result.get("bound")
            if isinstance(bound, int | float) and not isinstance(bound, bool) and math.isfinite(bound):
                ax.axhline(bound, color="grey", linestyle=":", linewidth=1.2, label=f"bound {fmt_num(bound)}")
            what += " - makespan resource"
        ax.set_title(what, fontsize=9)
        ax.set_ylim(0, 1.12 * max(ax.get_ylim()[1], 1))
        ax.set_ylabel("load")
        ax.set_xlim(-0.6, m - 0.4)
        if m <= 30:
            ax.set_xticks(x, labels)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", alpha=0.3)
    if not shown:
        axes[0].text(0.5, 0.5, "the instance has no resources", ha="center", va="center")
    axes[-1].set_xlabel("agent")
    extra = f"{m} agents, {n} tasks, objective {instance.objective}"
    if len(order) > len(shown):
        extra += f"; {len(order) - len(shown)} more resource(s) not drawn"
    fig.suptitle(_title(instance, result, extra), fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# pod packing
# --------------------------------------------------------------------------------------------------


def node_utilisation(instance: Any, solution: Any) -> tuple[dict[str, np.ndarray], list[Any]]:
    """Per resource (``cpu``, ``memory``, ``gpu``) the percentage used of every node in the final state,
    NaN where the node has none of it; and the pending pods left unplaced."""
    nodes = instance.nodes
    nidx = instance.node_index
    placed = dict(solution.placements)
    evicted = set(solution.evictions)
    moved = dict(solution.moves)
    used = {"cpu": np.zeros(len(nodes)), "memory": np.zeros(len(nodes)), "gpu": np.zeros(len(nodes))}

    def add(pod: Any, node_name: str) -> None:
        ni = nidx[node_name]
        req = pod.request_map
        used["cpu"][ni] += req.get("cpu", 0)
        used["memory"][ni] += req.get("memory", 0)
        if pod.gpu is not None:
            used["gpu"][ni] += pod.gpu.count * pod.gpu.milli

    for rp in instance.running:
        if rp.name not in evicted:
            add(rp, moved.get(rp.name, rp.node))
    pending = []
    for p in instance.pods:
        target = placed.get(p.name)
        if target is None:
            pending.append(p)
        else:
            add(p, target)
    cap = {
        "cpu": np.array([n.capacity.get("cpu", 0) for n in nodes], dtype=float),
        "memory": np.array([n.capacity.get("memory", 0) for n in nodes], dtype=float),
        "gpu": np.array([n.gpu_count * GPU_MILLI for n in nodes], dtype=float),
    }
    out: dict[str, np.ndarray] = {}
    for r in used:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r] = np.where(cap[r] > 0, 100.0 * used[r] / np.where(cap[r] > 0, cap[r], 1.0), np.nan)
    return out, pending


def _node_bars(ax: Any, names: list[str], util: dict[str, np.ndarray], idx: list[int]) -> None:
    resources = [r for r in ("cpu", "memory", "gpu") if not np.all(np.isnan(util[r]))]
    width = 0.8 / max(len(resources), 1)
    x = np.arange(len(idx))
    for k, r in enumerate(resources):
        vals = util[r][idx]
        bars = ax.bar(
            x + (k - (len(resources) - 1) / 2) * width,
            np.nan_to_num(vals, nan=0.0),
            width=width,
            color=RESOURCE_COLOURS[r],
            label="GPU share" if r == "gpu" else r,
        )
        for rect, i, v in zip(bars.patches, idx, vals, strict=True):
            rect.set_gid(f"{names[i]}/{r}")
            if math.isnan(v):
                rect.set_visible(False)
    ax.axhline(100, color="black", linewidth=0.8, linestyle="--")
    top = max(
        [100.0, *(float(np.nanmax(util[r][idx])) for r in resources if not np.all(np.isnan(util[r][idx])))]
    )
    ax.set_ylim(0, 1.25 * top)
    ax.set_xticks(x, [names[i] for i in idx], rotation=90 if len(idx) > 8 else 0, fontsize=7)
    ax.set_ylabel("utilisation (%)")
    ax.set_xlim(-0.6, len(idx) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")


def plot_pod_packing(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
    """Node utilisation after the plan; a node's bars have gid ``<node>/<cpu|memory|gpu>``."""
    util, pending = node_utilisation(instance, solution)
    names = [nd.name for nd in instance.nodes]
    nn = len(names)
    extra = (
        f"{nn} nodes; pods placed {len(instance.pods) - len(pending)} / {len(instance.pods)}, "
        f"pending {len(pending)}, evictions {len(solution.evictions)}, moves {len(solution.moves)}"
    )
    many = nn > MAX_NODES_SHOWN
    fig = _new_figure(14.0 if many else min(max(8.0, 0.45 * nn + 4.0), 16.0), 6.0)
    grid = fig.add_gridspec(1, 3 if many else 2, width_ratios=[2, 3, 1] if many else [4, 1])
    if many:
        hist_ax = fig.add_subplot(grid[0, 0])
        bins = [5.0 * k for k in range(21)]
        for r, colour in RESOURCE_COLOURS.items():
            vals = util[r][~np.isnan(util[r])]
            if vals.size:
                label = "GPU share" if r == "gpu" else r
                hist_ax.hist(
                    np.clip(vals, 0, 100),
                    bins=bins,
                    histtype="step",
                    linewidth=1.5,
                    color=colour,
                    label=f"{label} (mean {vals.mean():.0f}%, {vals.size} nodes)",
                )
        hist_ax.set_xlabel("utilisation (%)")
        hist_ax.set_ylabel("nodes")
        hist_ax.set_title(f"all {nn} nodes", fontsize=9)
        hist_ax.legend(fontsize=7)
        dominant = np.nan_to_num(np.fmax(np.fmax(util["cpu"], util["memory"]), util["gpu"]), nan=0.0)
        order = sorted(range(nn), key=lambda i: (-dominant[i], i))
        idx = order[:TOP_BOTTOM] + order[-TOP_BOTTOM:]
        bar_ax = fig.add_subplot(grid[0, 1])
        _node_bars(bar_ax, names, util, idx)
        bar_ax.axvline(TOP_BOTTOM - 0.5, color="grey", linewidth=1)
        bar_ax.set_title(
            f"the {TOP_BOTTOM} most (left) and {TOP_BOTTOM} least (right) utilised nodes, by highest share",
            fontsize=9,
        )
        text_ax = fig.add_subplot(grid[0, 2])
    else:
        bar_ax = fig.add_subplot(grid[0, 0])
        _node_bars(bar_ax, names, util, list(range(nn)))
        bar_ax.set_title("utilisation per node after the plan", fontsize=9)
        text_ax = fig.add_subplot(grid[0, 1])
    text_ax.axis("off")
    lines = [f"pending pods: {len(pending)}"]
    for p in sorted(pending, key=lambda p: (-p.priority, p.name))[:MAX_PENDING_LISTED]:
        label = p.name if len(p.name) <= 40 else p.name[:37] + "..."
        lines.append(f"  {label} (priority {p.priority})")
    if len(pending) > MAX_PENDING_LISTED:
        lines.append(f"  ... and {len(pending) - MAX_PENDING_LISTED} more")
    text_ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8, family="monospace", gid="pending")
    fig.suptitle(_title(instance, result, extra), fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# sequence parallelism
# --------------------------------------------------------------------------------------------------


def _runs(ranks: Sequence[int]) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of a set of ranks."""
    out: list[tuple[int, int]] = []
    for r in sorted(set(ranks)):
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def plot_seq_parallel(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
    """Group layout per micro-batch; group ``j`` of micro-batch ``i`` is the rectangle ``group-<i>-<j>``
    (further contiguous runs of a non-contiguous group: ``group-<i>-<j>-part<k>``)."""
    N, gpn = instance.num_gpus, instance.gpus_per_node
    mbs = solution.microbatches
    B = len(mbs)
    times: list[list[float]] = []
    for mb in mbs:
        row = []
        for g in mb.groups:
            spans = len({r // gpn for r in g.gpus}) > 1
            row.append(instance.group_time([instance.sequences[s] for s in g.sequences], g.degree, spans))
        times.append(row)
    mb_time = [max(row, default=0.0) for row in times]
    width = min(max(8.0, 4.0 + 1.7 * B), 24.0)
    height = min(max(4.0, 2.2 + 0.13 * N), 12.0)
    fig = _new_figure(width, height)
    ax = fig.add_subplot()
    palette = ["#8c8c8c", "#4c72b0", "#55a868", "#dd8452", "#8172b2", "#c44e52", "#937860", "#da8bc3"]
    degrees = sorted({g.degree for mb in mbs for g in mb.groups})
    colour = {d: palette[int(math.log2(d)) % len(palette)] if d > 0 else palette[0] for d in degrees}
    # rough space per rank and per column in inches, to decide which labels fit
    rank_in = 0.8 * height / max(N, 1)
    col_in = 0.85 * width / max(B, 1)
    for i, mb in enumerate(mbs):
        for j, g in enumerate(mb.groups):
            gt = times[i][j]
            frac = gt / mb_time[i] if mb_time[i] > 0 else 0.0
            for k, (lo, hi) in enumerate(_runs(g.gpus)):
                size = hi - lo + 1
                ax.add_patch(
                    Rectangle(
                        (i + 0.04, lo),
                        0.92,
                        size,
                        facecolor=colour[g.degree],
                        alpha=0.35,
                        edgecolor="black",
                        linewidth=0.8,
                        gid=f"group-{i}-{j}" if k == 0 else f"group-{i}-{j}-part{k}",
                    )
                )
                ax.add_patch(
                    Rectangle(
                        (i + 0.04, lo), 0.92 * frac, size, facecolor=colour[g.degree], alpha=0.8, linewidth=0
                    )
                )
                if k:
                    continue
                box_in = size * rank_in
                if col_in < 0.45 or box_in < 0.14:
                    continue
                if box_in >= 0.5 and col_in >= 0.8:
                    label = f"d={g.degree}\n{len(g.sequences)} seq\n{gt:.1f} ms"
                elif box_in >= 0.3:
                    label = f"d={g.degree} {len(g.sequences)}s\n{gt:.1f} ms"
                else:
                    label = f"d={g.degree}"
                ax.text(i + 0.5, lo + size / 2, label, ha="center", va="center", fontsize=7)
    for b in range(gpn, N, gpn):
        ax.axhline(b, color="black", linewidth=1.2, alpha=0.6)
    ax.set_xlim(0, max(B, 1))
    ax.set_ylim(N, 0)
    ax.set_xticks(
        [i + 0.5 for i in range(B)],
        [f"mb {i}\n{t:.1f} ms" for i, t in enumerate(mb_time)],
        fontsize=8 if B <= 12 else 6,
    )
    step = gpn if N > 16 else 1
    ax.set_yticks(np.arange(0, N, step) + 0.5, [str(r) for r in range(0, N, step)], fontsize=7)
    ax.set_ylabel(f"GPU rank ({N} GPUs, {gpn} per node)")
    ax.set_xlabel("micro-batch (modelled time of its slowest group)")
    handles = [Patch(facecolor=colour[d], alpha=0.8, label=f"degree {d}") for d in degrees]
    handles.append(Patch(facecolor="white", edgecolor="black", label="dark part: time / micro-batch time"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    extra = f"{instance.n} sequences, {B} micro-batch(es), {sum(len(mb.groups) for mb in mbs)} groups"
    fig.suptitle(_title(instance, result, extra), fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# dispatch and output
# --------------------------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Any, Any, dict[str, Any]], Figure]] = {
    "smtt": plot_smtt,
    "task_allocation": plot_task_allocation,
    "pod_packing": plot_pod_packing,
    "seq_parallel": plot_seq_parallel,
}


def figure(instance: Any, solution: Any, result: dict[str, Any]) -> Figure:
    """The family's figure of a checked solution."""
    return FIGURES[instance.PROBLEM](instance, solution, result)


def output_format(out: Path) -> str:
    """The file format named by ``out``'s suffix (``png`` without one); PlotUsageError when unknown."""
    fmt = out.suffix.lower().lstrip(".") or "png"
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if fmt not in supported:
        raise PlotUsageError(f"{out}: unknown picture format {fmt!r}; known: {', '.join(sorted(supported))}")
    return fmt


def render(instance: Any, solution: Any, result: dict[str, Any], out: Path, *, dpi: int = 120) -> Path:
    """Draw the figure and write it to ``out`` (atomically); returns ``out``."""
    fmt = output_format(out)
    fig = figure(instance, solution, result)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PlotUsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return out
