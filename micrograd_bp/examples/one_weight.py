"""The one-weight example: y_hat = x * w, J = (y_hat - y)^2, plain gradient descent."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..engine import Value

X, Y, W0, LEARNING_RATE = 1.5, 0.5, 0.8, 0.1


def loss(w: Value, x: float = X, y: float = Y) -> Value:
    """J = (x*w - y)^2, labelled y_hat and J."""
    y_hat = (w * Value(x, "x")).named("y_hat")
    return ((y_hat - Value(y, "y")) ** 2).named("J")


def closed_form_gradient(w: float, x: float = X, y: float = Y) -> float:
    """dJ/dw = 2 (x w - y) x, which is 4.5 w - 1.5 for the tutorial's x and y."""
    return 2.0 * (x * w - y) * x


@dataclass
class Step:
    step: int
    w_before: float
    grad: float
    closed_form: float
    w_after: float


def train(steps: int = 5, lr: float = LEARNING_RATE, w0: float = W0) -> list[Step]:
    """Each step's w, the autograd dJ/dw, the closed form beside it, and w after the update."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    w = Value(w0, "w")
    history = []
    for k in range(1, steps + 1):
        w.grad = 0.0
        loss(w).backward()
        before = w.data
        w.data -= lr * w.grad
        history.append(Step(k, before, w.grad, closed_form_gradient(before), w.data))
    return history


def to_json(history: list[Step]) -> dict:
    return {"steps": [asdict(s) for s in history]}
