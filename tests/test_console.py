"""console: the progress bar (a fake clock and a fake terminal), negative zeros, exit handling."""

from __future__ import annotations

import io
import json

import pytest
from conftest import run_cli

from micrograd_bp import console


class Terminal(io.StringIO):
    """A stream that says it is a terminal: what the bar writes to it is kept."""

    def isatty(self) -> bool:
        return True


class Clock:
    """A clock that reads what the test sets."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bar_on(stream: io.StringIO, total: int = 1_000, label: str = "train") -> tuple[console.Progress, Clock]:
    clock = Clock()
    return console.Progress(total, label, stream=stream, clock=clock, interval=0.1, delay=0.5), clock


# ------------------------------------------------------------------------------------ progress

def test_the_estimate_is_the_steps_left_over_the_rate_so_far():
    """250 of 1,000 steps after 1 s: 250 steps/s, so 750 left take 3 s; 500 after 2 s: 2 s left;
    closed at 2.5 s with 500 done: 200 steps/s, 500 left take 2.5 s, shown rounded up as 0:03."""
    stream = Terminal()
    bar, clock = bar_on(stream)
    clock.now = 0.2
    bar.advance(100)
    assert stream.getvalue() == ""  # within the delay: a short run draws nothing
    clock.now = 1.0
    bar.advance(150)
    first = "\rtrain [#####...............] 250/1,000 25%  250 steps/s  0:03 left"
    assert stream.getvalue() == first
    clock.now = 1.05
    bar.advance(10)
    assert stream.getvalue() == first  # at most once per interval
    clock.now = 2.0
    bar.advance(240)
    second = "\rtrain [##########..........] 500/1,000 50%  250 steps/s  0:02 left"
    assert stream.getvalue() == first + second
    clock.now = 2.5
    bar.close()
    assert stream.getvalue() == first + second + \
        "\rtrain [##########..........] 500/1,000 50%  200 steps/s  0:03 left\n"


def test_the_last_step_is_drawn_at_once_with_the_time_taken():
    stream = Terminal()
    bar, clock = bar_on(stream, total=90_000, label="mazur")
    clock.now = 0.6
    bar.advance(30_000)
    clock.now = 0.61
    bar.advance(60_000)  # within the interval, but the last step
    assert stream.getvalue().endswith("\rmazur [####################] 90,000/90,000 100%  "
                                      "147,541 steps/s  done in 0:01")  # 90,000 / 0.61 s


def test_a_shorter_line_blanks_what_the_longer_one_left():
    """1,000 steps/s, then 1 step/s: the rate loses four characters, the estimate (8,999 steps
    left at 1.001 steps/s: 8,990.01 s, 2:29:51) gains three, so one space blanks the last."""
    stream = Terminal()
    bar, clock = bar_on(stream, total=10_000)
    clock.now = 1.0
    bar.advance(1_000)
    clock.now = 1_000.0
    bar.advance(1)
    assert stream.getvalue() == ("\rtrain [##..................] 1,000/10,000 10%  1,000 steps/s  0:09 left"
                                 "\rtrain [##..................] 1,001/10,000 10%  1 steps/s  2:29:51 left ")


def test_off_a_terminal_it_draws_nothing():
    stream = io.StringIO()  # a pipe or a file
    bar, clock = bar_on(stream)
    for t in range(1, 11):
        clock.now = float(t)
        bar.advance(100)
    bar.close()
    assert stream.getvalue() == ""


def test_the_line_is_ended_however_the_block_ends():
    stream = Terminal()
    clock = Clock()
    with pytest.raises(KeyboardInterrupt):
        with console.Progress(100, "run", stream=stream, clock=clock, delay=0.0) as bar:
            clock.now = 1.0
            bar.advance(40)
            raise KeyboardInterrupt
    assert stream.getvalue().endswith("40/100 40%  40 steps/s  0:02 left\n")


def test_the_progress_function_draws_on_the_stream_given():
    stream = io.StringIO()
    with console.progress(5, "x", stream=stream) as bar:
        bar.advance(5)
    assert bar.done == 5 and stream.getvalue() == ""


@pytest.mark.parametrize("seconds, text", [(7, "0:07"), (125, "2:05"), (3723, "1:02:03"), (2.1, "0:03"),
                                           (0, "0:00"), (59.5, "1:00")])
def test_clock_time(seconds, text):
    assert console.clock_time(seconds) == text


def test_a_long_mazur_run_on_a_terminal_shows_its_progress(monkeypatch, capsys):
    """mazur --steps through the bar: every step is counted, and the last line says done."""
    stream = Terminal()
    clock = Clock()
    made = []

    def progress(total, label, **options):
        made.append(console.Progress(total, label, stream=stream, clock=clock, delay=0.0, interval=0.0))
        clock.now = 1.0
        return made[-1]

    monkeypatch.setattr(console, "progress", progress)
    from micrograd_bp.cli import main

    assert main(["mazur", "--steps", "25000", "--compiled", "--summary"]) == 0
    assert made[0].done == 25_000 and made[0].total == 25_000
    assert stream.getvalue().endswith("25,000/25,000 100%  25,000 steps/s  done in 0:01\n")
    assert "E_total after 25000 steps" in capsys.readouterr().out


# ------------------------------------------------------------------------------ negative zeros

@pytest.mark.parametrize("text, shown", [
    ("-0", "0"), ("value  -0\n", "value  0\n"), ("x=-0.000 y", "x=0.000 y"), ("(-0)", "(0)"),
    ("= -0e+00", "= 0e+00"), ("-0*x", "-0*x"), ("1e-05", "1e-05"), ("-0.5", "-0.5"), ("a-0", "a-0"),
    ("-0.0001", "-0.0001"), ("x_-0", "x_-0"), ("-00", "-00"), ("1.-0", "1.-0")])
def test_a_printed_negative_zero_reads_as_zero(text, shown):
    assert console.without_negative_zero(text) == shown


@pytest.mark.parametrize("argv", [["grad", "-x", "x=0"], ["trace", "x*y", "x=0", "y=-1"],
                                  ["explain", "x*y", "--wrt", "y", "x=-0.0", "y=1"],
                                  ["check", "x*y", "--wrt", "x", "--claim", "-y", "x=0", "y=0"]])
def test_no_negative_zero_in_the_command_line_output(argv):
    """Each of these computes a -0.0 (-x at 0, 0 times -1, ...), which Python prints as -0."""
    status, out, err = run_cli(*argv)
    assert status in (0, 1) and out
    assert "-0 " not in out + " " and "-0\n" not in out and "= -0" not in out


def test_no_negative_zero_in_json():
    status, out, _ = run_cli("grad", "x*y", "x=0", "y=-1", "--json")
    assert status == 0 and "-0" not in out
    assert json.loads(out) == {"value": 0.0, "grad": {"x": -1.0, "y": 0.0}}


# ------------------------------------------------------------------------------- exit handling

def test_run_maps_errors_to_statuses(capsys):
    def usage() -> int:
        raise console.UsageError("bad thing", "micrograd-bp grad")

    def domain() -> int:
        raise ZeroDivisionError("division by zero")

    assert console.run(lambda: 1) == 1
    assert console.run(usage) == 2
    assert console.run(domain) == 2
    err = capsys.readouterr().err
    assert err == ("micrograd-bp: error: bad thing\nTry 'micrograd-bp grad --help'.\n"
                   "micrograd-bp: error: division by zero\n")


def test_a_bug_is_not_disguised_as_bad_input():
    def bug() -> int:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        console.run(bug)
