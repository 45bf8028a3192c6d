"""Printable worksheets: the graph with an empty box per asked gradient and a table; the answer key apart."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import d

# An exercise.Exercise: not imported, as exercise imports the page (exercise_page), which imports
# this module (the layers allow one direction only).
Exercise = Any

FORMATS = ("svg", "png", "pdf")
DECIMALS = 6  # the values on a worksheet: enough digits for answers right to the default 1e-4

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p { margin: .3em 0; max-width: 60em; }
.who { margin: .8em 0 1em; }
.who span { display: inline-block; border-bottom: 1px solid #000; width: 18em; margin-right: 2em; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin-top: .5em; }
th, td { border: 1px solid #444; padding: .35em .7em; text-align: left; }
td.box { width: 12em; }
td.num { font-variant-numeric: tabular-nums; }
@media print { body { margin: 0; } figure { page-break-inside: avoid; } }
"""


@dataclass(frozen=True)
class Sheet:
    """One variant's worksheet: its number, its exercise and the texts above its boxes."""

    number: int
    exercise: Exercise
    blanks: dict[int, str]  # an asked node's position -> the text above its box: "(3) dE_total/dw5"


def label(number: int) -> str:
    """A variant's two-digit label, as in the file names: 01, 02, ..."""
    return f"{number:02d}"


def box_texts(ex: Exercise) -> dict[int, str]:
    """The text above each question's box, by the node's position: its number in the table and
    the partial it asks, "(3) dE_total/dw5"."""
    return {ex.question(name).node: f"({k}) {ex.question(name).partial}"
            for k, name in enumerate(ex.questions, 1)}


def output_name(ex: Exercise) -> str:
    """The exercise's output, as the exercise names it (E_total, E, f)."""
    return ex.names[id(ex.root)]


def sheet(ex: Exercise, number: int = 1) -> Sheet:
    """Variant `number`'s worksheet of ex."""
    return Sheet(number, ex, box_texts(ex))


def drawing(s: Sheet, *, edge_labels: bool = False, rankdir: str = "LR") -> Any:
    """The worksheet's graph (a graphviz.Digraph from viz.draw_blanks): values, no gradients,
    an empty box on each asked node. edge_labels: also each edge's local derivative, as a hint."""
    from . import viz

    title = (f"{_title(s)}: write d{d(output_name(s.exercise))}/d(node) in each empty box, "
             f"in the order (1), (2), ...")
    return viz.draw_blanks(s.exercise.root, s.blanks, decimals=DECIMALS, edge_labels=edge_labels,
                           rankdir=rankdir, title=title)


def title(ex: Exercise) -> str:
    """What the exercise is: Matt Mazur's network, an expression, an MLP."""
    source = ex.source
    if source.get("kind") == "mazur":
        return "Backpropagation exercise: Matt Mazur's 2-2-2 network"
    if source.get("kind") == "expression":
        return f"Backpropagation exercise: {source['text']}"
    if source.get("kind") == "mlp":
        return f"Backpropagation exercise: an MLP {' -> '.join(map(str, source['sizes']))} on one sample"
    return "Backpropagation exercise"


def _title(s: Sheet) -> str:
    return f"{title(s.exercise)}, variant {label(s.number)}"


def html_page(s: Sheet, svg: str) -> str:
    """The printable worksheet: a name line, what to do, the drawing (svg: dot's SVG, from `<svg`)
    and a table with an empty cell per question, in the order backward() finishes them."""
    ex = s.exercise
    out = output_name(ex)
    rows = "\n".join(
        f"<tr><td>({k})</td><td>{html.escape(ex.question(name).partial)}</td>"
        f"<td class=num>{html.escape(_fixed(ex.nodes[name].data))}</td><td class=box></td></tr>"
        for k, name in enumerate(ex.questions, 1))
    title = html.escape(_title(s))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>
<body>
<h1>{title}</h1>
<p class="who">Name <span></span> Date <span></span></p>
<p>The graph below computes {html.escape(out)} = {html.escape(_fixed(ex.root.data))}. Do the backward
pass by hand: find the gradient d{html.escape(d(out))}/d(node) of each numbered node, in the order
(1), (2), ... (each one needs only the ones before it), and write it in the node's empty box and in
the table. Give at least 5 significant digits.</p>
<figure>{svg}</figure>
<table>
<tr><th>#</th><th>gradient</th><th>the node's value</th><th>your answer</th></tr>
{rows}
</table>
</body></html>
"""


def _fixed(x: float) -> str:
    return f"{x:.{DECIMALS}f}" if x == 0 or 1e-4 <= abs(x) < 1e6 else f"{x:.{DECIMALS}g}"


# ------------------------------------------------------------------------------- the answer key

def key_json(sheets: Sequence[Sheet], files: Sequence[str]) -> dict:
    """Every variant's answers, from the engine: {"variants": [{"variant", "exercise", "answers"}]}."""
    return {"variants": [{"variant": s.number, "exercise": file,
                          "answers": {name: _finite(s.exercise.keys[name]) for name in s.exercise.questions}}
                         for s, file in zip(sheets, files)]}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def key_markdown(sheets: Sequence[Sheet], files: Sequence[str]) -> str:
    """The answer key as Markdown: one table per variant, the questions in the worksheet's order."""
    lines = ["# Answer key", "", "Keep this file apart from the worksheets: it holds every answer.", ""]
    for s, file in zip(sheets, files):
        lines += [f"## Variant {label(s.number)} ({file})", "", "| # | gradient | answer |",
                  "| ---: | --- | ---: |"]
        for k, name in enumerate(s.exercise.questions, 1):
            text = s.exercise.question(name).partial.replace("|", "\\|").replace("*", "\\*")
            lines.append(f"| {k} | {text} | {s.exercise.keys[name]:.9g} |")
        lines.append("")
    return "\n".join(lines)


def write_json(data: Any, path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


# -------------------------------------------------------------------------------- a set of files

def file_names(n: int, fmt: str = "svg", page: bool = False) -> list[str]:
    """The files write_set writes for n variants, in the order it writes them."""
    return [name for k in range(1, n + 1) for name in (
        f"exercise-{label(k)}.json", f"worksheet-{label(k)}.{fmt}", f"worksheet-{label(k)}.html",
        *([f"page-{label(k)}.html"] if page else []))] + ["answer-key.json", "answer-key.md"]


def write_set(exercises: Sequence[Exercise], directory: str | Path, *, fmt: str = "svg",
              page: bool = False) -> list[Path]:
    """Write a class set into directory (made if missing): per variant k, exercise-k.json (the
    exercise without its answers: Exercise.to_json(answers=False)), worksheet-k.FMT (the drawing,
    rendered by Graphviz's dot) and worksheet-k.html (printable: the drawing and a table), with
    page=True page-k.html (the live page); then answer-key.json and answer-key.md, every answer.
    Existing files are overwritten. Returns the paths written, as file_names lists them. Raises
    pictures.GraphvizMissing without dot, pictures.RenderError if dot fails, OSError if a write
    fails."""
    from . import page as pages
    from . import pictures

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    sheets = [sheet(ex, k) for k, ex in enumerate(exercises, 1)]
    files = [f"exercise-{label(s.number)}.json" for s in sheets]
    written: list[Path] = []
    for s, file in zip(sheets, files):
        written.append(write_json(json.loads(s.exercise.to_json(answers=False)), out / file))
        graph = drawing(s)
        picture = pictures.write_graph(graph, out / f"worksheet-{label(s.number)}.{fmt}")
        svg = picture.read_text(encoding="utf-8") if fmt == "svg" else pages.svg(graph)
        html_path = out / f"worksheet-{label(s.number)}.html"
        html_path.write_text(html_page(s, svg[svg.index("<svg"):]), encoding="utf-8")
        written += [picture, html_path]
        if page:
            written.append(s.exercise.page().save(out / f"page-{label(s.number)}.html"))
    written.append(write_json(key_json(sheets, files), out / "answer-key.json"))
    (out / "answer-key.md").write_text(key_markdown(sheets, files), encoding="utf-8")
    written.append(out / "answer-key.md")
    return written

