"""The explorable page in exercise mode: an input box on each asked node, graded in the browser."""

from __future__ import annotations

import html
import json
import re
from string import Template
from typing import Any

from . import page, render, worksheet
from .engine import Value, topological_order
from .expr import substitute
from .mistakes import SUBSET_LIMIT
from .paths import d, explain
from .walk import backward_steps

# An exercise.Exercise: not imported, as exercise imports this module for Exercise.page() (the
# layers allow one direction only).
Exercise = Any


def _nodes(ex: Exercise) -> list[dict]:
    """Each node: its name, op, inputs (positions), value, the rule of each input edge (its local
    derivative as a formula over the nodes' names) and the edges out of it, [consumer, input]."""
    order = ex.order
    names = [ex.names[id(node)] for node in order]
    position = {id(node): i for i, node in enumerate(order)}
    nodes = [{"name": names[i], "op": node.op.name if node.op else None, "data": node.data,
              "inputs": [position[id(p)] for p in node.inputs], "rules": [], "consumers": [],
              "expression": ""}
             for i, node in enumerate(order)]
    for i, node in enumerate(order):
        if node.op is None:
            continue
        n = len(node.inputs)
        inputs = [names[position[id(p)]] for p in node.inputs]
        slots = {**dict(zip(node.op.input_names(n), inputs)), "out": names[i]}
        for k, (p, formula) in enumerate(zip(node.inputs, node.op.formulas_for(n))):
            nodes[i]["rules"].append(f"d{d(names[i])}/d{d(inputs[k])} = {substitute(formula, slots)}")
            nodes[position[id(p)]]["consumers"].append([i, k])
        nodes[i]["expression"] = render.apply(node.op, [render.piece(t) for t in inputs], render.TEXT).text
    return nodes


def _steps(ex: Any, order_position: dict[int, int]) -> list[dict]:
    """backward()'s steps (walk.backward_steps), by position: revealed once the learner has checked."""
    return [{"node": order_position[id(s.node)], "upstream": s.upstream,
             "adds": [{"target": order_position[id(a.target)], "local": a.local, "amount": a.amount,
                       "before": a.before, "after": a.after} for a in s.adds]}
            for s in backward_steps(ex.root)]


def exercise_page(ex: Any, *, title: str | None = None) -> page.Page:
    """The exercise as a live page: each asked gradient an input box on its node, the rule on
    hover, "check" grading every answer in the page (the same diagnoses and numbers as
    ex.grade), then backward() step by step. window.micrograd.state() reports each question's
    answer, ok and diagnosis; answer(name, value) and check() drive it from a script."""
    s = worksheet.sheet(ex)
    position = {id(node): i for i, node in enumerate(ex.order)}
    out = worksheet.output_name(ex)
    title = title or worksheet.title(ex)
    data = {"title": title, "output": d(out), "root": len(ex.order) - 1, "nodes": _nodes(ex),
            "questions": [{"name": name, "node": ex.question(name).node, "partial": ex.question(name).partial}
                          for name in ex.questions],
            "steps": _steps(ex, position), "svg": page.svg(worksheet.drawing(s)),
            "grader": grader_data(ex)}
    css = page.asset("page.css") + page.asset("exercise_page.css")
    text = Template(page.asset("exercise_page.html")).substitute(
        title=html.escape(title), css=css, data=page.json_for_script(data),
        script=page.asset("exercise_page.js"))
    return page.Page(text, title)


def grader_data(ex: Exercise) -> dict:
    """What the page's grader reads: the exercise's JSON with its answers (Exercise.to_json: each
    question's key, candidates and carried form, the messages), each candidate with the edges it
    suspects."""
    data = json.loads(ex.to_json())
    for q in data["questions"]:
        node = ex.order[q["node"]]
        for c in q["candidates"]:
            c["edges"] = suspect_edges(ex, node, c["key"])
    return data


def suspect_edges(ex: Exercise, node: Value, key: str) -> list[list[int]]:
    """The edges a mistake points at, [consumer position, input position], from its candidate key
    (mistakes.py names nodes by their position in topological order): the edge whose factor is
    wrong; for a missing path, the edges of the paths left out; for a group counted twice, its
    paths; for a chain stopped early, the part below where it stopped; for a missing upstream,
    the part above where it started. None for a mistake of the whole value (a sign, a factor)."""
    kind, _, rest = key.partition(":")
    edge = re.fullmatch(r"(?:term:)?(\d+)\.(\d+)(?::.*)?", rest)
    if kind in ("local-only", "missing-factor", "extra-factor", "wrong-factor", "double-count") and edge:
        return [[int(edge[1]), int(edge[2])]]
    if kind == "wrong-point":
        return [[int(rest.partition(".")[0]), 0]]
    if kind == "missing-path" and rest.startswith("terms:"):
        kept = [[int(c), int(k)] for c, _, k in (t.partition(".") for t in rest[6:].split(","))]
        return [e for e in _Edges(ex).between(ex.root, node, direct=True) if e not in kept]
    if kind == "missing-path" and rest.startswith("paths:"):
        return _left_out(ex, node, {int(k) for k in rest[6:].split(",")})
    at = re.fullmatch(r"(?:group:)?(\d+)", rest)
    if at is None:
        return []
    edges, waypoint = _Edges(ex), ex.order[int(at[1])]
    if kind == "missing-path":
        return edges.avoiding(node, waypoint)
    if kind == "double-count":
        return edges.between(ex.root, waypoint) + edges.between(waypoint, node)
    if kind == "stopped-early":
        return edges.between(waypoint, node)
    if kind == "missing-upstream":
        return edges.between(ex.root, waypoint)
    return []


def _left_out(ex: Exercise, node: Value, listed: set[int]) -> list[list[int]]:
    """The edges of the paths a learner left out (explain's paths as the catalogue numbers them,
    listed: those added), less the edges they share with the paths added."""
    paths = explain(ex.root, node, waypoints=ex.waypoints, max_paths=SUBSET_LIMIT + 1,
                    formulas=False).paths
    position = {id(n): i for i, n in enumerate(ex.order)}
    edges = [{(position[id(c)], k) for c, k in zip(path.consumers, path.positions)} for path in paths]
    added = set().union(*(e for i, e in enumerate(edges, 1) if i in listed))
    left = set().union(*(e for i, e in enumerate(edges, 1) if i not in listed))
    return [list(e) for e in sorted(left - added)]


class _Edges:
    """The graph's edges, [consumer position, input position], and which nodes each node reaches."""

    def __init__(self, ex: Exercise) -> None:
        self.order = ex.order
        self.below: dict[int, set[int]] = {}

    def reaches(self, upper: Value, lower: Value) -> bool:
        """lower is upper, or one of the nodes upper is computed from."""
        if id(upper) not in self.below:
            self.below[id(upper)] = {id(n) for n in topological_order(upper)}
        return id(lower) in self.below[id(upper)]

    def between(self, upper: Value, lower: Value, direct: bool = False) -> list[list[int]]:
        """The edges on the paths from upper down to lower (direct: only those into lower)."""
        return [[i, k] for i, c in enumerate(self.order) if self.reaches(upper, c)
                for k, p in enumerate(c.inputs) if (p is lower if direct else self.reaches(p, lower))]

    def avoiding(self, lower: Value, waypoint: Value) -> list[list[int]]:
        """The edges of the paths from the root down to lower that do not pass waypoint: the
        paths a learner who added only the ones through it left out."""
        return [[i, k] for i, c in enumerate(self.order) if not self.reaches(waypoint, c)
                for k, p in enumerate(c.inputs) if self.reaches(p, lower) and not self.reaches(p, waypoint)]
