"""Report plots as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

matplotlib is imported only here and only when a plot is drawn; pyplot is
never used, so drawing a report neither needs a display nor changes the
caller's matplotlib backend or state.

Tick labels never wrap: a long name is shortened in the middle (start and end
kept, so names that differ at the end stay apart) and the labels turn 30 or
60 degrees when they would not fit side by side.
"""

from __future__ import annotations

import io

import numpy as np

from ._document import Figure

__all__ = ["render_png", "tick_labels", "tick_rotation"]

_INK = "#1f2937"
_MUTED = "#6b7280"
_GRID = "#e5e7eb"
_BLUE = "#2563eb"
_TEAL = "#0d9488"
_AMBER = "#d97706"
_PALETTE = ["#2563eb", "#d97706", "#0d9488", "#db2777", "#7c3aed", "#65a30d", "#dc2626", "#0891b2"]
_LABEL_CHARS = 18


def render_png(figure: Figure) -> bytes:
    """Draw ``figure`` and return PNG bytes.

    Raises:
        ValueError: an unknown figure kind.
    """
    draw = _DRAWERS.get(figure.kind)
    if draw is None:
        raise ValueError(f"unknown figure kind {figure.kind!r}; known: {sorted(_DRAWERS)}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # deferred: heavy, needed only to draw
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(6.4, 4.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig, figure.data)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def tick_labels(names: list[str], limit: int = _LABEL_CHARS) -> list[str]:
    """Names as one-line tick labels of at most ``limit`` characters.

    Line breaks become spaces; a longer name keeps its start and its end around an ellipsis
    ("Increasing trend with a long tail A" becomes "Increasing t\u2026ail A"), so names that
    differ only at the end stay distinct.
    """
    out = []
    for name in names:
        name = " ".join(str(name).split())
        if len(name) > limit:
            tail = (limit - 1) // 3
            name = name[:limit - 1 - tail].rstrip() + "\u2026" + name[len(name) - tail:].lstrip()
        out.append(name)
    return out


def tick_rotation(labels: list[str], room: int = 80) -> int:
    """Degrees to turn x tick labels: 0 when they fit side by side in ``room`` characters, else 30 (60 for many)."""
    longest = max((len(s) for s in labels), default=0)
    if len(labels) * (longest + 2) <= room:
        return 0
    return 30 if len(labels) <= 10 else 60


def _set_xticks(ax, positions, labels: list[str], room: int = 80) -> None:
    angle = tick_rotation(labels, room)
    ax.set_xticks(positions, labels, rotation=angle, ha="right" if angle else "center", rotation_mode="anchor")


def _style(ax, xlabel: str = "", ylabel: str = "") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_MUTED)
    ax.tick_params(colors=_INK, labelsize=8)
    ax.set_xlabel(xlabel, color=_INK, fontsize=9)
    ax.set_ylabel(ylabel, color=_INK, fontsize=9)
    ax.grid(True, color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _confusion(fig, data: dict) -> None:
    """Heat map coloured by row share (recall per cell), annotated with counts up to 20 classes."""
    cm = np.asarray(data["matrix"], dtype=np.float64)
    names = tick_labels(data["names"])
    c = cm.shape[0]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto" if c > 20 else "equal")
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.ax.tick_params(labelsize=8, colors=_INK)
    bar.set_label("share of actual class", fontsize=8, color=_INK)
    ticks = np.arange(c)
    step = max(1, c // 20)
    _set_xticks(ax, ticks[::step], [names[i] for i in ticks[::step]], room=44)
    ax.set_yticks(ticks[::step], [names[i] for i in ticks[::step]])
    ax.tick_params(labelsize=8, colors=_INK, length=0)
    ax.set_xlabel("Predicted class", fontsize=9, color=_INK)
    ax.set_ylabel("Actual class", fontsize=9, color=_INK)
    for side in ax.spines.values():
        side.set_visible(False)
    if c <= 20:
        size = 9 if c <= 8 else 7 if c <= 14 else 6
        for i in range(c):
            for j in range(c):
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=size,
                        color="white" if share[i, j] > 0.55 else _INK)


def _class_bars(fig, data: dict) -> None:
    """Grouped precision and recall bars per class; undefined (0/0) values are left out."""
    names = tick_labels(data["names"])
    x = np.arange(len(names))
    ax = fig.add_subplot()
    width = 0.38
    for offset, key, color in ((-width / 2, "precision", _BLUE), (width / 2, "recall", _AMBER)):
        values = np.asarray(data[key], dtype=np.float64)
        ok = ~np.isnan(values)
        ax.bar(x[ok] + offset, values[ok], width, label=key.capitalize(), color=color)
    _style(ax, "Class", "Score")
    ax.grid(False, axis="x")
    ax.set_ylim(0, 1.05)
    step = max(1, len(names) // 25)
    _set_xticks(ax, x[::step], [names[i] for i in x[::step]])
    fig.legend(frameon=False, fontsize=8, ncols=2, loc="outside upper right")


def _step_accuracy(fig, data: dict) -> None:
    """Accuracy per step index from the start and from the end, with the step counts shaded behind."""
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, title in ((axes[0], "start", "From each sequence's first real step"),
                           (axes[1], "end", "Back from each sequence's last real step")):
        part = data[key]
        steps = np.asarray(part["step"])
        acc = np.asarray(part["accuracy"], dtype=np.float64)
        total = np.asarray(part["total"], dtype=np.float64)
        counts = ax.twinx()
        counts.fill_between(steps, total, step="mid", color=_GRID, alpha=0.9, linewidth=0)
        counts.set_yticks([])
        for side in counts.spines.values():
            side.set_visible(False)
        ax.set_zorder(counts.get_zorder() + 1)
        ax.patch.set_visible(False)
        marker = "o" if len(steps) <= 40 else None
        ax.plot(steps, acc, color=_BLUE if key == "start" else _TEAL, linewidth=1.6, marker=marker, markersize=3)
        _style(ax, "steps before the last" if key == "end" else "step index", "Accuracy" if key == "start" else "")
        ax.set_title(title, fontsize=9, color=_INK)
        ax.set_ylim(0, 1.05)
        if key == "end" and len(steps):
            ax.invert_xaxis()


def _length_accuracy(fig, data: dict) -> None:
    """Step accuracy per length bucket, with the number of sequences written on each bar."""
    labels = data["labels"]
    acc = np.nan_to_num(np.asarray(data["accuracy"], dtype=np.float64), nan=0.0)
    sequences = data["sequences"]
    ax = fig.add_subplot()
    bars = ax.bar(np.arange(len(labels)), acc, 0.6, color=_TEAL)
    for bar, n in zip(bars, sequences):
        ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                    textcoords="offset points", ha="center", fontsize=7, color=_MUTED)
    _style(ax, "Sequence length (real steps)", "Accuracy")
    ax.grid(False, axis="x")
    ax.set_ylim(0, 1.1)
    _set_xticks(ax, np.arange(len(labels)), labels)


def _curves(fig, data: dict, x_key: str, y_key: str, xlabel: str, ylabel: str, diagonal: bool) -> None:
    ax = fig.add_subplot()
    if diagonal:
        ax.plot([0, 1], [0, 1], color=_MUTED, linestyle="--", linewidth=0.8)
    for i, curve in enumerate(data["curves"]):
        ax.plot(curve[x_key], curve[y_key], color=_PALETTE[i % len(_PALETTE)], linewidth=1.6,
                drawstyle="steps-pre" if not diagonal else "default", label=tick_labels([curve["label"]], 40)[0])
    _style(ax, xlabel, ylabel)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    if data["curves"]:
        ax.legend(frameon=True, framealpha=0.9, edgecolor=_GRID, fontsize=8, loc="best")


def _roc(fig, data: dict) -> None:
    _curves(fig, data, "fpr", "tpr", "False positive rate", "True positive rate", diagonal=True)


def _pr(fig, data: dict) -> None:
    _curves(fig, data, "recall", "precision", "Recall", "Precision", diagonal=False)


_DRAWERS = {"confusion": _confusion, "class_bars": _class_bars, "step_accuracy": _step_accuracy,
            "length_accuracy": _length_accuracy, "roc": _roc, "pr": _pr}
