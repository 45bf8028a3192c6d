"""The command line's output: printing results, exit statuses, never a traceback, a progress bar."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from typing import IO, Callable

PROG = "micrograd-bp"
# The package's own input errors (ExprError and ShapeError are ValueErrors; domain errors are
# ValueError, ZeroDivisionError, OverflowError): one line and exit status 2. Anything else (a
# TypeError, KeyError or AttributeError) is a bug and is not disguised as bad input.
INPUT_ERRORS = (ValueError, ZeroDivisionError, OverflowError)
# Exit statuses: 0 done (a claim is right), 1 a claim is wrong, 2 bad input. A closed pipe ends
# quietly with the shell's status for SIGPIPE, a failed write (a full disk) with one line and 74,
# Ctrl-C with the shell's status for SIGINT.
EXIT_USAGE, EXIT_WRITE_FAILED, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED = 2, 74, 128 + 13, 128 + 2  # 74: EX_IOERR


class UsageError(Exception):
    """Bad command-line input: one line, exit status 2; with `command`, a hint to its --help."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class OutputFailed(Exception):
    """Writing to stdout failed (not a closed pipe: that is BrokenPipeError)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))


# ---------------------------------------------------------------------------------------- output
# Everything goes through these; run() turns a failed write into a quiet exit.

# A number printed as a negative zero ("-0", "-0.000", "-0e+00"), standing alone: a result that is
# -0.0, or a tiny negative rounded away. Not inside a formula ("-0*x"), a name or a longer number.
_NEGATIVE_ZERO = re.compile(r"(?<![\w.)\]])-(0(?:\.0*)?(?:e[+-]?0+)?)(?![\w.(*/^])", re.IGNORECASE)


def without_negative_zero(text: str) -> str:
    """text with every printed negative zero written as zero: -0.0 == 0.0, and a learner reading
    "-0" looks for a sign that means nothing."""
    return _NEGATIVE_ZERO.sub(r"\1", text)


def emit(text: str) -> None:
    """One block of output on stdout (a negative zero printed as zero)."""
    write(without_negative_zero(text) + "\n")


def write(text: str) -> None:
    """text on stdout as it is; a failed write (not a closed pipe) raises OutputFailed."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputFailed(error) from None


def json_text(data: object) -> str:
    """data as strict JSON, indented, each -0.0 written as 0.0: a nan or an infinity is a
    UsageError, not the NaN or Infinity that strict parsers reject."""
    try:
        return json.dumps(_zero_signless(data), indent=2, allow_nan=False)
    except ValueError:
        raise UsageError("the result holds a number that is not finite (nan or inf), which JSON "
                         "cannot represent") from None


def _zero_signless(data: object) -> object:
    if isinstance(data, float):
        return 0.0 if data == 0 else data
    if isinstance(data, dict):
        return {key: _zero_signless(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_zero_signless(value) for value in data]
    return data


def emit_json(result: object) -> None:
    """A result's to_json() (or a dict), as strict JSON (see json_text)."""
    data = result if isinstance(result, dict) else result.to_json()  # type: ignore[attr-defined]
    write(json_text(data) + "\n")


def note(text: str) -> None:
    """A line on stderr (what was written, an error); a failure to write it is ignored."""
    try:
        print(text, file=sys.stderr)
    except OSError:
        pass


def flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputFailed(error) from None


def _silence_stdout() -> None:
    """After a failed write: point stdout at /dev/null, so the interpreter's own flush at exit
    does not fail again with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


# ----------------------------------------------------------------------------------- exit handling

def run(body: Callable[[], int], hint: Callable[[UsageError], str | None] = lambda e: e.command) -> int:
    """body() with the command line's exit handling; returns the exit status, never a traceback
    for bad input or a failed write.

    body returns its own status (0 done, 1 a claim is wrong). A UsageError or an input error
    (INPUT_ERRORS) is one line on stderr and status 2; a UsageError then points at
    `hint(error) --help` when hint names a command. SystemExit (argparse's --help and --version,
    already printed) gives its code; Ctrl-C 130; a closed pipe 141, quietly; a failed write
    (a full disk) one line and 74.
    """
    try:
        status = _report_input_errors(body, hint)
        flush_stdout()
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing more to say, to anyone
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputFailed as error:
        _silence_stdout()
        note(f"{PROG}: error: cannot write the output: {error}")
        return EXIT_WRITE_FAILED


def _report_input_errors(body: Callable[[], int], hint: Callable[[UsageError], str | None]) -> int:
    try:
        return body()
    except SystemExit as exit_:  # --help and --version have printed
        return int(exit_.code or 0)
    except UsageError as error:
        note(f"{PROG}: error: {error}")
        command = hint(error)
        if command:
            note(f"Try '{command} --help'.")
        return EXIT_USAGE
    except INPUT_ERRORS as error:
        note(f"{PROG}: error: {error}")
        return EXIT_USAGE


# ------------------------------------------------------------------------------------ progress

class Progress:
    """A progress bar on stderr for a long run of `total` steps: call advance(n) as steps are done.

    On a terminal it draws, on one line redrawn in place, the steps done, the rate and an estimate
    of the time left, from the rate so far:

        mazur [#######.............] 35,000/100,000 35%  41,200 steps/s  0:02 left

    It draws nothing for a run that ends within `delay` seconds, at most once per `interval`
    seconds after that, and ends its line when closed. Off a terminal (a pipe, a file, a test's
    capture) it draws nothing at all, so a script's stderr holds only what the command says.
    """

    WIDTH = 20  # characters of the bar itself

    def __init__(self, total: int, label: str, *, unit: str = "steps", stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.1,
                 delay: float = 0.5) -> None:
        self.total, self.label, self.unit = max(int(total), 0), label, unit
        self.stream = sys.stderr if stream is None else stream
        self.clock, self.interval, self.delay = clock, interval, delay
        self.done = 0
        self.start = clock()
        self._drawn_at: float | None = None  # when the line was last drawn; None: never
        self._width = 0  # the length of the line drawn last, to blank what a shorter one leaves
        self.on_terminal = _is_terminal(self.stream)

    def advance(self, n: int = 1) -> None:
        """n more steps are done; redraws the line if it is time to."""
        self.done = min(self.done + n, self.total)
        if not self.on_terminal:
            return
        now = self.clock()
        if now - self.start < self.delay:
            return
        if self._drawn_at is None or now - self._drawn_at >= self.interval or self.done == self.total:
            self._draw(now)

    def close(self) -> None:
        """Ends the line, if one was drawn, showing where the run stopped."""
        if self._drawn_at is not None:
            self._draw(self.clock())
            self._put("\n")
            self._drawn_at = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def line(self, now: float) -> str:
        """The line drawn at time now (by the clock given): bar, count, percent, rate, time left."""
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        text = (f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                f"{self.done:,}/{self.total:,} {int(fraction * 100)}%")
        elapsed = now - self.start
        if self.done == 0 or elapsed <= 0:
            return f"{text}  estimating the time left"
        rate = self.done / elapsed
        if self.done == self.total:
            return f"{text}  {rate:,.0f} {self.unit}/s  done in {clock_time(elapsed)}"
        return f"{text}  {rate:,.0f} {self.unit}/s  {clock_time((self.total - self.done) / rate)} left"

    def _draw(self, now: float) -> None:
        text = self.line(now)
        self._put("\r" + text + " " * max(self._width - len(text), 0))
        self._width = len(text)
        self._drawn_at = now

    def _put(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal: the bar is not worth failing the run
            self.on_terminal = False


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def clock_time(seconds: float) -> str:
    """Seconds as a clock reads: 0:07, 2:05, 1:02:03 (rounded up: "0:00 left" only at the end)."""
    whole = math.ceil(seconds) if math.isfinite(seconds) else 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress(total: int, label: str, *, unit: str = "steps", stream: IO[str] | None = None) -> Progress:
    """A progress bar for `total` steps on stderr (or stream), drawn only on a terminal:
    `with console.progress(steps, "mazur") as bar: ... bar.advance(n)`; the line is ended however
    the block ends. See Progress."""
    return Progress(total, label, unit=unit, stream=stream)
