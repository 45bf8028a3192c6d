"""The command line: one function per subcommand; printing goes through console."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Callable, NoReturn

from . import __version__, console, diagnose, paths
from . import expr as expressions
from .console import PROG, UsageError, emit, emit_json, json_text, note, write
from .engine import Value, topological_order
from .examples import backward_lessons, mazur, one_weight
from .trace import MAX_STEPS, BackwardTrace, trace_backward


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as UsageError: one line and a hint, printed by main()."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        """--help and --version through console.write, not argparse's own write that ignores failures."""
        if message and file is sys.stdout:
            write(message)
        elif message:
            note(message.rstrip("\n"))


# ------------------------------------------------------------------------------ option values

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# The most a command is asked to repeat: mazur's 10,000,000 steps run in minutes here (the error
# stops changing long before); one-weight prints a row per step, so a table of 10,000 rows; bench's
# 1,000 runs per engine take hours. A count beyond is refused at once rather than run for days.
MAZUR_MAX_STEPS, ONE_WEIGHT_MAX_STEPS, BENCH_MAX_REPEATS = 10_000_000, 10_000, 1_000


def _count(limit: int, what: str, why: str) -> Callable[[str], int]:
    """The type of a count option: a positive integer up to limit (what: "steps"; why: what the
    limit is for)."""
    def count(text: str) -> int:
        value = _positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"{text} is more {what} than this command runs: at most "
                                             f"{limit:,} ({why})")
        return value
    return count


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _given(what: str, example: str) -> Callable[[str], str]:
    """The type of an option that cannot be empty: an empty or blank value says what is missing."""
    def text(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"{what} is empty: give {example}")
        return value
    return text


def _mazur_claim(value: str) -> str:
    """mazur --check's NAME=FORMULA: an empty claim is named as such, before any parsing."""
    name, equals, formula = _given("the claim", "NAME=FORMULA, the claimed dE_total/dNAME over the "
                                   "network's named nodes")(value).partition("=")
    if equals and not formula.strip():
        raise argparse.ArgumentTypeError(f"the claim after {name.strip()}= is empty: give the claimed "
                                         f"dE_total/d{name.strip()} after the =")
    return value


_PATH = _given("the path", "a file name, e.g. graph.svg")
_WRT = _given("the variable's name", "the variable, e.g. --wrt x")


def _tolerance(text: str) -> float:
    """A relative tolerance: 0 < rtol < 1 (at 1, any claim of the right sign would agree)."""
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"a relative tolerance must be below 1, got {text!r}")
    return value


# ----------------------------------------------------------------------- options that do nothing

def given(args: argparse.Namespace, dest: str) -> bool:
    """The option was given a value other than its default."""
    return getattr(args, dest) != args.command_parser.get_default(dest)


def refuse_unless(args: argparse.Namespace, condition: bool, options: Sequence[str], why: str) -> None:
    """Options that do nothing unless condition holds: given anyway, a UsageError naming the first."""
    if condition:
        return
    for option in options:
        if given(args, option.lstrip("-").replace("-", "_")):
            raise UsageError(f"{option} {why}", args.command_parser.prog)


# ------------------------------------------------------------------------------------- pictures
# viz (and so the graphviz package) is imported only when a picture is asked for.

def _viz() -> ModuleType:
    try:
        from . import viz
    except ImportError as error:
        raise UsageError(f"drawing needs the graphviz Python package ({error}): "
                         "pip install graphviz") from None
    return viz


def _pictures() -> ModuleType:
    _viz()  # pictures writes viz's drawings: the same clear error when graphviz is missing
    from . import pictures
    return pictures


def _page() -> ModuleType:
    _viz()  # the page draws with viz: the same clear error when graphviz is missing
    from . import page
    return page


def _add_picture_option(p: argparse.ArgumentParser, option: str, what: str) -> None:
    p.add_argument(option, metavar="FILE", type=_PATH,
                   help=f"also write {what}; the format follows the suffix: .svg, .png, .pdf "
                        "(rendered by Graphviz's dot), .dot (the source, no Graphviz needed) or "
                        ".html (a live page: hover, click, step through backward, edit the leaves)")


def check_pictures(args: argparse.Namespace, *options: str) -> None:
    """Every picture asked for, checked before any work is done: a suffix that names a format, a
    directory that exists and a file that can be written, no file asked for twice, and, when dot is
    missing, no existing file where its DOT source would go (pictures.write_graph writes it beside)."""
    asked = [(option, Path(getattr(args, option.lstrip("-").replace("-", "_")))) for option in options
             if getattr(args, option.lstrip("-").replace("-", "_")) is not None]
    if not asked:
        return
    viz = _viz()
    dot_missing = shutil.which("dot") is None
    claimed: dict[Path, str] = {}
    for option, path in asked:
        try:
            fmt = "html" if _is_page(path) else _pictures().output_format(path)
        except ValueError as error:
            raise UsageError(f"{error}, or .html (a live page)") from None
        if fmt == "html" and dot_missing:
            raise UsageError(f"{option} {path}: the page needs Graphviz's dot to lay out the graph; "
                             f"{viz.INSTALL_HINT}")
        _check_writable(path)
        targets = [path]
        if fmt != "dot" and dot_missing:
            beside = path.with_suffix(".dot")
            if beside.exists():
                raise UsageError(f"Graphviz's dot program is not installed, so {option} {path} would "
                                 f"be written as its DOT source to {beside}, which exists: not "
                                 "overwriting it (install Graphviz, or remove or rename the file)")
            targets.append(beside)
        for target in targets:
            key = target.resolve()
            if key in claimed:
                raise UsageError(f"{option} and {claimed[key]} would both write {target}")
            claimed[key] = option


def _check_writable(path: Path) -> None:
    """path can be written: tried by opening it to append (nothing is written; a file that did not
    exist is removed again)."""
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: the directory {parent} does not exist"
                         if not parent.exists() else f"cannot write {path}: {parent} is not a directory")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    if not existed:
        path.unlink()


def _is_page(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".html"


def _write_picture(graph: object, path: str, page: Callable[[], Any] | None = None) -> None:
    """Write a drawing (graph: a graphviz.Digraph from viz), or for a .html path the live page that
    page() makes; a missing dot is one line and exit status 2, the .dot source still written."""
    pictures = _pictures()
    try:
        written = (page().save(path) if page is not None and _is_page(path)
                   else pictures.write_graph(graph, path))
    except (pictures.GraphvizMissing, pictures.RenderError) as error:
        raise UsageError(str(error)) from None
    except _page().PageError as error:
        raise UsageError(f"cannot write {path}: {error}") from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    note(f"{PROG}: wrote {written}")


# ------------------------------------------------------------------------ the backward ledger
# trace, mazur --trace, and --animate on mazur, one-weight, grad and trace.

def _add_animate_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--animate", metavar="FILE.gif", type=_given("the path", "a file name ending in .gif"),
                   help="also write the backward pass as an animated GIF, one frame per step "
                        "(needs Graphviz's dot and Pillow: pip install 'micrograd_bp[animation]')")


def check_animation(args: argparse.Namespace) -> None:
    """--animate's file, checked before any work: a .gif that can be written, and dot installed."""
    if args.animate is None:
        return
    viz = _viz()
    try:
        _pictures().check_animation(args.animate)
    except ValueError as error:
        raise UsageError(str(error)) from None
    _check_writable(Path(args.animate))
    if shutil.which("dot") is None:
        raise UsageError(f"cannot render {args.animate}: the Graphviz 'dot' program was not found; "
                         f"{viz.INSTALL_HINT}")


def check_animation_size(args: argparse.Namespace, root: Value) -> None:
    """--animate on a graph above the drawing's node limit: refused before anything is printed."""
    if args.animate is not None:
        try:
            order = topological_order(root)
            _pictures().check_animation(args.animate, len(order), sum(1 for n in order if n.op is not None))
        except ValueError as error:
            raise UsageError(str(error)) from None


def _backward(output: Value, animate: str | None) -> BackwardTrace | None:
    """output.backward(); with --animate, through the ledger (the same pass), which is returned."""
    if animate is None:
        output.backward()
        return None
    return trace_backward(output)


def _write_animation(ledger: BackwardTrace, path: str) -> None:
    pictures = _pictures()
    try:
        written = pictures.write_animation(ledger, path)
    except (pictures.GraphvizMissing, pictures.RenderError, ImportError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    note(f"{PROG}: wrote {written}")


def add_trace(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="the backward pass step by step: each node, each += it makes",
                       description="Evaluate EXPR, run backward() and print its ledger: each node in "
                                   "the order backward() takes them, its gradient, and for each input "
                                   "the local derivative (its formula and value), the amount sent "
                                   "and the input's grad before and after the +=.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--json", action="store_true",
                   help='print {"steps": [{"node": N, "grad": g, "sends": [{"to": N, "local": l, '
                        '"formula": F, "amount": a, "before": b, "after": c}, ...]}, ...]}')
    p.add_argument("--max-steps", type=_positive_int, default=MAX_STEPS,
                   help=f"print at most this many steps, then say how many were left out "
                        f"(default {MAX_STEPS})")
    _add_picture_option(p, "--graph", "the expression's computation graph after backward()")
    _add_animate_option(p)
    p.set_defaults(run=run_trace)


def _evaluate_to_draw(args: argparse.Namespace) -> expressions.Evaluation:
    """grad's and trace's start: picture and animation paths checked before any work, then the
    expression evaluated (its output labelled f, as the printed df/dNAME) and its size checked."""
    check_pictures(args, "--graph")
    check_animation(args)
    evaluation = _evaluate(args)
    check_animation_size(args, evaluation.output)
    if not evaluation.output.label:
        evaluation.output.label = "f"
    return evaluation


def run_trace(args: argparse.Namespace) -> int:
    evaluation = _evaluate_to_draw(args)
    output = evaluation.output
    _emit_ledger(trace_backward(output), args, evaluation.unused)
    if args.graph is not None:
        _write_picture(_viz().draw(output), args.graph, lambda: _page().explore(output))
    return 0


def _emit_ledger(ledger: BackwardTrace, args: argparse.Namespace, unused: Sequence[str] = ()) -> None:
    """The ledger as text or JSON; variables given but not used are noted (as grad notes them)."""
    max_steps = getattr(args, "max_steps", None)
    if args.json:
        emit_json({**ledger.to_json(max_steps), **({"unused": list(unused)} if unused else {})})
    else:
        emit("\n".join([ledger.format(max_steps)] + [
            f"note: {name} is given but not used in the expression: backward() never reaches it"
            for name in unused]))
    if args.animate is not None:
        _write_animation(ledger, args.animate)


# ---------------------------------------------------------------------------------------- mazur

def add_mazur(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mazur", help="Matt Mazur's 2-2-2 backpropagation example, step by step",
                       description="Matt Mazur's 2-2-2 logistic network computed by the engine.")
    p.add_argument("--steps", type=_count(MAZUR_MAX_STEPS, "steps", "minutes of training; the error "
                                                           "stops changing long before"),
                   default=1, help=f"training steps, at most {MAZUR_MAX_STEPS:,} (default 1)")
    p.add_argument("--lr", type=_positive_float, default=mazur.LEARNING_RATE,
                   help="learning rate (default 0.5)")
    p.add_argument("--order", choices=mazur.ORDERS, default="simultaneous",
                   help="update order: simultaneous (true gradient descent, default) or sequential "
                        "(reproduces the tutorial's published closing figures)")
    p.add_argument("--train-biases", action="store_true", help="also update b1 and b2")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--summary", action="store_true",
                   help="print only where the training goes (the error before, after one step and "
                        "after --steps, the outputs), not the walk-through")
    p.add_argument("--compiled", action="store_true",
                   help="run the training steps on a compiled replay of the graph (the same numbers, "
                        "faster; simultaneous order only)")
    p.add_argument("--explain", metavar="NAME",
                   help="the chain rule for dE_total/dNAME (e.g. w1): every path, factor by factor")
    p.add_argument("--check", metavar="NAME=FORMULA", type=_mazur_claim,
                   help='check a hand-derived partial over the named nodes, e.g. '
                        '"w5=(out_o1 - 0.01)*out_o1*(1 - out_o1)*out_h1" (exit status 1 if wrong)')
    p.add_argument("--rtol", type=_tolerance, default=1e-6,
                   help="relative tolerance of --check, below 1 (default 1e-6)")
    _add_picture_option(p, "--graph", "the computation graph of E_total after backward(), "
                                      "with the tutorial's weights")
    _add_picture_option(p, "--network", "the network's neurons and weights with dE/dweight, "
                                        "as in the tutorial's figure")
    p.add_argument("--trace", action="store_true",
                   help="print the ledger of backward() on the tutorial's network instead of the "
                        "walk-through: each node, each += (out_h1 gets two)")
    _add_animate_option(p)
    p.set_defaults(run=run_mazur)


def run_mazur(args: argparse.Namespace) -> int:
    if args.trace:
        return run_mazur_trace(args)
    verify = args.explain is not None or args.check is not None
    refuse_unless(args, not verify, ["--steps", "--lr", "--order", "--train-biases", "--compiled",
                                     "--summary"],
                  "does nothing with --explain or --check: they use the tutorial's network before "
                  "any training")
    refuse_unless(args, args.check is not None, ["--rtol"], "does nothing without --check")
    refuse_unless(args, not args.json, ["--summary"], "does nothing with --json (it prints everything)")
    check_pictures(args, "--graph", "--network")
    status = run_mazur_verify(args) if verify else run_mazur_training(args)
    check_animation(args)
    if args.graph is not None or args.network is not None:
        draw_mazur(args.graph, args.network)
    if args.animate is not None:
        _write_animation(backward_lessons.mazur_ledger(), args.animate)
    return status


def run_mazur_training(args: argparse.Namespace) -> int:
    """mazur [--steps N ...]: the walk-through, with a progress bar on a terminal while it trains."""
    try:
        with console.progress(args.steps, "mazur") as bar:
            advance = bar.advance if bar.on_terminal else None  # off a terminal, not even called
            result = mazur.walkthrough(args.steps, args.lr, args.order, args.train_biases,
                                       compiled=args.compiled, advance=advance)
    except OverflowError as error:
        raise OverflowError(f"{error}: training diverged, the learning rate {args.lr:g} is too "
                            "large") from None
    if args.json:
        emit_json(result)
    else:
        emit(mazur.summary_text(result) if args.summary else mazur.walkthrough_text(result))
    return 0


def run_mazur_trace(args: argparse.Namespace) -> int:
    """mazur --trace [--json] [--animate FILE.gif]: the ledger of the tutorial's backward pass."""
    refuse_unless(args, False, ["--steps", "--lr", "--order", "--train-biases", "--compiled", "--summary",
                                "--explain", "--check", "--rtol"],
                  "does nothing with --trace: it shows one backward pass on the tutorial's network")
    check_pictures(args, "--graph", "--network")
    check_animation(args)
    _emit_ledger(backward_lessons.mazur_ledger(), args)
    if args.graph is not None or args.network is not None:
        draw_mazur(args.graph, args.network)
    return 0


def draw_mazur(graph_path: str | None, network_path: str | None) -> None:
    """The tutorial's network after one backward pass: its op-level graph and its neuron view."""
    viz, page = _viz(), _page()
    network = mazur.MazurNetwork()
    nodes = mazur.mazur_nodes(network)
    total = nodes["E_total"]
    total.backward()
    if graph_path is not None:
        _write_picture(viz.draw(total), graph_path,
                       lambda: page.explore(total, waypoints=mazur.mazur_waypoints(nodes)))
    if network_path is not None:
        title = "Matt Mazur's 2-2-2 network with the tutorial's weights"
        _write_picture(viz.draw_network(network.mlp, inputs=network.inputs(), title=title),
                       network_path, lambda: page.explore_network(
                           network.mlp, loss=total, inputs=[nodes["i1"], nodes["i2"]],
                           title="Matt Mazur's 2-2-2 network, starting from the tutorial's weights"))


# ----------------------------------------------------------------------------------- one-weight

def add_one_weight(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("one-weight", help="the one-weight gradient descent example",
                       description="y_hat = x*w, J = (y_hat - y)^2 with x=1.5, y=0.5, w=0.8.")
    p.add_argument("--steps", type=_count(ONE_WEIGHT_MAX_STEPS, "steps", "a row is printed per step"),
                   default=5, help=f"steps, at most {ONE_WEIGHT_MAX_STEPS:,} (default 5)")
    p.add_argument("--lr", type=_positive_float, default=one_weight.LEARNING_RATE,
                   help="learning rate (default 0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_picture_option(p, "--graph", "the computation graph of J after backward() at w = 0.8")
    _add_animate_option(p)
    p.set_defaults(run=run_one_weight)


def run_one_weight(args: argparse.Namespace) -> int:
    check_pictures(args, "--graph")
    check_animation(args)
    training = one_weight.train(args.steps, args.lr)
    if args.json:
        emit_json(training)
    else:
        emit(one_weight.training_text(training))
    if args.graph is not None or args.animate is not None:
        loss = one_weight.loss(Value(one_weight.W0, "w"))
        ledger = _backward(loss, args.animate)
        if args.graph is not None:
            _write_picture(_viz().draw(loss), args.graph, lambda: _page().explore(loss))
        if ledger is not None:
            _write_animation(ledger, args.animate)
    return 0


# ------------------------------------------------------------------- grad, check, explain

def _expression_argv(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """For a command with an EXPR (grad, check, explain, ...): "-x**2" and "--x" are expressions,
    not options, and so is a claim like "--claim -2*x". The command's own options (and -h) stay
    options, written --opt=VALUE; everything else goes after "--", where argparse reads no options.
    A token starting with "--" after the expression is left to argparse (a mistyped option)."""
    command = _subparser(parser, argv[0]) if argv else None
    if command is None or not any(action.dest == "expression" for action in command._actions):
        return argv
    known = {o for action in command._actions for o in action.option_strings}
    takes_value = {o for action in command._actions for o in action.option_strings if action.nargs != 0}
    options: list[str] = []
    positionals: list[str] = []
    rest = iter(argv[1:])
    for token in rest:
        if token == "--":
            positionals.extend(rest)
        elif token in takes_value:
            value = next(rest, None)
            options.append(token if value is None else f"{token}={value}")
        elif token in known or token.partition("=")[0] in takes_value:
            options.append(token)
        elif token.startswith("--") and positionals:
            options.append(token)  # argparse says "unrecognized arguments"
        else:
            positionals.append(token)
    return [argv[0], *options, "--", *positionals]


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def _add_expression(p: argparse.ArgumentParser) -> None:
    p.add_argument("expression", metavar="EXPR",
                   help="e.g. 'sigmoid(w*x + b)': numbers, variables, + - * / **, unary minus, "
                        "parentheses and the functions " + ", ".join(expressions.ops.functions()))
    p.add_argument("bindings", metavar="NAME=VALUE", nargs="*", help="the variables' values")


def _evaluate(args: argparse.Namespace) -> expressions.Evaluation:
    return expressions.parse(args.expression).evaluate(expressions.parse_bindings(args.bindings))


def _variable(args: argparse.Namespace, evaluation: expressions.Evaluation) -> Value:
    """The --wrt variable's leaf; a name that is not given is a usage error."""
    if args.wrt not in evaluation.variables:
        raise UsageError(f"--wrt {args.wrt!r} is not one of the variables given "
                         f"({', '.join(evaluation.variables) or 'none'})")
    return evaluation.variables[args.wrt]


def add_grad(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grad", help="the value of an expression and its partial derivatives",
                       description="Evaluate EXPR at the given values and print the partial "
                                   "derivative with respect to every variable.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--json", action="store_true", help='print {"value": v, "grad": {"NAME": d}}')
    _add_picture_option(p, "--graph", "the expression's computation graph after backward()")
    _add_animate_option(p)
    p.set_defaults(run=run_grad)


def run_grad(args: argparse.Namespace) -> int:
    evaluation = _evaluate_to_draw(args)
    if args.json:
        emit_json(evaluation)
    else:
        emit(expressions.evaluation_text(evaluation))
    if args.graph is not None or args.animate is not None:
        output = evaluation.output
        ledger = _backward(output, args.animate)
        if args.graph is not None:
            _write_picture(_viz().draw(output), args.graph, lambda: _page().explore(output))
        if ledger is not None:
            _write_animation(ledger, args.animate)
    return 0


def add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check a hand-derived partial derivative",
                       description="Compare a claimed partial (a formula over the same variables) "
                                   "with autograd and a central difference. Exit status 0 when it "
                                   "is right, 1 when it is wrong, 2 on bad input.", allow_abbrev=False)
    _add_expression(p)
    p.add_argument("--wrt", required=True, metavar="NAME", type=_WRT, help="the variable")
    p.add_argument("--claim", required=True, metavar="FORMULA", help="the claimed partial, e.g. '-2*x'",
                   type=_given("the claim", "the claimed partial, e.g. --claim '-2*x'"))
    p.add_argument("--rtol", type=_tolerance, default=1e-6,
                   help="relative tolerance, below 1 (default 1e-6)")
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
    _variable(args, expressions.parse(args.expression).evaluate(values))
    symbolic = _symbolic() if args.symbolic else None
    result = diagnose.check_expression(args.expression, args.wrt, args.claim, values, rtol=args.rtol)
    exact = symbolic.check_symbolic(args.expression, args.wrt, args.claim) if symbolic else None
    if args.json:
        emit_json({"expression": args.expression, "claim_formula": args.claim, **result.to_json(),
                   **({"symbolic": exact.to_json()} if exact else {})})
    else:
        at = ", ".join(f"{k}={v:g}" for k, v in values.items())
        emit(format_check(result, f"f = {args.expression.strip()}  at {at}", args.claim))
        if exact:
            emit(exact.message)
    return 0 if result.ok and (exact is None or exact.identical) else 1


def add_diff(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="the derivative as a formula (needs SymPy)",
                       description="The derivative of EXPR with respect to NAME, simplified, written in "
                                   "the expression language (grad and check read it back), or in LaTeX. "
                                   "Needs SymPy: pip install 'micrograd_bp[symbolic]'.", allow_abbrev=False)
    p.add_argument("expression", metavar="EXPR", help="e.g. 'sigmoid(w*x + b)'")
    p.add_argument("--wrt", required=True, metavar="NAME", type=_WRT, help="the variable")
    p.add_argument("--latex", action="store_true", help="print the derivative in LaTeX")
    p.add_argument("--json", action="store_true", help='print {"derivative": TEXT, "latex": TEXT}')
    p.set_defaults(run=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    symbolic = _symbolic()
    result = symbolic.diff(args.expression, args.wrt)
    if args.json:
        emit_json({"derivative": result.derivative, "latex": result.latex})
    else:
        emit(result.latex if args.latex else result.derivative)
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
    p.add_argument("--wrt", required=True, metavar="NAME", type=_WRT, help="the variable")
    p.add_argument("--max-paths", type=_positive_int, default=paths.MAX_PATHS,
                   help=f"list at most this many paths (default {paths.MAX_PATHS})")
    p.add_argument("--latex", action="store_true",
                   help="print the chain rule in LaTeX: one line per path (partials = formulas = "
                        "numbers = product), then the partial as the sum of the paths")
    p.add_argument("--json", action="store_true", help="print one JSON object (each path with its latex)")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    evaluation = _evaluate(args)
    ex = paths.explain(evaluation.output, _variable(args, evaluation), max_paths=args.max_paths)
    if args.latex and not args.json:
        for path in ex.paths:
            emit(path.latex())
        emit(ex.latex())
    else:
        _print_explain(ex, args.json)
    return 0


def format_explain(ex: paths.Explanation) -> str:
    return str(ex)


def _print_explain(ex: paths.Explanation, as_json: bool) -> None:
    """Line by line (text) or path by path (JSON): memory stays proportional to what is printed."""
    if not as_json:
        for line in ex.lines():
            emit(line)
        return
    head = json_text(ex.to_json_head())
    write(head[:-2] + ',\n  "paths": [' + ("" if ex.paths else "]\n}") + "\n")
    for i, path in enumerate(ex.paths):
        block = json_text(path.to_json()).replace("\n", "\n    ")
        write("    " + block + ("," if i + 1 < len(ex.paths) else "\n  ]\n}") + "\n")


def run_mazur_verify(args: argparse.Namespace) -> int:
    """mazur --explain NAME and/or --check NAME=FORMULA."""
    ex = mazur.mazur_explain(args.explain) if args.explain is not None else None
    result = mazur.mazur_check(args.check, rtol=args.rtol) if args.check is not None else None
    if args.json:
        emit_json({**({"explain": ex.to_json()} if ex else {}),
                   **({"check": {"claim_formula": args.check, **result.to_json()}} if result else {})})
    else:
        parts = [format_explain(ex)] if ex else []
        if result:
            parts.append(format_check(result, "Matt Mazur's network (the claim over its named nodes)",
                                      args.check.partition("=")[2]))
        emit("\n\n".join(parts))
    return 0 if result is None or result.ok else 1


# ------------------------------------------------------------------------------------- exercise
# exercise new | attempt | grade: the worksheets (worksheet.py), the page (exercise_page.py) and a
# class's grading (classroom.py) around exercise.Exercise.

def add_exercise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exercise",
                       help="exercises: worksheets, attempts, grading (`new`, `attempt`, `grade`)",
                       description="Backpropagation exercises: make them (a JSON file, a printable "
                                   "worksheet and the answer key per variant), attempt one in the "
                                   "terminal, or grade answers.", allow_abbrev=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    _add_exercise_new(actions)
    _add_exercise_attempt(actions)
    _add_exercise_grade(actions)
    for command in actions.choices.values():
        command.set_defaults(command_parser=command)


def _add_exercise_new(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser("new", help="write exercises, worksheets and the answer key",
                           description="Writes, per variant, exercise-NN.json, worksheet-NN.svg (the "
                                       "graph with an empty box for each asked gradient) with "
                                       "worksheet-NN.html (the drawing and a table to fill in), and "
                                       "all the answers in answer-key.json and answer-key.md.",
                           allow_abbrev=False)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=["mazur"], help="Matt Mazur's 2-2-2 network")
    source.add_argument("--expr", metavar="EXPR",
                        help="an expression, e.g. 'sigmoid(w*x + b)'; its values as NAME=VALUE after it "
                             "(write --expr=EXPR if it starts with '-')")
    p.add_argument("bindings", metavar="NAME=VALUE", nargs="*", help="the variables' values (with --expr)")
    p.add_argument("--ask", metavar="all|NAME,...", action="append",
                   help="the gradients asked: all (default: every node's) or names, comma-separated "
                        "(repeatable)")
    p.add_argument("--variants", type=_positive_int, default=1,
                   help="how many variants: the same graph, other numbers (needs --seed above 1)")
    p.add_argument("--seed", type=int, help="draw the numbers from this seed (variant k uses seed+k-1); "
                                            "without it the given values are used")
    p.add_argument("--out", metavar="DIR", required=True, help="the folder to write (made if missing)")
    p.add_argument("--format", choices=["svg", "png", "pdf"], default="svg",  # worksheet.FORMATS
                   help="the worksheet drawing's format (default svg)")
    p.add_argument("--page", action="store_true",
                   help="also write page-NN.html: the explorable page in exercise mode")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(run=run_exercise_new)


def _add_exercise_attempt(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser("attempt", help="answer an exercise in the terminal, graded as you go",
                           description="Asks each gradient in the order backward() finishes them and "
                                       "grades each answer at once (an empty line skips a question). "
                                       "Reads the answers from stdin. Exit status 0 when every answer "
                                       "is right, 1 otherwise.", allow_abbrev=False)
    p.add_argument("file", metavar="FILE", help="an exercise JSON file (from exercise new)")
    p.add_argument("--reveal", action="store_true",
                   help="show the right answer after each question; the attempt is marked as revealed")
    p.add_argument("--save", metavar="ANSWERS.json",
                   help="write the attempt (student, exercise, answers, revealed) for exercise grade")
    p.add_argument("--student", metavar="NAME", help="the name saved with the attempt")
    p.set_defaults(run=run_exercise_attempt)


def _add_exercise_grade(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser("grade", help="grade answers: one student's, or a whole class's",
                           description="Grades ANSWERS.json ({name: number}, or an attempt saved by "
                                       "exercise attempt --save) against FILE (exit status 0 when every "
                                       "answer is right, 1 otherwise); or, with --class DIR, every "
                                       "answers file in DIR: one CSV row per student and question, and "
                                       "a bar chart (PNG) of the diagnoses.", allow_abbrev=False)
    p.add_argument("files", metavar="FILE ANSWERS.json", nargs="*", help="the exercise and the answers")
    p.add_argument("--json", action="store_true", help="print the graded result as JSON")
    p.add_argument("--class", dest="class_dir", metavar="DIR",
                   help="grade every *.json attempt in DIR (each names its exercise, or give --exercise)")
    p.add_argument("--exercise", metavar="FILE", help="with --class: the exercise of attempts that name none")
    p.add_argument("--csv", metavar="FILE.csv", help="with --class: where to write the rows")
    p.add_argument("--chart", metavar="FILE.png",
                   help="with --class: the chart of diagnoses (default: beside the CSV, .png; needs "
                        "matplotlib: pip install 'micrograd_bp[notebook]')")
    p.set_defaults(run=run_exercise_grade)


def _exercise_module() -> ModuleType:
    from . import exercise
    return exercise


def load_exercise(path: str | Path) -> Any:
    """An exercise file: a missing, malformed or foreign file is one clear line (UsageError)."""
    from . import classroom

    try:
        return classroom.load_exercise(path)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _asked(args: argparse.Namespace) -> str | list[str]:
    """--ask: "all" (the default) or the names, from one or more comma-separated lists."""
    if not args.ask:
        return "all"
    names = [name.strip() for text in args.ask for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return "all"
    if not names or "all" in names:
        raise UsageError("--ask takes all, or node names separated by commas", args.command_parser.prog)
    return names


def _new_exercises(args: argparse.Namespace) -> list[Any]:
    """The variants asked for: one exercise per seed (seed, seed+1, ...), or the given values."""
    if args.variants > 1 and args.seed is None:
        raise UsageError("--variants above 1 needs --seed (each variant draws its numbers from it)",
                         args.command_parser.prog)
    if args.preset and args.bindings:
        raise UsageError("NAME=VALUE goes with --expr (the preset has its own values)",
                         args.command_parser.prog)
    Exercise, ask = _exercise_module().Exercise, _asked(args)
    seeds = [None] if args.seed is None else [args.seed + k for k in range(args.variants)]
    if args.preset:
        return [Exercise.mazur(ask=ask, seed=seed) for seed in seeds]
    values = expressions.parse_bindings(args.bindings)
    return [Exercise.from_expression(args.expr, values, ask=ask, seed=seed) for seed in seeds]


def _exercise_targets(args: argparse.Namespace, n: int) -> None:
    """Every file exercise new writes, checked before anything is: none exists unless --force,
    and dot is installed."""
    from .worksheet import file_names

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    existing = [out / name for name in file_names(n, args.format, args.page) if (out / name).exists()]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists (and {len(existing) - 1} more of the files to write): "
                         "not overwriting; use --force, or another --out")
    if shutil.which("dot") is None:
        raise UsageError(f"a worksheet needs Graphviz's dot to draw the graph; {_viz().INSTALL_HINT}")


def run_exercise_new(args: argparse.Namespace) -> int:
    from . import worksheet

    exercises = _new_exercises(args)
    _exercise_targets(args, len(exercises))
    out, pictures = Path(args.out), _pictures()
    try:
        worksheet.write_set(exercises, out, fmt=args.format, page=args.page)
    except (pictures.GraphvizMissing, pictures.RenderError, _page().PageError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write in {out}: {error.strerror or error}") from None
    first = exercises[0]
    n = len(first.questions)
    emit(f"{len(exercises)} exercise{'s' if len(exercises) > 1 else ''} in {out}/: "
         f"{n} question{'s' if n > 1 else ''} each, in backward order: {', '.join(first.questions)}\n"
         f"answer key (keep it apart): {out / 'answer-key.md'} and {out / 'answer-key.json'}")
    return 0


def _read_answer(prompt: str) -> str | None:
    """One line from stdin after the prompt; None at the end of the input."""
    write(prompt)
    console.flush_stdout()
    line = sys.stdin.readline()
    if line == "" or not sys.stdin.isatty():  # the end, or piped in: shown as if typed
        write(line.rstrip("\n") + "\n")
    return None if line == "" else line.strip()


def _ask(prompt: str) -> float | None:
    """A number typed by the learner; an empty line or the end of the input skips the question
    (None); anything else is asked again, with a line saying why."""
    from .classroom import parse_number

    while True:
        line = _read_answer(prompt)
        if not line:
            return None
        try:
            return parse_number(line, "your answer")
        except ValueError:
            note(f"not a number: {line!r} (type a number such as 0.0822 or -1.5e-3, or an empty "
                 "line to skip)")


def run_exercise_attempt(args: argparse.Namespace) -> int:
    ex = load_exercise(args.file)
    if args.save:
        _check_writable(Path(args.save))
    out, n = ex.names[id(ex.root)], len(ex.questions)
    emit(f"{args.file}: {n} gradient{'s' if n > 1 else ''} d{paths.d(out)}/d(node), in the order "
         "backward() finishes them; type each (an empty line skips one)")
    answers: dict[str, float] = {}
    for k, name in enumerate(ex.questions, 1):
        given = _ask(f"({k}) {ex.question(name).partial} = ")
        if given is not None:
            answers[name] = given
        graded = ex.grade(answers)[name]
        emit(f"    {_verdict(graded)}" if given is not None else "    (skipped)")
        if args.reveal:
            emit(f"    answer: {graded.expected:.9g}")
    result = ex.grade(answers)
    right = sum(1 for name in ex.questions if result[name].ok)
    emit(f"score: {right} of {len(ex.questions)} right ({result.score:.3g})"
         + ("; answers were revealed" if args.reveal else ""))
    if args.save:
        _save_attempt(args, answers)
    return 0 if right == len(ex.questions) else 1


def _save_attempt(args: argparse.Namespace, answers: dict[str, float]) -> None:
    from .classroom import Attempt
    from .worksheet import write_json

    save = Path(args.save)
    exercise = os.path.relpath(Path(args.file).resolve(), save.resolve().parent)
    attempt = Attempt(args.student or save.stem, answers, exercise, args.reveal)
    try:
        write_json(attempt.to_json(), save)
    except OSError as error:
        raise UsageError(f"cannot write {save}: {error.strerror or error}") from None
    note(f"{PROG}: wrote {save}")


def run_exercise_grade(args: argparse.Namespace) -> int:
    if args.class_dir is not None:
        return run_exercise_grade_class(args)
    refuse_unless(args, False, ["--exercise", "--csv", "--chart"], "goes with --class DIR")
    if len(args.files) != 2:
        raise UsageError("exercise grade takes FILE ANSWERS.json (or --class DIR)", args.command_parser.prog)
    from . import classroom

    ex = load_exercise(args.files[0])
    try:
        attempt = classroom.read_attempt(args.files[1])
        classroom.check_names(ex, attempt.answers, args.files[1])
    except ValueError as error:
        raise UsageError(str(error)) from None
    result = ex.grade(attempt.answers)
    if args.json:
        emit_json(json.loads(result.to_json()))
    else:
        emit(_graded_text(ex, result, attempt.student))
    return 0 if all(result[name].ok for name in ex.questions) else 1


def _graded_text(ex: Any, result: Any, student: str) -> str:
    right = sum(1 for name in ex.questions if result[name].ok)
    width = max(len(name) for name in ex.questions)
    lines = [f"{student}: {right} of {len(ex.questions)} right (score {result.score:.3g})"]
    for k, name in enumerate(ex.questions, 1):
        r = result[name]
        given = "-" if r.given is None else f"{r.given:.9g}"
        lines.append(f"({k:>2}) {name:<{width}}  {given:>14}  {_verdict(r)}")
    return "\n".join(lines)


def _verdict(graded: Any) -> str:
    """A graded answer: its diagnosis id and its message (once, when the message starts with it)."""
    message = graded.message
    return message if message.startswith(graded.diagnosis) else f"{graded.diagnosis}: {message}"


def run_exercise_grade_class(args: argparse.Namespace) -> int:
    from . import classroom

    if args.files:
        raise UsageError("--class DIR grades a folder: give no FILE ANSWERS.json with it",
                         args.command_parser.prog)
    chart = args.chart or (str(Path(args.csv).with_suffix(".png")) if args.csv else None)
    for path in filter(None, (args.csv, chart)):
        _check_writable(Path(path))
    if chart is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError(f"--chart {chart}: the chart needs matplotlib: "
                             f"{classroom.INSTALL_CHART}") from None
    try:
        report = classroom.grade_class(args.class_dir, args.exercise)
    except classroom.NoExercise as error:
        raise UsageError(f"{error}: give --exercise FILE") from None
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.csv:
        Path(args.csv).write_text(report.csv_text(), encoding="utf-8")
        note(f"{PROG}: wrote {args.csv}")
    if chart is not None:
        note(f"{PROG}: wrote {classroom.write_chart(report, chart)}")
    if args.json:
        emit_json(report)
    elif args.csv:
        emit(_class_text(report))
    else:
        write(report.csv_text())
    return 0


def _class_text(report: Any) -> str:
    scores = report.scores()
    lines = [f"{len(report.students)} students, {len(report.rows)} answers graded"]
    lines += [f"  {student}: score {score:.3g}" for student, score in scores.items()]
    lines.append("diagnoses: " + ", ".join(f"{name} {count}" for name, count in report.counts().items()))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- moons

MOONS_MAX_STEPS = {True: 100_000, False: 2_000}  # --batch or not, at the default size
# Beyond the default size a step costs about points * (width / 16)**2 sample-steps; at most this many
# in one run (with --batch or not): a few minutes on a laptop, rather than hours.
MOONS_MAX_WORK = {True: 1_000_000_000, False: 200_000}
MOONS_MAX_POINTS = 10_000
MOONS_PLOT_FORMATS = (".png", ".svg", ".pdf")


def add_moons(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("moons", help="train micrograd's moons MLP (max-margin loss): the accuracy and "
                                     "a picture of the decision boundary",
                       description="Gradient descent on two interleaved half-moons with micrograd's "
                                   "demo network, MLP(2, [W, W, 1]) with ReLU, its max-margin loss "
                                   "plus L2, and its learning rate schedule (lr down to lr/10).")
    p.add_argument("--steps", type=_count(MOONS_MAX_STEPS[True], "steps", "minutes of training"),
                   default=100,
                   help=f"training steps (default 100; at most {MOONS_MAX_STEPS[True]:,} with --batch, "
                        f"{MOONS_MAX_STEPS[False]:,} without, fewer on more points or wider layers)")
    p.add_argument("--batch", action="store_true",
                   help="train by the batch replay: one sample's graph replayed over all points at "
                        "once with numpy (the batch extra), about a hundred times faster")
    p.add_argument("--points", type=_positive_int, default=100,
                   help=f"points in the data set, 2 to {MOONS_MAX_POINTS:,} (default 100)")
    p.add_argument("--width", type=_positive_int, default=16,
                   help="neurons per hidden layer, at most 256 (default 16)")
    p.add_argument("--lr", type=_positive_float, default=1.0, help="first learning rate (default 1.0)")
    p.add_argument("--plot", metavar="FILE",
                   help="also draw the decision boundary over the points (.png, .svg or .pdf; needs "
                        "matplotlib, the notebook extra)")
    p.set_defaults(run=run_moons)


def _moons_step_limit(batch: bool, points: int, width: int) -> int:
    """The most steps moons runs at this size, with --batch or not (at least one)."""
    per_step = points * max(1.0, (width / 16) ** 2)
    return max(1, min(MOONS_MAX_STEPS[batch], int(MOONS_MAX_WORK[batch] // per_step)))


def _check_moons(args: argparse.Namespace) -> None:
    prog = args.command_parser.prog
    if not 2 <= args.points <= MOONS_MAX_POINTS:
        raise UsageError(f"--points must be 2 to {MOONS_MAX_POINTS:,}, got {args.points:,}", prog)
    if args.width > 256:
        raise UsageError(f"--width must be at most 256, got {args.width:,}", prog)
    limit = _moons_step_limit(args.batch, args.points, args.width)
    if args.steps > limit:
        mode = "with" if args.batch else "without"
        size = "" if (args.points, args.width) == (100, 16) else \
            f" on {args.points:,} points of width {args.width}"
        raise UsageError(f"--steps {args.steps:,} is more steps than moons runs {mode} --batch{size}: at "
                         f"most {limit:,}" + ("" if args.batch else " (try --batch)"), prog)
    needs = (["numpy"] if args.batch or args.plot else []) + (["matplotlib"] if args.plot else [])
    for module in needs:
        try:
            __import__(module)
        except ImportError:
            extra = "batch" if module == "numpy" else "notebook"
            what = "--batch and --plot need" if module == "numpy" else "--plot needs"
            raise UsageError(f"{what} {module}, which is not installed: pip install "
                             f"'micrograd_bp[{extra}]'") from None
    if args.plot is not None:
        if Path(args.plot).suffix.lower() not in MOONS_PLOT_FORMATS:
            raise UsageError(f"--plot {args.plot}: the picture is written as .png, .svg or .pdf, by "
                             "the file's suffix")
        _check_writable(Path(args.plot))


def run_moons(args: argparse.Namespace) -> int:
    from .examples import moons
    from .nn import MLP, descend

    _check_moons(args)
    model = MLP(2, [args.width, args.width, 1], ["relu", "relu", "none"], seed=moons.MODEL_SEED)
    points, labels = moons.make_moons(args.points)
    params = model.parameters()
    start = float("nan")  # the loss before the first step
    with console.progress(args.steps, "moons") as bar:
        if args.batch:
            from .batch import compile_batch

            sample, data = moons.sample_loss(model)
            replay = compile_batch(sample, params, data)
            rows = moons.rows(points, labels)
            for k in range(args.steps):
                loss = replay.sgd_steps(rows, 1, moons.learning_rate(k, args.steps, args.lr))[0]
                start = loss if k == 0 else start
                bar.advance()
            replay.write_back()
            final, accuracy = replay.forward(rows), moons.batch_accuracy(model, points, labels)
        else:
            for k in range(args.steps):
                loss, _ = moons.max_margin_loss(model, points, labels)
                start = loss.data if k == 0 else start
                model.zero_grad()
                loss.backward()
                descend(params, moons.learning_rate(k, args.steps, args.lr))
                bar.advance()
            last, accuracy = moons.max_margin_loss(model, points, labels)
            final = last.data
    how = "the batch replay" if args.batch else "the eager engine"
    emit(f"moons: MLP(2, [{args.width}, {args.width}, 1]), {args.points:,} points, {args.steps:,} "
         f"step{'s' * (args.steps != 1)} by {how}\n"
         f"loss: {start:.6f} at the start, {final:.6f} after training\n"
         f"accuracy: {accuracy:.1%} ({round(accuracy * args.points):,} of {args.points:,} points)")
    if args.plot is not None:
        from .examples.moons_plot import save_decision_boundary

        save_decision_boundary(model, points, labels, args.plot,
                               title=f"moons after {args.steps:,} steps: accuracy {accuracy:.1%}")
        note(f"wrote {args.plot}")
    return 0


# ---------------------------------------------------------------------------------------- bench

def add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the engine against a closure-per-node reference, the "
                                     "plain-float floor and micrograd",
                       description="Medians over repeated runs, each workload timed side by side "
                                   "with its references in the same run; every engine's loss is "
                                   "checked against the others'. Takes about a minute and a half.")
    p.add_argument("--repeats", type=_count(BENCH_MAX_REPEATS, "runs", "hours of timing"), default=5,
                   help=f"runs per engine, at most {BENCH_MAX_REPEATS:,} (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes for a smoke run: 1,000 Mazur steps, chains of 10,000 and "
                        "100,000 nodes, one moons step")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from . import bench as benchmarks  # here, not at the top: every other command starts faster

    try:
        report = benchmarks.run(args.repeats, args.quick,
                                progress=lambda name: note(f"{PROG} bench: {name}..."))
    except benchmarks.BenchmarkMismatch as error:
        note(f"{PROG}: error: {error}")
        return 1
    if args.json:
        emit_json(report)
    else:
        emit(benchmarks.report_text(report))
    return 0


# ----------------------------------------------------------------------------------------- main

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_mazur, add_one_weight, add_grad,
                                                                 add_check, add_explain, add_diff,
                                                                 add_trace, add_exercise,
                                                                 add_bench,
                                                                 add_moons]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A scalar autograd engine that reproduces and explains "
                                            "backpropagation, number by number.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    for command in sub.choices.values():  # given() and refuse_unless() read each command's defaults
        command.set_defaults(command_parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a claim is wrong, 2 bad input, 74 the
    output could not be written, 130 Ctrl-C, 141 a closed pipe). Never a traceback for these."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()

    def hint(error: UsageError) -> str | None:
        """The command whose --help to suggest: "unrecognized arguments" of a command names it."""
        command = _subparser(parser, argv[0]) if argv and error.command == PROG else None
        return command.prog if command is not None else error.command

    def body() -> int:
        args = parser.parse_args(_expression_argv(parser, argv))
        return int(args.run(args))

    return console.run(body, hint)


if __name__ == "__main__":
    sys.exit(main())
