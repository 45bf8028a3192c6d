"""The command line: one function per subcommand; the only module that prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Callable

from .examples import mazur, one_weight

PROG = "micrograd-bp"
# Errors the library raises for bad input; the CLI turns them into one line and exit status 2.
INPUT_ERRORS = (ValueError, TypeError, ZeroDivisionError, OverflowError, KeyError)


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _emit_json(data: dict) -> None:
    print(json.dumps(data, indent=2))


# ---------------------------------------------------------------------------------------- mazur

def add_mazur(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mazur", help="Matt Mazur's 2-2-2 backpropagation example, step by step",
                       description="Matt Mazur's 2-2-2 logistic network computed by the engine.")
    p.add_argument("--steps", type=_positive_int, default=1, help="training steps (default 1)")
    p.add_argument("--lr", type=_positive_float, default=mazur.LEARNING_RATE,
                   help="learning rate (default 0.5)")
    p.add_argument("--order", choices=mazur.ORDERS, default="simultaneous",
                   help="update order: simultaneous (true gradient descent, default) or sequential "
                        "(reproduces the tutorial's published closing figures)")
    p.add_argument("--train-biases", action="store_true", help="also update b1 and b2")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_mazur)


def run_mazur(args: argparse.Namespace) -> int:
    result = mazur.walkthrough(args.steps, args.lr, args.order, args.train_biases)
    if args.json:
        _emit_json(result.to_json())
        return 0
    print(format_mazur(result))
    return 0


def format_mazur(r: mazur.Walkthrough) -> str:
    f, g, c = r.forward, r.gradients, r.factors
    lines = ["Matt Mazur's 2-2-2 network: inputs i1=0.05, i2=0.10; targets 0.01, 0.99; "
             "logistic neurons; shared biases b1=0.35, b2=0.60", "",
             "The forward pass"]
    lines += [f"  {name:<8} {f[name]:.9f}" for name in mazur.FORWARD_NAMES]
    lines += ["", "The backward pass, output layer: dE_total/dw5",
              f"  dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5"
              f" = {c['dE_total/dout_o1']:.9f} * {c['dout_o1/dnet_o1']:.9f} * {c['dnet_o1/dw5']:.9f}"
              f" = {g['w5']:.9f}",
              f"  delta_o1 = dE_total/dnet_o1 = {c['delta_o1']:.9f}", "",
              "The backward pass, hidden layer: dE_total/dw1 (out_h1 feeds o1 and o2)",
              f"  dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = {c['dE_o1/dout_h1']:.9f} + "
              f"({c['dE_o2/dout_h1']:.9f}) = {c['dE_total/dout_h1']:.9f}",
              f"  dE_total/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1"
              f" = {c['dE_total/dout_h1']:.9f} * {c['dout_h1/dnet_h1']:.9f} * {c['dnet_h1/dw1']:.9f}"
              f" = {g['w1']:.9f}", "",
              "All gradients (dE_total/d...)"]
    lines += [f"  {name:<3} {g[name]: .9f}" for name in mazur.PARAMETER_NAMES]
    lines += ["", f"The weights after one step (lr={r.lr:g}, order {r.order}"
              f"{', biases trained' if r.train_biases else ''})"]
    lines += [f"  {name:<3} {v:.9f}" for name, v in r.weights_after_one_step.items()]
    lines += ["", f"E_total before: {f['E_total']:.9f}",
              f"E_total after 1 step: {r.error_after_one_step:.9f}"]
    if r.steps > 1:
        lines += [f"E_total after {r.steps} steps: {r.final_error:.9f}",
                  f"outputs after {r.steps} steps: out_o1 {r.final_outputs[0]:.9f}, "
                  f"out_o2 {r.final_outputs[1]:.9f}"]
    lines += ["", f"Update order: {r.order}, {mazur.ORDER_NOTES[r.order]}."]
    if r.order == "simultaneous" and not r.train_biases and r.lr == mazur.LEARNING_RATE:
        lines.append("The tutorial's closing paragraph prints 0.291027924 after one step and "
                     "0.000035085 after 10,000: those come from the sequential order "
                     "(--order sequential).")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- one-weight

def add_one_weight(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("one-weight", help="the one-weight gradient descent example",
                       description="y_hat = x*w, J = (y_hat - y)^2 with x=1.5, y=0.5, w=0.8.")
    p.add_argument("--steps", type=_positive_int, default=5, help="steps (default 5)")
    p.add_argument("--lr", type=_positive_float, default=one_weight.LEARNING_RATE,
                   help="learning rate (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_one_weight)


def run_one_weight(args: argparse.Namespace) -> int:
    history = one_weight.train(args.steps, args.lr)
    if args.json:
        _emit_json(one_weight.to_json(history))
        return 0
    print("y_hat = x*w, J = (y_hat - y)^2, x=1.5, y=0.5; closed form dJ/dw = 4.5 w - 1.5")
    print(f"{'step':>4}  {'w before':>12}  {'dJ/dw (autograd)':>17}  {'4.5w - 1.5':>12}  {'w after':>12}")
    for s in history:
        print(f"{s.step:>4}  {s.w_before:>12.10g}  {s.grad:>17.10g}  {s.closed_form:>12.10g}"
              f"  {s.w_after:>12.10g}")
    print("w converges to 1/3, where y_hat = 0.5 exactly.")
    return 0


# ----------------------------------------------------------------------------------------- main

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_mazur, add_one_weight]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="A scalar autograd engine that "
                                     "reproduces and explains backpropagation, number by number.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a claim is wrong, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its one-line usage error
        return int(exit_.code or 0)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except INPUT_ERRORS as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
