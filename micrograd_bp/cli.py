"""The command line: one function per subcommand; the only module that prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Callable

from . import diagnose, paths
from . import expr as expressions
from .engine import Value
from .engine import grad as engine_grad
from .examples import mazur, one_weight

if TYPE_CHECKING:
    from .bench import BenchReport

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


# ------------------------------------------------------------------------------------- pictures
# viz (and so the graphviz package) is imported only when a picture is asked for.

def _viz() -> ModuleType:
    try:
        from . import viz
    except ImportError as error:
        raise UsageError(f"drawing needs the graphviz Python package ({error}): "
                         "pip install graphviz") from None
    return viz


def _add_picture_option(p: argparse.ArgumentParser, option: str, what: str) -> None:
    p.add_argument(option, metavar="FILE",
                   help=f"also write {what}; the format follows the suffix: .svg, .png, .pdf "
                        "(rendered by Graphviz's dot) or .dot (the source, no Graphviz needed)")


def _check_picture_paths(*paths: str | None) -> None:
    """Refuse a file whose suffix names no format before any work is done."""
    for path in paths:
        if path is not None:
            _viz().output_format(path)


def _write_picture(graph: object, path: str) -> None:  # graph: a graphviz.Digraph from viz
    """Write a drawing; a missing dot is one line and exit status 2, the .dot source still written."""
    viz = _viz()
    try:
        written = viz.write_graph(graph, path)
    except viz.GraphvizMissing as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    print(f"{PROG}: wrote {written}", file=sys.stderr)


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
    p.add_argument("--compiled", action="store_true",
                   help="run the training steps on a compiled replay of the graph (the same numbers, "
                        "faster; simultaneous order only)")
    p.add_argument("--explain", metavar="NAME",
                   help="the chain rule for dE_total/dNAME (e.g. w1): every path, factor by factor")
    p.add_argument("--check", metavar="NAME=FORMULA",
                   help='check a hand-derived partial over the named nodes, e.g. '
                        '"w5=(out_o1 - 0.01)*out_o1*(1 - out_o1)*out_h1" (exit status 1 if wrong)')
    p.add_argument("--rtol", type=_positive_float, default=1e-6,
                   help="relative tolerance of --check (default 1e-6)")
    _add_picture_option(p, "--graph", "the computation graph of E_total after backward(), "
                                      "with the tutorial's weights")
    _add_picture_option(p, "--network", "the network's neurons and weights with dE/dweight, "
                                        "as in the tutorial's figure")
    p.set_defaults(run=run_mazur)


def run_mazur(args: argparse.Namespace) -> int:
    _check_picture_paths(args.graph, args.network)
    if args.explain is not None or args.check is not None:
        if args.compiled:
            raise UsageError("--compiled runs the training steps; --explain and --check take none")
        status = run_mazur_verify(args)
    else:
        result = mazur.walkthrough(args.steps, args.lr, args.order, args.train_biases,
                                   compiled=args.compiled)
        if args.json:
            _emit_json(result.to_json())
        else:
            print(format_mazur(result))
        status = 0
    if args.graph is not None or args.network is not None:
        draw_mazur(args.graph, args.network)
    return status


def draw_mazur(graph_path: str | None, network_path: str | None) -> None:
    """The tutorial's network after one backward pass: its op-level graph and its neuron view."""
    viz = _viz()
    network = mazur.MazurNetwork()
    total = network.forward()["E_total"]
    total.backward()
    if graph_path is not None:
        _write_picture(viz.draw(total), graph_path)
    if network_path is not None:
        title = "Matt Mazur's 2-2-2 network with the tutorial's weights"
        _write_picture(viz.draw_network(network.mlp, inputs=network.inputs(), title=title),
                       network_path)


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
    _add_picture_option(p, "--graph", "the computation graph of J after backward() at w = 0.8")
    p.set_defaults(run=run_one_weight)


def run_one_weight(args: argparse.Namespace) -> int:
    _check_picture_paths(args.graph)
    history = one_weight.train(args.steps, args.lr)
    if args.json:
        _emit_json(one_weight.to_json(history))
    else:
        print(format_one_weight(history))
    if args.graph is not None:
        loss = one_weight.loss(Value(one_weight.W0, "w"))
        loss.backward()
        _write_picture(_viz().draw(loss), args.graph)
    return 0


def format_one_weight(history: list[one_weight.Step]) -> str:
    lines = ["y_hat = x*w, J = (y_hat - y)^2, x=1.5, y=0.5; closed form dJ/dw = 4.5 w - 1.5",
             f"{'step':>4}  {'w before':>12}  {'dJ/dw (autograd)':>17}  {'4.5w - 1.5':>12}  {'w after':>12}"]
    for s in history:
        lines.append(f"{s.step:>4}  {s.w_before:>12.10g}  {s.grad:>17.10g}  {s.closed_form:>12.10g}"
                     f"  {s.w_after:>12.10g}")
    lines.append("w converges to 1/3, where y_hat = 0.5 exactly.")
    return "\n".join(lines)


# ------------------------------------------------------------------- grad, check, explain

# The options of these commands that take a value: main() joins them as --opt=VALUE and puts the
# positionals after "--", so an expression or a claim may start with a minus sign.
EXPRESSION_VALUE_OPTIONS = {"grad": {"--graph"}, "check": {"--wrt", "--claim", "--rtol"},
                            "explain": {"--wrt", "--max-paths"}, "diff": {"--wrt"}}


def _expression_argv(argv: list[str]) -> list[str]:
    """grad/check/explain: "-x**2" is an expression, not an option (argparse would say so)."""
    if not argv or argv[0] not in EXPRESSION_VALUE_OPTIONS:
        return argv
    takes_value = EXPRESSION_VALUE_OPTIONS[argv[0]]
    options: list[str] = []
    positionals: list[str] = []
    rest = iter(argv[1:])
    for token in rest:
        if token == "--":
            positionals.extend(rest)
        elif token in takes_value:
            value = next(rest, None)
            options.append(token if value is None else f"{token}={value}")
        elif token.startswith("--") or token == "-h":
            options.append(token)
        else:
            positionals.append(token)
    return [argv[0], *options, "--", *positionals]


def _num(x: float) -> str:
    return f"{x:.9g}"


def _add_expression(p: argparse.ArgumentParser) -> None:
    p.add_argument("expression", metavar="EXPR",
                   help="e.g. 'sigmoid(w*x + b)': numbers, variables, + - * / **, unary minus, "
                        "parentheses and the functions " + ", ".join(expressions.ops.functions()))
    p.add_argument("bindings", metavar="NAME=VALUE", nargs="*", help="the variables' values")


def _evaluate(args: argparse.Namespace) -> tuple[expressions.Evaluation, dict[str, float]]:
    values = expressions.parse_bindings(args.bindings)
    return expressions.parse(args.expression).evaluate(values), values


def add_grad(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grad", help="the value of an expression and its partial derivatives",
                       description="Evaluate EXPR at the given values and print the partial "
                                   "derivative with respect to every variable.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--json", action="store_true", help='print {"value": v, "grad": {"NAME": d}}')
    _add_picture_option(p, "--graph", "the expression's computation graph after backward()")
    p.set_defaults(run=run_grad)


def run_grad(args: argparse.Namespace) -> int:
    _check_picture_paths(args.graph)
    evaluation, _ = _evaluate(args)
    partials = dict(zip(evaluation.variables, engine_grad(evaluation.output,
                                                            list(evaluation.variables.values()))))
    if args.json:
        _emit_json({"value": evaluation.output.data, "grad": partials})
    else:
        print(format_grad(args.expression, evaluation, partials))
    if args.graph is not None:
        output = evaluation.output
        if not output.label:
            output.label = "f"  # as in the printed df/dNAME
        output.backward()
        _write_picture(_viz().draw(output), args.graph)
    return 0


def format_grad(text: str, evaluation: expressions.Evaluation, partials: dict[str, float]) -> str:
    at = ", ".join(f"{k}={v.data:g}" for k, v in evaluation.variables.items())
    rows = [("value", evaluation.output.data), *((f"df/d{name}", d) for name, d in partials.items())]
    width = max(len(label) for label, _ in rows)
    lines = [f"f = {text.strip()}" + (f"  at {at}" if at else "")]
    lines += [f"  {label:<{width}}  {_num(v)}" for label, v in rows]
    lines += [f"note: {name} is given but not used in the expression: its partial is 0"
              for name in evaluation.unused]
    return "\n".join(lines)


def add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check a hand-derived partial derivative",
                       description="Compare a claimed partial (a formula over the same variables) "
                                   "with autograd and a central difference. Exit status 0 when it "
                                   "is right, 1 when it is wrong, 2 on bad input.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--wrt", required=True, metavar="NAME", help="the variable")
    p.add_argument("--claim", required=True, metavar="FORMULA", help="the claimed partial, e.g. '-2*x'")
    p.add_argument("--rtol", type=_positive_float, default=1e-6, help="relative tolerance (default 1e-6)")
    p.add_argument("--symbolic", action="store_true",
                   help="also compare the claim with the exact derivative for every input (needs SymPy)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_check)


def _symbolic() -> ModuleType:
    """symbolic, with SymPy: without it, one line with the install command and exit status 2."""
    from . import symbolic

    try:
        symbolic.sympy_module()
    except symbolic.SymbolicUnavailable as error:
        raise UsageError(str(error)) from None
    return symbolic


def run_check(args: argparse.Namespace) -> int:
    values = expressions.parse_bindings(args.bindings)
    if args.wrt not in values:
        raise UsageError(f"--wrt {args.wrt!r} is not one of the variables given "
                         f"({', '.join(values) or 'none'})")
    symbolic = _symbolic() if args.symbolic else None
    result = diagnose.check_expression(args.expression, args.wrt, args.claim, values, rtol=args.rtol)
    exact = symbolic.check_symbolic(args.expression, args.wrt, args.claim) if symbolic else None
    if args.json:
        _emit_json({"expression": args.expression, "claim_formula": args.claim, **result.to_json(),
                    **({"symbolic": exact.to_json()} if exact else {})})
    else:
        at = ", ".join(f"{k}={v:g}" for k, v in values.items())
        print(format_check(result, f"f = {args.expression.strip()}  at {at}", args.claim))
        if exact:
            print(exact.message)
    return 0 if result.ok and (exact is None or exact.identical) else 1


def add_diff(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="the derivative as a formula (needs SymPy)",
                       description="The derivative of EXPR with respect to NAME, simplified, written in "
                                   "the expression language (grad and check read it back), or in LaTeX. "
                                   "Needs SymPy: pip install 'micrograd_bp[symbolic]'.", allow_abbrev=False)
    p.add_argument("expression", metavar="EXPR", help="e.g. 'sigmoid(w*x + b)'")
    p.add_argument("--wrt", required=True, metavar="NAME", help="the variable")
    p.add_argument("--latex", action="store_true", help="print the derivative in LaTeX")
    p.add_argument("--json", action="store_true", help='print {"derivative": TEXT, "latex": TEXT}')
    p.set_defaults(run=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    symbolic = _symbolic()
    result = symbolic.diff(args.expression, args.wrt)
    if args.json:
        _emit_json({"derivative": result.derivative, "latex": result.latex})
    else:
        print(result.latex if args.latex else result.derivative)
    return 0


def format_check(r: diagnose.ClaimCheck, title: str, claim_text: str) -> str:
    if not r.claim_text:
        r.claim_text = claim_text
    return "\n".join(r.lines(title))


def add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="the chain rule written out: every path to a variable",
                       description="Every path from the output back to the variable, each factor "
                                   "(the local derivative on each edge) and each path's product; "
                                   "the paths sum to the partial.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--wrt", required=True, metavar="NAME", help="the variable")
    p.add_argument("--max-paths", type=_positive_int, default=paths.MAX_PATHS,
                   help=f"list at most this many paths (default {paths.MAX_PATHS})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    evaluation, _ = _evaluate(args)
    if args.wrt not in evaluation.variables:
        raise UsageError(f"--wrt {args.wrt!r} is not one of the variables given "
                         f"({', '.join(evaluation.variables) or 'none'})")
    ex = paths.explain(evaluation.output, evaluation.variables[args.wrt], max_paths=args.max_paths)
    _print_explain(ex, args.json)
    return 0


def format_explain(ex: paths.Explanation) -> str:
    return str(ex)


def _print_explain(ex: paths.Explanation, as_json: bool) -> None:
    """Line by line (text) or path by path (JSON): memory stays proportional to what is printed."""
    if not as_json:
        for line in ex.lines():
            print(line)
        return
    head = {k: v for k, v in ex.to_json_head().items()}
    text = json.dumps(head, indent=2)
    print(text[:-2] + ',\n  "paths": [' + ("" if ex.paths else "]\n}"))
    for i, path in enumerate(ex.paths):
        block = json.dumps(path.to_json(), indent=2).replace("\n", "\n    ")
        print("    " + block + ("," if i + 1 < len(ex.paths) else "\n  ]\n}"))


def run_mazur_verify(args: argparse.Namespace) -> int:
    """mazur --explain NAME and/or --check NAME=FORMULA."""
    ex = mazur.mazur_explain(args.explain) if args.explain is not None else None
    result = mazur.mazur_check(args.check, rtol=args.rtol) if args.check is not None else None
    if args.json:
        _emit_json({**({"explain": ex.to_json()} if ex else {}),
                    **({"check": {"claim_formula": args.check, **result.to_json()}} if result else {})})
    else:
        parts = [format_explain(ex)] if ex else []
        if result:
            parts.append(format_check(result, "Matt Mazur's network (the claim over its named nodes)",
                                      args.check.partition("=")[2]))
        print("\n\n".join(parts))
    return 0 if result is None or result.ok else 1


# ---------------------------------------------------------------------------------------- bench

def add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the engine against a closure-per-node reference, the "
                                     "plain-float floor and micrograd",
                       description="Medians over repeated runs, each workload timed side by side "
                                   "with its references in the same run; every engine's loss is "
                                   "checked against the others'. Takes about a minute and a half.")
    p.add_argument("--repeats", type=_positive_int, default=5, help="runs per engine (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes for a smoke run: 1,000 Mazur steps, chains of 10,000 and "
                        "100,000 nodes, one moons step")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from . import bench as benchmarks  # here, not at the top: every other command starts faster

    try:
        report = benchmarks.run(args.repeats, args.quick,
                                progress=lambda name: print(f"{PROG} bench: {name}...", file=sys.stderr))
    except benchmarks.BenchmarkMismatch as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        _emit_json(report.to_json())
    else:
        print(format_bench(report))
    return 0


RATIO_NAMES = {
    "closure_over_ours": "closure reference / micrograd_bp",
    "closure_over_ours_mlp": "closure reference / micrograd_bp via nn.MLP",
    "micrograd_over_ours": "micrograd 0.1.0 / micrograd_bp",
    "ours_over_floor": "micrograd_bp / float floor",
    "compiled_sgd_over_floor": "compiled replay, sgd_steps / float floor",
    "compiled_loop_over_floor": "compiled replay, Python loop / float floor",
    "micrograd_over_compiled": "micrograd 0.1.0 / compiled replay",
    "long_over_short": "long chain / short chain",
    "ours_over_closure": "micrograd_bp / closure reference",
}


def _quantity(x: float, unit: str) -> str:
    if unit == "bytes":
        return f"{x:.0f} bytes"
    scale, name = next(((s, n) for s, n in ((1.0, "s"), (1e-3, "ms")) if x >= s), (1e-6, "us"))
    return f"{x / scale:.3g} {name}"


def format_bench(report: BenchReport) -> str:
    m = report.machine
    lines = [f"{PROG} bench: {m['implementation']} {m['python']}, {m['cores']} cores, {m['platform']}; "
             f"medians of {report.repeats} run(s){', quick sizes' if report.quick else ''}"]
    for w in report.workloads:
        lines += ["", w.title]
        width = max(len(r.engine) for r in w.rows)
        for r in w.rows:
            measured = r.seconds if r.seconds is not None else r.result
            loss = f"  (loss {r.result:.9g})" if r.seconds is not None and r.result is not None else ""
            text = _quantity(measured, "bytes" if w.unit == "bytes" else "s") if measured is not None else "-"
            lines.append(f"  {r.engine:<{width}}  {text:>12}{loss}{'  ' + r.note if r.note else ''}")
        lines += [f"  {RATIO_NAMES.get(k, k)}: {v:.2f}" for k, v in w.ratios.items()]
        if w.note:
            lines.append(f"  ({w.note})")
    lines += ["", "Targets"]
    lines += [f"  {t.name}: {t.measured:.2f} (goal {t.goal}) {'met' if t.met else 'NOT met'}"
              for t in report.targets]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- main

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_mazur, add_one_weight, add_grad,
                                                                 add_check, add_explain, add_diff,
                                                                 add_bench]


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
        args = parser.parse_args(_expression_argv(list(sys.argv[1:] if argv is None else argv)))
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
