"""The one-weight example: y_hat = x * w, J = (y_hat - y)^2, plain gradient descent."""

from __future__ import annotations

import math
from collections.abc import Iterator
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


def contraction(lr: float, x: float = X) -> float:
    """What one step multiplies the distance to the minimum y/x by: w - y/x becomes
    (1 - 2 lr x^2)(w - y/x), since dJ/dw = 2x^2 (w - y/x). Gradient descent converges when its
    size is below 1, that is for 0 < lr < 1/x^2 (0.444... here)."""
    return 1.0 - 2.0 * lr * x * x


@dataclass
class Step:
    step: int
    w_before: float
    grad: float
    closed_form: float
    w_after: float


@dataclass
class Training:
    """train()'s result: each step, and whether gradient descent converges at this learning rate.

    It reads as the list of its steps (`training[-1].w_after`, `for step in training`); printed, it
    is the table the command line shows."""

    steps: list[Step]
    lr: float

    @property
    def factor(self) -> float:
        """What each step multiplies the distance to 1/3 by (contraction(lr))."""
        return contraction(self.lr)

    @property
    def converges(self) -> bool:
        return abs(self.factor) < 1.0

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, k: int) -> Step:
        return self.steps[k]

    def to_json(self) -> dict:
        return {"lr": self.lr, "steps": [asdict(s) for s in self.steps],
                "converges": self.converges, "factor": self.factor}

    def __str__(self) -> str:
        return training_text(self)

    __repr__ = __str__


def training_text(t: Training) -> str:
    """The table of steps and what happens to w in the end: converges, oscillates or diverges."""
    lines = ["y_hat = x*w, J = (y_hat - y)^2, x=1.5, y=0.5; closed form dJ/dw = 4.5 w - 1.5",
             f"{'step':>4}  {'w before':>12}  {'dJ/dw (autograd)':>17}  {'4.5w - 1.5':>12}  {'w after':>12}"]
    for s in t.steps:
        lines.append(f"{s.step:>4}  {s.w_before:>12.10g}  {s.grad:>17.10g}  {s.closed_form:>12.10g}"
                     f"  {s.w_after:>12.10g}")
    bound = f"it converges for lr below 1/x^2 = {1 / (X * X):.6g}"
    if t.converges:
        lines.append("w converges to 1/3, where y_hat = 0.5 exactly.")
    elif t.factor == -1.0:
        lines.append(f"w oscillates around 1/3 and never reaches it: each step flips w - 1/3 "
                     f"(lr={t.lr:g} is at the limit; {bound}).")
    else:
        lines.append(f"w diverged: each step multiplies w - 1/3 by {t.factor:.6g}, so it grows "
                     f"without bound; the learning rate {t.lr:g} is too large ({bound}).")
    return "\n".join(lines)


def train(steps: int = 5, lr: float = LEARNING_RATE, w0: float = W0) -> Training:
    """Each step's w, the autograd dJ/dw, the closed form beside it, and w after the update.

    A step that takes w (or its gradient) past the float range is an OverflowError saying that the
    learning rate is too large."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")
    w = Value(w0, "w")
    history = []
    for k in range(1, steps + 1):
        w.grad = 0.0
        before = w.data
        try:
            loss(w).backward()
            after = before - lr * w.grad
            if not math.isfinite(after):
                raise OverflowError(f"w - lr*dJ/dw = {before!r} - {lr!r}*{w.grad!r} is not finite")
        except OverflowError as error:
            raise OverflowError(f"step {k}: {error}: gradient descent diverged, the learning rate "
                                f"{lr:g} is too large (it converges for lr below "
                                f"{1 / (X * X):.6g})") from None
        w.data = after
        history.append(Step(k, before, w.grad, closed_form_gradient(before), after))
    return Training(history, float(lr))
