"""Two interleaved half-moons with a fixed seed, and micrograd's max-margin training step."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

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


def moons_model(seed: int = 1337) -> MLP:
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
