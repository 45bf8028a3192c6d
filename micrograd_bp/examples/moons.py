"""Two interleaved half-moons with a fixed seed, and micrograd's max-margin training step."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from .. import engine
from ..engine import Value
from ..nn import MLP


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[int]]:
    """n points in 2-D and their labels -1 (upper moon) or +1 (lower moon), no download."""
    if n < 2:
        raise ValueError(f"make_moons: need at least 2 points, got {n}")
    rng = random.Random(seed)
    n_upper = n // 2
    points, labels = [], []
    for i in range(n):
        upper = i < n_upper
        count = n_upper if upper else n - n_upper
        t = math.pi * (i if upper else i - n_upper) / max(count - 1, 1)
        x, y = (math.cos(t), math.sin(t)) if upper else (1 - math.cos(t), 0.5 - math.sin(t))
        points.append([x + rng.gauss(0, noise), y + rng.gauss(0, noise)])
        labels.append(-1 if upper else 1)
    return points, labels


MODEL_SEED = 1337  # the seed of moons_model's weights


def moons_model(seed: int = MODEL_SEED) -> MLP:
    """micrograd's demo network: MLP(2, [16, 16, 1]), ReLU hidden layers, a linear output."""
    return MLP(2, [16, 16, 1], ["relu", "relu", "none"], seed=seed)


def max_margin_loss(model: MLP, points: Sequence[Sequence[float]], labels: Sequence[int],
                    alpha: float = 1e-4) -> tuple[Value, float]:
    """Mean hinge loss relu(1 - y * score) plus alpha * L2 of the parameters; and the accuracy."""
    scores = [model(p)[0] for p in points]
    margins = [(1 - y * s).relu() for y, s in zip(labels, scores)]
    data_loss = sum(margins, Value(0.0)) / len(margins)
    l2 = alpha * sum((p * p for p in model.parameters()), Value(0.0))
    accuracy = sum((y > 0) == (s.data > 0) for y, s in zip(labels, scores)) / len(labels)
    return data_loss + l2, accuracy


def sample_loss(model: MLP, alpha: float = 1e-4) -> tuple[Value, list[Value]]:
    """One sample's max-margin loss, for the batch replay: relu(1 - y * score) + alpha * L2, and its
    data leaves [x1, x2, y]. Averaged over a batch it is max_margin_loss (the L2 is one `linear`
    node, p1*p1 + p2*p2 + ..., where max_margin_loss adds the squares one by one)."""
    x1, x2, y = Value(0.0, "x1"), Value(0.0, "x2"), Value(1.0, "y")
    params = model.parameters()
    score = model([x1, x2])[0]
    return (1 - y * score).relu() + alpha * engine.linear(params, params), [x1, x2, y]


def sample_score(model: MLP) -> tuple[Value, list[Value]]:
    """One sample's score (positive: the lower moon) and its data leaves [x1, x2]."""
    x1, x2 = Value(0.0, "x1"), Value(0.0, "x2")
    return model([x1, x2])[0], [x1, x2]


def rows(points: Sequence[Sequence[float]], labels: Sequence[int]) -> list[list[float]]:
    """The batch of sample_loss: one row [x1, x2, y] per point."""
    return [[p[0], p[1], float(y)] for p, y in zip(points, labels)]


def learning_rate(step: int, steps: int, lr: float = 1.0) -> float:
    """micrograd's demo schedule, stretched over `steps`: lr at the first step, 0.1 lr at the end."""
    return lr * (1.0 - 0.9 * step / steps)


def batch_accuracy(model: MLP, points: Sequence[Sequence[float]], labels: Sequence[int]) -> float:
    """The fraction of points on the side of their label (score > 0 for +1), by the batch replay."""
    from ..batch import compile_batch  # numpy: only here

    score, data = sample_score(model)
    scores = compile_batch(score, model.parameters(), data).outputs([list(p) for p in points])
    return sum((y > 0) == (s > 0) for y, s in zip(labels, scores.tolist())) / len(labels)
