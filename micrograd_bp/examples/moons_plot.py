"""The moons picture: a trained model's decision boundary over the points (matplotlib, numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..nn import MLP
from .moons import sample_score

MATPLOTLIB_MISSING = "the picture needs matplotlib: pip install 'micrograd_bp[notebook]'"


def _figure() -> Any:
    """A new matplotlib Figure, without pyplot (no window, no backend to choose)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(MATPLOTLIB_MISSING) from None
    return Figure(figsize=(5.5, 4.5))


def decision_grid(model: MLP, points: Sequence[Sequence[float]], size: int = 100,
                  margin: float = 0.5) -> tuple[Any, Any, Any]:
    """(xs, ys, scores): the model's score on a size x size grid around the points, computed by the
    batch replay of one sample's score graph."""
    import numpy as np

    from ..batch import compile_batch

    score, data = sample_score(model)
    replay = compile_batch(score, model.parameters(), data)
    array = np.asarray(points, dtype=float)
    low, high = array.min(axis=0) - margin, array.max(axis=0) + margin
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], size), np.linspace(low[1], high[1], size))
    scores = replay.outputs(np.column_stack([xs.ravel(), ys.ravel()]))
    return xs, ys, scores.reshape(xs.shape)


def plot_decision_boundary(model: MLP, points: Sequence[Sequence[float]], labels: Sequence[int],
                           ax: Any = None, title: str = "") -> Any:
    """The points coloured by label over the model's two regions (score > 0: the lower moon);
    draws on ax (a new figure without one) and returns the figure."""
    if ax is None:
        ax = _figure().subplots()
    xs, ys, scores = decision_grid(model, points)
    ax.contourf(xs, ys, scores > 0, levels=[-0.5, 0.5, 1.5], colors=["#f6c8a0", "#a8c8f0"], alpha=0.8)
    ax.contour(xs, ys, scores, levels=[0.0], colors="black", linewidths=1)
    for label, colour in ((-1, "#d9541e"), (1, "#1f5fb4")):
        chosen = [p for p, y in zip(points, labels) if y == label]
        ax.scatter([p[0] for p in chosen], [p[1] for p in chosen], s=18, c=colour, edgecolors="white",
                   linewidths=0.5, label=f"label {label:+d}")
    ax.set_title(title or "decision boundary (black: score 0)")
    ax.legend(loc="upper right", fontsize=8)
    return ax.figure


def save_decision_boundary(model: MLP, points: Sequence[Sequence[float]], labels: Sequence[int],
                           path: str, title: str = "") -> None:
    """plot_decision_boundary written to path (.png, .svg, .pdf: by its extension)."""
    figure = plot_decision_boundary(model, points, labels, title=title)
    figure.savefig(path, dpi=120, bbox_inches="tight")
