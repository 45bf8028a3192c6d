"""The explorable page in exercise mode: an input box on each asked node, graded in the browser."""

from __future__ import annotations

import html
from string import Template
from typing import Any

from . import page, worksheet
from .paths import d
from .trace import ledger_names, local_derivatives
from .walk import backward_steps


def _nodes(ex: Any) -> list[dict]:
    """Each node: its name, op, inputs (positions), value, the rule of each input edge (its local
    derivative as a formula over the nodes' names) and the edges out of it, [consumer, input]."""
    order, names = ledger_names(ex.root)
    position = {id(node): i for i, node in enumerate(order)}
    edges = iter(local_derivatives(ex.root))
    nodes = [{"name": names[i], "op": node.op.name if node.op else None,
              "symbol": node.op.symbol if node.op else "", "data": node.data,
              "inputs": [position[id(p)] for p in node.inputs], "rules": [], "consumers": [],
              "expression": ""}
             for i, node in enumerate(order)]
    for i, node in enumerate(order):
        for k, p in enumerate(node.inputs):
            edge = next(edges)
            nodes[i]["rules"].append(f"d{d(edge.node)}/d{d(edge.to)} = {edge.formula_named}")
            nodes[position[id(p)]]["consumers"].append([i, k])
        if node.op is not None:
            inputs = [names[position[id(p)]] for p in node.inputs]
            nodes[i]["expression"] = _expression(node.op.symbol, inputs)
    return nodes


def _expression(symbol: str, inputs: list[str]) -> str:
    """A node over its inputs' names, for the hover text: a + b, sigmoid(net), linear(w1, i1, ...)."""
    if len(inputs) == 2 and symbol in ("+", "-", "*", "/"):
        return f" {symbol} ".join(inputs)
    if len(inputs) == 1 and symbol.startswith("**"):
        return f"{d(inputs[0])}{symbol}"
    return f"{symbol}({', '.join(inputs)})"


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
    order, names = ledger_names(ex.root)
    position = {id(node): i for i, node in enumerate(order)}
    out = worksheet.output_name(ex)
    title = title or f"{getattr(ex, 'title', '') or 'Backpropagation exercise'}: find d{out}/d(node)"
    data = {"title": title, "output": out, "root": len(order) - 1, "nodes": _nodes(ex),
            "questions": [{"name": name, "node": names.index(name), "partial": f"{d(out)}/{d(name)}"}
                          for name in ex.questions],
            "steps": _steps(ex, position), "svg": page.svg(worksheet.drawing(s)),
            "grader": grader_data(ex)}
    css = page.asset("page.css") + page.asset("exercise_page.css")
    text = Template(page.asset("exercise_page.html")).substitute(
        title=html.escape(title), css=css, data=page.json_for_script(data),
        script=page.asset("exercise_page.js"))
    return page.Page(text, title)


def grader_data(ex: Any) -> dict:
    """What the page's grader reads: the same numbers ex.grade reads (see mistakes.py)."""
    return {}
