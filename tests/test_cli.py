"""The command line's own machinery: quiet ends, pictures' paths, refused options, usage errors."""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
from importlib.metadata import version

import pytest
from conftest import REPO, cli_process, run_cli
from oracles import close

import micrograd_bp
from micrograd_bp import cli, parse
from micrograd_bp.examples import mazur, one_weight

# ------------------------------------------------------------------------- closed pipes, full disks


@pytest.mark.parametrize("argv", [["mazur"], ["explain", "x*y + x", "--wrt", "x", "x=3", "y=2"]])
def test_a_closed_pipe_ends_quietly_with_the_sigpipe_status(argv):
    """The reader is gone before the command writes (as `| head -1` can be): no traceback, 141."""
    process = cli_process(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert err == b"" and process.returncode == 128 + signal.SIGPIPE


def test_a_reader_that_stops_after_one_line():
    """As `| head -1` does with a long output: the reader takes one line and goes; the writer then
    meets a closed pipe part way through."""
    many = "x"
    for _ in range(10):
        many = f"({many}+{many})"  # 2**10 paths, 1000 listed: half a megabyte, far more than a pipe holds
    process = cli_process("explain", many, "--wrt", "x", "x=1", "--max-paths", "1000",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert b"by the chain rule: 1024 paths" in first
    assert err == b"" and process.returncode == 128 + signal.SIGPIPE


def test_a_full_disk_is_one_line_and_status_74_not_checks_wrong():
    with open("/dev/full", "w") as full:
        process = cli_process("mazur", stdout=full, stderr=subprocess.PIPE, text=True)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 74  # EX_IOERR: 1 is check's "the claim is wrong"
    assert err == "micrograd-bp: error: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("argv", [["--version"], ["mazur", "--help"], ["grad", "x", "x=1", "--json"]])
def test_help_and_version_to_a_full_disk_are_not_silently_lost(argv):
    """argparse ignores a failed write of --help or --version; the command line does not."""
    with open("/dev/full", "w") as full:
        process = cli_process(*argv, stdout=full, stderr=subprocess.PIPE, text=True)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 74 and err.endswith("No space left on device\n") and err.count("\n") == 1


def test_ctrl_c_ends_quietly_with_status_130():
    """bench reports each workload on stderr before timing it: once the first report is there,
    main() is running; SIGINT then must end it with 130 and no traceback."""
    process = cli_process("bench", "--repeats", "1000", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    first = process.stderr.readline()
    assert first.startswith("micrograd-bp bench: ")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and out == ""


# ------------------------------------------------------------------------------- pictures' paths

@pytest.mark.parametrize("argv", [
    ["mazur", "--graph", "{tmp}/no/such/dir/g.svg"],
    ["mazur", "--json", "--graph", "{tmp}/no/such/dir/g.dot"],
    ["grad", "x*x", "x=1", "--graph", "/proc/micrograd_bp_cannot_write_here.svg"],
    ["one-weight", "--graph", "{tmp}/d.svg"],  # a directory
])
def test_a_bad_picture_path_is_refused_before_any_work(tmp_path, argv):
    (tmp_path / "d.svg").mkdir()
    status, out, err = run_cli(*[a.format(tmp=tmp_path) for a in argv])
    assert status == 2 and out == ""
    assert err.startswith("micrograd-bp: error: cannot write") and err.count("\n") == 1


def test_with_two_pictures_neither_is_written_if_one_path_is_bad(tmp_path):
    good = tmp_path / "g.svg"
    status, out, err = run_cli("mazur", "--graph", good, "--network", tmp_path / "missing" / "n.svg")
    assert status == 2 and out == "" and "missing" in err
    assert list(tmp_path.iterdir()) == []  # the check left nothing behind either
    status, out, err = run_cli("mazur", "--graph", good, "--network", good)
    assert status == 2 and "--network and --graph would both write" in err and not good.exists()


def test_an_existing_file_is_still_replaced_and_the_check_leaves_no_file(tmp_path):
    old = tmp_path / "j.dot"
    old.write_text("old")
    status, _, _ = run_cli("one-weight", "--graph", old)
    assert status == 0 and old.read_text().startswith("digraph")


def test_without_dot_the_dot_fallback_never_overwrites_a_file(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    precious = tmp_path / "f.dot"
    precious.write_text("my own notes")
    status, out, err = run_cli("grad", "x*x", "x=1", "--graph", tmp_path / "f.svg")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "not overwriting" in err and str(precious) in err
    assert precious.read_text() == "my own notes"
    # two pictures whose DOT sources would land in one file
    status, out, err = run_cli("mazur", "--graph", tmp_path / "m.svg", "--network", tmp_path / "m.png")
    assert status == 2 and out == "" and "would both write" in err and str(tmp_path / "m.dot") in err
    # with no file in the way the fallback is written as before
    status, _, err = run_cli("grad", "x*x", "x=1", "--graph", tmp_path / "g.svg")
    assert status == 2 and "cannot render" in err and (tmp_path / "g.dot").read_text().startswith("digraph")


# ------------------------------------------------------------------- options that do nothing

@pytest.mark.parametrize("argv, option", [
    (["mazur", "--explain", "w5", "--steps", "10"], "--steps"),
    (["mazur", "--check", "w5=1", "--lr", "0.1"], "--lr"),
    (["mazur", "--explain", "w5", "--order", "sequential"], "--order"),
    (["mazur", "--explain", "w5", "--train-biases"], "--train-biases"),
    (["mazur", "--explain", "w5", "--compiled"], "--compiled"),
    (["mazur", "--explain", "w5", "--summary"], "--summary"),
    (["mazur", "--rtol", "0.1"], "--rtol"),
    (["mazur", "--explain", "w5", "--rtol", "0.1"], "--rtol"),
    (["mazur", "--json", "--summary"], "--summary"),
])
def test_an_option_that_does_nothing_is_refused(argv, option):
    status, out, err = run_cli(*argv)
    lines = err.splitlines()
    assert status == 2 and out == "" and len(lines) == 2
    assert lines[0].startswith(f"micrograd-bp: error: {option} does nothing")
    assert lines[1] == "Try 'micrograd-bp mazur --help'."


def test_the_options_that_do_something_are_accepted():
    assert run_cli("mazur", "--check", "w5=1", "--rtol", "0.5")[0] == 1  # wrong claim, tolerance used
    assert run_cli("mazur", "--explain", "w5", "--json")[0] == 0
    assert run_cli("mazur", "--steps", "1", "--explain", "w5")[0] == 0  # the default, said again


@pytest.mark.parametrize("rtol", ["1", "2", "inf", "0", "-0.5", "nan"])
def test_a_relative_tolerance_must_be_between_0_and_1(rtol):
    for argv in (["check", "x*x", "--wrt", "x", "--claim", "2*x", "x=1"], ["mazur", "--check", "w5=1"]):
        status, out, err = run_cli(*argv, "--rtol", rtol)
        assert status == 2 and out == "" and "--rtol" in err


def test_a_tolerance_of_one_would_call_any_claim_of_the_right_sign_right():
    """Why 1 is refused: |claim - d| <= 1*|d| holds for every claim between 0 and 2d."""
    status, out, _ = run_cli("check", "x*x", "--wrt", "x", "--claim", "3.9*x", "x=1", "--rtol", "0.99")
    assert status == 0 and "right" in out  # 3.9 against 2: "right" at rtol 0.99 already


# --------------------------------------------------------------------- expressions with minus signs

@pytest.mark.parametrize("argv", [["grad", "--x", "x=1.5", "--json"], ["grad", "--json", "--x", "x=1.5"]])
def test_an_expression_may_start_with_two_minus_signs(argv):
    status, out, err = run_cli(*argv)
    assert status == 0, err
    assert json.loads(out) == {"value": 1.5, "grad": {"x": 1.0}}  # -(-x) = x, d/dx = 1


def test_check_with_a_double_minus_expression_and_claim():
    status, out, err = run_cli("check", "--x*x", "--wrt", "x", "--claim", "--2*x", "x=3")
    assert status == 0 and "right" in out, err


def test_a_mistyped_option_after_the_expression_is_still_an_option_error():
    status, out, err = run_cli("grad", "x*x", "x=1", "--jsno")
    assert status == 2 and out == ""
    assert err.splitlines() == ["micrograd-bp: error: unrecognized arguments: --jsno",
                                "Try 'micrograd-bp grad --help'."]


# ------------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("argv, command", [
    (["explain", "x*y", "x=1", "y=2"], "micrograd-bp explain"),
    (["check", "x", "--wrt"], "micrograd-bp check"),
    (["mazur", "--steps", "0"], "micrograd-bp mazur"),
    (["one-weight", "--lr", "fast"], "micrograd-bp one-weight"),
    (["no-such-command"], "micrograd-bp"),
    ([], "micrograd-bp"),
])
def test_a_usage_error_is_one_line_and_a_hint_to_the_commands_help(argv, command):
    status, out, err = run_cli(*argv)
    lines = err.splitlines()
    assert status == 2 and out == "" and len(lines) == 2
    assert lines[0].startswith("micrograd-bp: error: ") and "usage:" not in err
    assert lines[1] == f"Try '{command} --help'."


def test_the_hinted_help_exists():
    status, out, _ = run_cli("explain", "--help")
    assert status == 0 and "--max-paths" in out


def test_version():
    status, out, _ = run_cli("--version")
    assert status == 0 and out == f"micrograd-bp {version('micrograd_bp')}\n"
    assert micrograd_bp.__version__ == version("micrograd_bp")


# --------------------------------------------------------------------------- input errors, bugs

def test_an_input_error_from_the_library_is_one_line(tmp_path):
    status, out, err = run_cli("grad", "log(x)", "x=0")
    assert status == 2 and out == "" and err.count("\n") == 1 and "log" in err


def test_a_bug_is_not_disguised_as_bad_input(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("a bug in our own code")

    monkeypatch.setattr(cli.expressions, "parse", broken)
    with pytest.raises(TypeError, match="a bug in our own code"):
        run_cli("grad", "x", "x=1")
    monkeypatch.setattr(cli.mazur, "walkthrough", lambda *a, **k: {}["missing"])
    with pytest.raises(KeyError):
        run_cli("mazur")


def test_the_wrt_message_is_the_command_lines():
    status, _, err = run_cli("check", "x", "--wrt", "y", "--claim", "1", "x=1")
    assert status == 2 and err == "micrograd-bp: error: --wrt 'y' is not one of the variables given (x)\n"


# ---------------------------------------------------------------------------------- strict JSON

def test_json_output_is_strict():
    with pytest.raises(cli.UsageError, match="not finite"):
        cli.emit_json({"value": math.inf})
    with pytest.raises(cli.UsageError, match="not finite"):
        cli.emit_json({"grad": {"x": math.nan}})


@pytest.mark.parametrize("argv", [["mazur", "--json", "--steps", "3"], ["one-weight", "--json"],
                                  ["grad", "exp(x)/x", "x=2", "--json"],
                                  ["explain", "x*x", "--wrt", "x", "x=2", "--json"]])
def test_every_json_output_parses_strictly(argv):
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    status, out, _ = run_cli(*argv)
    assert status == 0 and json.loads(out, parse_constant=refuse)


# ------------------------------------------------------------------- learning rates too large

def test_one_weight_says_it_diverged():
    status, out, _ = run_cli("one-weight", "--lr", "10", "--steps", "3")
    # by hand: w - 1/3 is multiplied by 1 - 2*10*1.5**2 = -44 each step: 0.8 -> -20.2 -> 903.8
    assert status == 0 and "w converges" not in out
    assert "w diverged" in out and "-44" in out and "too large" in out
    assert "-39752.2" in out  # 1/3 + (-44)**3 * (0.8 - 1/3)


def test_one_weight_at_the_limit_oscillates_and_below_it_converges():
    assert "oscillates" in run_cli("one-weight", "--lr", repr(1 / 2.25))[1]
    assert "w converges to 1/3" in run_cli("one-weight", "--lr", "0.44")[1]
    training = one_weight.train(200, 0.4)  # -0.8 a step
    assert training.converges and close(training[-1].w_after, 1 / 3, 1e-9)
    assert not one_weight.train(3, 0.45).converges


def test_one_weight_past_the_float_range_is_an_error_naming_the_learning_rate():
    status, out, err = run_cli("one-weight", "--lr", "1e308")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "diverged" in err and "learning rate 1e+308 is too large" in err


def test_mazur_with_a_huge_learning_rate_says_it_is_too_large():
    status, out, err = run_cli("mazur", "--lr", "1e300", "--order", "sequential")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "training diverged, the learning rate 1e+300 is too large" in err


def test_mazur_summary_prints_only_what_a_long_run_adds():
    status, out, _ = run_cli("mazur", "--steps", "10000", "--summary")
    assert status == 0
    # the reference numbers of the simultaneous order (shared/reference/mazur-2-2-2.md)
    assert "E_total before: 0.298371109" in out and "E_total after 1 step: 0.291027774" in out
    assert "E_total after 10000 steps: 0.000035102" in out
    assert "out_o1 0.015913620, out_o2 0.984064274" in out
    assert "The forward pass" not in out and "All gradients" not in out


def test_make_demo_prints_the_walk_through_once_and_writes_its_pictures(tmp_path):
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^demo:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert "STAMP" in recipe.group(1) and "dot" in recipe.group(1).split()
    # the demo's own stamp installs the package with the animation extra, not the dev toolchain
    stamp = re.search(r"^\$\(DEMO_STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "'.[animation]'" in stamp and "dev" not in stamp
    out_dir = re.search(r"^DEMO_OUT := (\S+)", makefile, re.M).group(1)
    commands = [line.strip().split()[1:] for line in recipe.group(2).splitlines()
                if line.strip().startswith("$(VENV)/bin/micrograd-bp")]
    commands = [[str(tmp_path / a.split("/", 1)[1]) if a.startswith("$(DEMO_OUT)/") else a
                 for a in argv if a != ">/dev/null"] for argv in commands]
    outputs = [run_cli(*argv) for argv in commands]
    assert all(status == 0 for status, _, _ in outputs), outputs
    printed = "".join(out for _, out, _ in outputs)
    # the walk-through shown once (the page and GIF commands' stdout goes to /dev/null)
    shown = "".join(out for (_, out, _), argv in zip(outputs, recipe.group(2).splitlines()[1:])
                    if ">/dev/null" not in argv)
    assert printed.count("E_total after 10000 steps") == 1 and shown.count("The forward pass") == 1
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {"mazur_graph.svg", "mazur_network.svg", "mazur_page.html", "mazur_backward.gif"}
    for name in written:  # and the recipe says where each one is
        assert f"@echo \"  {name}" in recipe.group(2)
    assert "$(CURDIR)/$(DEMO_OUT)/" in recipe.group(2) and out_dir == "demo-output"
    assert "demo-output/" in (REPO / ".gitignore").read_text().split()


# --------------------------------------------------------- result objects print as the CLI prints

def test_result_objects_print_as_the_command_line_prints_them():
    assert run_cli("grad", "x*y + y", "x=2", "y=3")[1] == \
        str(parse("x*y + y").evaluate(x=2, y=3)) + "\n"
    assert repr(parse("x*x").evaluate(x=3)) == "f = x*x  at x=3\n  value  9\n  df/dx  6"  # by hand
    assert run_cli("one-weight", "--steps", "3")[1] == repr(one_weight.train(3)) + "\n"
    assert run_cli("mazur", "--steps", "2")[1] == str(mazur.walkthrough(2)) + "\n"
    assert run_cli("mazur", "--steps", "2", "--summary")[1] == mazur.summary_text(mazur.walkthrough(2)) + "\n"


def test_mazur_with_a_huge_learning_rate_says_training_stalled():
    status, out, _ = run_cli("mazur", "--lr", "1e300", "--summary")
    assert status == 0
    assert "Training stalled" in out and "the learning rate 1e+300 is too large" in out
    # the evidence: more steps change nothing
    one, five = mazur.walkthrough(1, 1e300), mazur.walkthrough(5, 1e300)
    assert one.final_error == five.final_error and one.final_error > 0.01
    assert "stalled" not in run_cli("mazur", "--steps", "3", "--summary")[1]


def test_mazur_says_it_diverged_when_the_error_grew():
    status, out, _ = run_cli("mazur", "--lr", "1e300", "--train-biases", "--steps", "2")
    # both outputs saturate at 0: E = 0.5*(0.01**2 + 0.99**2) = 0.4901 > 0.298371109
    assert status == 0 and "E_total after 2 steps: 0.490100000" in out
    assert "The error grew from 0.298371109 to 0.490100000: training diverged" in out


# check.py was split by the tutor branch, which dropped its one "--wrt" message (the CLI checks
# --wrt itself, see test_the_wrt_message_is_the_command_lines).
CLI_SPEAK_NOT_YET_REMOVED: set[str] = set()


def test_library_errors_do_not_speak_the_command_line():
    """No message the package raises names a command-line option: only cli.py knows about them."""
    import ast

    package = REPO / "micrograd_bp"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "cli.py" or path.name in CLI_SPEAK_NOT_YET_REMOVED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise):
                texts = [c.value for c in ast.walk(node)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                offenders += [f"{path.name}: {t}" for t in texts if re.search(r"(^|[\s(])--[a-z]", t)]
    assert offenders == []
    assert re.search(r"(^|[\s(])--[a-z]", "--wrt 'y' is not one of")  # the pattern finds one


# ------------------------------------------------------------------- empty values, endless runs

@pytest.mark.parametrize("argv, message", [
    (["check", "x*y", "--wrt", "x", "--claim", "", "x=1", "y=2"], "argument --claim: the claim is empty"),
    (["check", "x*y", "--wrt", "x", "--claim", "  ", "x=1", "y=2"], "argument --claim: the claim is empty"),
    (["mazur", "--check", "w5="], "argument --check: the claim after w5= is empty"),
    (["mazur", "--check", ""], "argument --check: the claim is empty"),
    (["grad", "x*y", "x=1", "y=2", "--graph", ""], "argument --graph: the path is empty"),
    (["mazur", "--network", ""], "argument --network: the path is empty"),
    (["trace", "x", "x=1", "--animate", ""], "argument --animate: the path is empty"),
    (["explain", "x", "--wrt", "", "x=1"], "argument --wrt: the variable's name is empty"),
])
def test_an_empty_value_is_named_as_empty(argv, message):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == ""
    assert err.startswith(f"micrograd-bp: error: {message}: give ") and err.count("\n") == 2


@pytest.mark.parametrize("argv, limit", [
    (["mazur", "--steps", "99999999999999999999"], "steps: at most 10,000,000"),
    (["mazur", "--steps", "10000001", "--compiled"], "steps: at most 10,000,000"),
    (["one-weight", "--steps", "10001"], "steps: at most 10,000"),
    (["bench", "--repeats", "1001"], "runs: at most 1,000")])
def test_a_count_that_cannot_finish_is_refused_at_once(argv, limit):
    status, out, err = run_cli(*argv)
    what, _, most = limit.partition(": ")
    assert status == 2 and out == ""
    assert f"argument {argv[1]}: {argv[2]} is more {what} than this command runs: {most} (" in err


def test_the_largest_step_count_is_taken():
    status, out, _ = run_cli("one-weight", "--steps", "10000", "--json")
    assert status == 0 and len(json.loads(out)["steps"]) == 10_000
