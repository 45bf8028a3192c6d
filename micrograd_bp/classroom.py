"""A class's attempts graded together: one row per student and question, and a chart of the diagnoses."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exercise import Exercise

CSV_COLUMNS = ("student", "exercise", "question", "given", "expected", "ok", "diagnosis", "score",
               "revealed")
COLOURS = {"right": "#4c9a2a", "close": "#8cc56b", "carried": "#e0a030", "not-answered": "#9a9a9a"}
INSTALL_CHART = "pip install 'micrograd_bp[notebook]' (or pip install matplotlib)"


class NoExercise(ValueError):
    """An attempt names no exercise, and grade_class was given none for it."""


class ChartUnavailable(ImportError):
    """matplotlib is not installed, so the chart of diagnoses cannot be drawn."""


# ----------------------------------------------------------------------------------- an attempt

@dataclass
class Attempt:
    """One student's answers to one exercise: what `exercise attempt --save` writes, or a plain
    {name: number} file (the student is then the file's name)."""

    student: str
    answers: dict[str, float]
    exercise: str | None = None  # the exercise file the attempt names, as written in it
    revealed: bool = False
    path: Path | None = None

    def to_json(self) -> dict:
        return {"student": self.student, "exercise": self.exercise, "answers": dict(self.answers),
                "revealed": self.revealed}


def _shown(value: object, limit: int = 60) -> str:
    """A JSON value for a message, cut to limit characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def parse_number(text: object, where: str) -> float:
    """An answer: a JSON number, or a string holding one ("0.0822", " -1e-3 "); else ValueError
    naming where it was found. Never eval'd."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise ValueError(f"{where}: expected a number, got {_shown(text)}")
    try:
        x = float(text.strip().replace("\u2212", "-")) if isinstance(text, str) else float(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{where}: expected a number, got {_shown(text)}") from None
    if not math.isfinite(x):
        raise ValueError(f"{where}: expected a finite number, got {_shown(text)}")
    return x


def parse_answers(data: object, where: str) -> dict[str, float]:
    """{name: number} with each number checked; a null answer is left out (not answered)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: the answers must be a JSON object {{name: number}}, "
                         f"got {type(data).__name__ if not isinstance(data, list) else 'a list'}")
    return {str(name): parse_number(value, f"{where}: the answer to {name!r}")
            for name, value in data.items() if value is not None}


def read_json(path: str | Path) -> Any:
    """A JSON file; a missing, unreadable or malformed file is a ValueError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, "
                         f"column {error.colno})") from None


def is_attempt(data: object) -> bool:
    """An attempt as `exercise attempt --save` writes it (an object with its answers)."""
    return isinstance(data, dict) and isinstance(data.get("answers"), dict)


def attempt_from_json(data: object, path: Path) -> Attempt:
    """An attempt from a file's JSON: a saved attempt, or a plain {name: number}."""
    where = str(path)
    if isinstance(data, dict) and "variants" in data and not is_attempt(data):
        raise ValueError(f"{where}: this is an answer key, not a student's answers: give a file of "
                         "{name: number}, or a saved attempt")
    if not is_attempt(data):
        return Attempt(path.stem, parse_answers(data, where), path=path)
    student = data.get("student") or path.stem
    exercise = data.get("exercise")
    if exercise is not None and not isinstance(exercise, str):
        raise ValueError(f"{where}: \"exercise\" must be a file name, got {json.dumps(exercise)}")
    return Attempt(str(student), parse_answers(data["answers"], f"{where}: answers"), exercise,
                   bool(data.get("revealed", False)), path)


def read_attempt(path: str | Path) -> Attempt:
    """An attempt file (see Attempt); ValueError with the file's name when it is not one."""
    path = Path(path)
    return attempt_from_json(read_json(path), path)


# --------------------------------------------------------------------------------- the class

@dataclass
class Row:
    """One student's answer to one question, graded."""

    student: str
    exercise: str
    question: str
    given: float | None
    expected: float
    ok: bool
    diagnosis: str
    score: float  # the student's score on the whole exercise
    revealed: bool

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in CSV_COLUMNS}


@dataclass
class ClassReport:
    """Every row of a class, the students in order, and the files skipped (exercises, not attempts)."""

    rows: list[Row] = field(default_factory=list)
    students: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How often each diagnosis occurs, in the catalogue's order (mistakes.IDS)."""
        from .mistakes import IDS

        counted = Counter(row.diagnosis for row in self.rows)
        rank = {name: k for k, name in enumerate(IDS)}
        return dict(sorted(counted.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))

    def scores(self) -> dict[str, float]:
        """Each student's score (fraction of the questions right)."""
        return {row.student: row.score for row in self.rows}

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            writer.writerow([_cell(row, name) for name in CSV_COLUMNS])
        return out.getvalue()

    def to_json(self) -> dict:
        return {"students": self.students, "scores": self.scores(), "counts": self.counts(),
                "rows": [row.to_json() for row in self.rows], "skipped": self.skipped}


def _cell(row: Row, name: str) -> str:
    """A row's value as CSV text: numbers as Python's repr (they read back exactly), the score
    to 4 digits, booleans as true/false, an unanswered question's answer empty."""
    value = getattr(row, name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if name == "score":
        return f"{value:.4g}"
    return repr(value) if isinstance(value, float) else str(value)


def _exercise_path(attempt: Attempt, default: Path | None) -> Path:
    if attempt.exercise is None:
        if default is None:
            raise NoExercise(f"{attempt.path}: the attempt names no exercise, and no exercise was "
                             "given for such attempts")
        return default
    named = Path(attempt.exercise)
    if not named.is_absolute() and attempt.path is not None:
        beside = attempt.path.parent / named
        named = beside if beside.exists() or default is None else named
    return named if named.exists() or default is None else default


def grade_class(directory: str | Path, exercise: str | Path | None = None) -> ClassReport:
    """Grade every attempt (*.json) in directory against its exercise: the one it names (a path
    relative to the attempt's folder, or absolute) or `exercise`. Exercise files in the folder are
    skipped; a file that is neither is a ValueError naming it."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such directory" if not directory.exists()
                         else f"{directory}: not a directory")
    default = Path(exercise) if exercise is not None else None
    loaded: dict[Path, Any] = {}
    report = ClassReport()
    for path in sorted(directory.glob("*.json")):
        data = read_json(path)
        if is_exercise(data):
            report.skipped.append(path.name)
            continue
        attempt = attempt_from_json(data, path)
        source = _exercise_path(attempt, default)
        key = source.resolve()
        if key not in loaded:
            loaded[key] = load_exercise(source)
        report.students.append(attempt.student)
        report.rows += grade_rows(loaded[key], attempt, source.name)
    if not report.students:
        raise ValueError(f"{directory}: no attempts (*.json answer files) to grade")
    return report


def load_exercise(path: str | Path) -> Exercise:
    """An exercise file; a missing, malformed or foreign file is a ValueError naming it."""
    from .exercise import Exercise

    data = read_json(path)
    if not is_exercise(data):
        raise ValueError(f"{path}: not an exercise file (exercise new writes them)")
    try:
        return Exercise.from_json(json.dumps(data))
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path}: a damaged exercise file ({type(error).__name__}: {error})") from None


def grade_rows(ex: Any, attempt: Attempt, exercise_name: str) -> list[Row]:
    """One row per question of ex, for one attempt."""
    check_names(ex, attempt.answers, str(attempt.path or attempt.student))
    result = ex.grade(attempt.answers)
    return [Row(attempt.student, exercise_name, name, result[name].given, ex.keys[name],
                result[name].ok, result[name].diagnosis, result.score, attempt.revealed)
            for name in ex.questions]


def check_names(ex: Any, answers: dict[str, float], where: str) -> None:
    """Every answered name is a question of ex; else ValueError naming it and the questions."""
    unknown = [name for name in answers if name not in ex.questions]
    if unknown:
        shown = ", ".join(ex.questions[:12]) + (", ..." if len(ex.questions) > 12 else "")
        raise ValueError(f"{where}: {unknown[0]!r} is not a question of the exercise "
                         f"(its questions: {shown})")


def is_exercise(data: object) -> bool:
    """An exercise file (exercise new's exercise-NN.json, Exercise.to_json), not an attempt."""
    from .exercise import FORMAT

    return isinstance(data, dict) and data.get("format") == FORMAT


# --------------------------------------------------------------------------------- the chart

def write_chart(report: ClassReport, path: str | Path) -> Path:
    """A bar chart (PNG) of how often each diagnosis occurs in the class; needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ChartUnavailable(f"the chart needs matplotlib: {INSTALL_CHART}") from None
    path = Path(path)
    counts = report.counts()
    figure, axes = plt.subplots(figsize=(max(5.0, 1.1 * len(counts) + 2), 3.6), dpi=100)
    try:
        names = list(counts)
        bars = axes.bar(names, [counts[n] for n in names], color=[COLOURS.get(n, "#c0504d") for n in names])
        axes.bar_label(bars)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylabel("answers")
        axes.set_title(f"Diagnoses: {len(report.students)} students, {len(report.rows)} answers")
        axes.tick_params(axis="x", labelrotation=30)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
