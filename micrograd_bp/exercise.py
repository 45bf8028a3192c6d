"""Exercises: the learner does the backward pass by hand, node by node, and is told which step is wrong.

>>> from micrograd_bp import Exercise
>>> ex = Exercise.mazur(ask=["w5", "w1"])
>>> ex.questions
['w5', 'w1']
>>> result = ex.grade({"w5": 0.0821670406, "w1": 0.00043857})
>>> result.score, result["w1"].diagnosis
(1.0, 'close')

The answer key comes from the engine (backward's steps, `walk.backward_steps`); a wrong answer is
named by the catalogue of mistakes (`mistakes.py`, shared with the checker): each question's
candidates are computed once, when the exercise is made, and `to_json()` carries them, so a
grader in another language (the page's JavaScript) reproduces the diagnosis ids and messages
exactly. The JSON schema is in `Exercise.to_json`'s docstring; the grading rule in `grade_one`'s.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from .engine import Value, topological_order
from .expr import ExprError, parse
from .mistakes import Candidate, Subject, candidates, first_match, fmt, matches
from .paths import PathGraph, d, node_names
from .walk import backward_steps

RTOL = 1e-4  # an answer within this (relative) of the key is right: a learner rounds to 4-6 digits
EXACT = 1e-9  # within this it is `right`; between this and rtol, `close` (right to the digits given)
LR = 0.5  # the learning rate the update-step mistake is tried with (Mazur's)
FORMAT = "micrograd-bp exercise"
VERSION = 1
VARIANT_SPREAD = 0.4  # a variant's leaf value: the given one times 1 + U(-0.4, 0.4), 3 digits
VARIANT_TRIES = 100

# The messages of the outcomes that are not a mistake of the catalogue, as templates: {partial}
# (e.g. dE_total/dw1), {given}, {key} and {upstream} are filled in, numbers by mistakes.fmt.
MESSAGES = {
    "right": "right: {partial} = {key}",
    "close": "right to the digits given: you wrote {given}, {partial} = {key}",
    "not-answered": "not answered",
    "carried": "carried: {given} is right from your own answers above it ({upstream}), which are "
               "wrong; {partial} = {key}",
    "unknown": "{given} matches none of the mistakes in the catalogue",
    "unknown-shown": "{given} matches none of the mistakes in the catalogue; {partial} = {key}",
}

Answers = Mapping[str, Union[float, int, None]]


@dataclass
class Question:
    """One asked gradient: its name, d root/d node written out, the key, and how to grade it."""

    name: str
    partial: str  # e.g. "dE_total/dw1"
    node: int  # the node's position in topological_order(root): draw() numbers nodes by it
    expected: float
    candidates: list[Candidate]  # in the order they are tried; none equals the key
    carried_const: float  # d root/d node with every asked node above it replaced by ...
    carried_terms: list[tuple[str, float]]  # ... the learner's answer there, times this coefficient

    def carried(self, answers: Mapping[str, float], keys: Mapping[str, float]) -> float:
        """The gradient from the learner's own answers above (the key where they gave none)."""
        total = self.carried_const
        for name, coeff in self.carried_terms:
            given = answers.get(name)
            total += coeff * (given if given is not None else keys[name])
        return total

    def to_json(self, answers: bool = True) -> dict:
        out: dict[str, Any] = {"name": self.name, "partial": self.partial, "node": self.node}
        if answers:
            out.update(expected=self.expected, candidates=[c.to_json() for c in self.candidates],
                       carried={"const": self.carried_const,
                                "terms": [[n, c] for n, c in self.carried_terms]})
        return out


@dataclass
class Grade:
    """One question graded: ok (right or close), the key (None when withheld), the answer, the
    diagnosis id and message; credit 1 for right, close and carried (the slip counts where it was
    made, not again below it), else 0."""

    name: str
    ok: bool
    expected: float | None
    given: float | None
    diagnosis: str
    message: str
    credit: float

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "expected": self.expected, "given": self.given,
                "diagnosis": self.diagnosis, "message": self.message, "credit": self.credit}


@dataclass
class Result:
    """An attempt graded: result[name] is a question's Grade; score is the fraction with credit."""

    grades: dict[str, Grade]

    @property
    def score(self) -> float:
        return math.fsum(g.credit for g in self.grades.values()) / len(self.grades) if self.grades else 0.0

    def __getitem__(self, name: str) -> Grade:
        return self.grades[name]

    def __iter__(self):
        return iter(self.grades.values())

    def __len__(self) -> int:
        return len(self.grades)

    def lines(self) -> list[str]:
        width = max((len(n) for n in self.grades), default=4)
        out = [f"score {self.score:.0%} ({sum(g.credit for g in self.grades.values()):g} of {len(self)})"]
        out += [f"  {g.name:<{width}}  {g.diagnosis:<16} {g.message}" for g in self.grades.values()]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT + " result", "version": VERSION, "score": self.score,
                           "grades": [g.to_json() for g in self.grades.values()]})

    @classmethod
    def from_json(cls, text: str) -> Result:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not a graded exercise: the JSON does not parse ({error.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT + " result":
            raise ValueError("not a graded exercise: the JSON has no format "
                             f"{FORMAT + ' result'!r}")
        try:
            return cls({g["name"]: Grade(**g) for g in data["grades"]})
        except (KeyError, TypeError):
            raise ValueError("not a graded exercise: its grades are not name, ok, expected, given, "
                             "diagnosis, message, credit") from None


class Exercise:
    """A graph whose gradients the learner fills in: ex.questions (backward's finishing order),
    ex.grade(answers) -> Result, ex.to_json() / Exercise.from_json(text).

    Attributes: root (the output Value), order (its topological order: draw() numbers nodes by
    the position in it), names (id -> name of every node), nodes (name -> Value of every node
    that can be asked), keys (question -> the engine's gradient), question(name) (a Question:
    its key, candidates and carried form), source (how from_json rebuilds it: a dict with "kind"
    "expression", "mazur" or "mlp"; an Exercise(root, source) made directly from a graph with
    another kind grades and writes JSON, but from_json cannot rebuild it).

    Made by Exercise.from_expression, Exercise.mazur or Exercise.mlp. rtol: the relative
    tolerance of a right answer (default 1e-4). show_answers: an `unknown` answer's message shows
    the key (else it is withheld, and so is Grade.expected). lr: the learning rate that the
    update-step mistake is tried with. The other-variable mistake is tried with the gradients of
    the nodes beside a question (its users, their inputs, its own inputs); the waypoints (Mazur's
    named nodes) are the nodes a path is read over in the messages.
    """

    def __init__(self, root: Value, source: dict, ask: str | Sequence[str] = "all", *,
                 waypoints: Iterable[Value] | None = None, rtol: float = RTOL, lr: float = LR,
                 show_answers: bool = False) -> None:
        if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
            raise ValueError(f"rtol must be between 0 and 1, got {rtol!r}")
        self.root, self.source, self.rtol, self.lr = root, source, float(rtol), float(lr)
        self.show_answers = bool(show_answers)
        self.order = order = topological_order(root)  # the one sort: everything below reads it
        self.names = node_names(root, order)  # no two nodes share a name (n1, n2 where they would)
        self.nodes = {self.names[id(n)]: n for n in order if _askable(n, root)}
        if not self.nodes:
            raise ValueError(f"{self.names[id(root)]} has no gradient to ask: its graph has no node but "
                             "the root and constants")
        grads, finished = _keys_and_finish_order(root, order)
        self.ask = "all" if ask == "all" else list(ask)
        self.keys = {name: grads[id(self.nodes[name])] for name in _asked(ask, self.nodes)}
        self.questions = [self.names[id(n)] for n in finished if self.names[id(n)] in self.keys]
        forms = _carried_forms(root, order, {id(self.nodes[q]): q for q in self.questions})
        ways = None if waypoints is None else list(waypoints)
        self.waypoints = ways  # the nodes a path is read over (None: every node)
        users: dict[int, list[Value]] = {}
        for n in order:
            for p in n.inputs:
                users.setdefault(id(p), []).append(n)
        self._questions = {name: self._question(name, grads, forms, users, ways) for name in self.questions}

    def _question(self, name: str, grads: Mapping[int, float], forms: Mapping, users: Mapping[int, list],
                  waypoints: list[Value] | None) -> Question:
        """One question: its key, its candidates (the catalogue on its PathGraph), its carried form."""
        root, order, node = self.root, self.order, self.nodes[name]
        graph = PathGraph(root, node, self.names, order=order)
        near = [*users.get(id(node), []), *node.inputs,
                *(q for user in users.get(id(node), []) for q in user.inputs)]
        others = {self.names[id(n)]: grads[id(n)] for n in near if n is not node and _askable(n, root)}
        subject = Subject(graph, waypoints, others, self.lr if node.is_leaf else None)
        const, terms = forms[id(node)]
        return Question(name, f"d{d(self.names[id(root)])}/d{d(name)}", order.index(node), self.keys[name],
                        _distinct(candidates(subject), self.keys[name], self.rtol), const, terms)

    # ---------------------------------------------------------------- constructors

    @classmethod
    def from_expression(cls, text: str, values: Mapping[str, float], ask: str | Sequence[str] = "all",
                        seed: int | None = None, **options: Any) -> Exercise:
        """An expression's graph at the given values (a variant near them with a seed)."""
        expression = parse(text)
        given = dict(values)
        chosen = given if seed is None else _variant(given, seed, lambda v: expression.evaluate(v))
        root = expression.evaluate(chosen).output
        source = {"kind": "expression", "text": text, "values": given, "seed": seed, "used": chosen}
        return cls(root, source, ask, **options)

    @classmethod
    def mazur(cls, ask: str | Sequence[str] = "all", seed: int | None = None, **options: Any) -> Exercise:
        """Matt Mazur's 2-2-2 network, its nodes named as the tutorial names them (E_total, out_o1,
        net_h1, w1, ...); with a seed, its weights and biases drawn near the tutorial's."""
        from .examples.mazur import BIASES, WEIGHTS, MazurNetwork, mazur_nodes, mazur_waypoints

        given = {**WEIGHTS, **BIASES}
        chosen = given if seed is None else _variant(given, seed, lambda v: None)
        nodes = mazur_nodes(MazurNetwork({k: chosen[k] for k in WEIGHTS}, {k: chosen[k] for k in BIASES}))
        source = {"kind": "mazur", "seed": seed, "used": chosen}
        return cls(nodes["E_total"], source, ask, waypoints=mazur_waypoints(nodes), **options)

    @classmethod
    def mlp(cls, sizes: Sequence[int], seed: int = 0, ask: str | Sequence[str] = "all",
            activation: str = "sigmoid", **options: Any) -> Exercise:
        """A small MLP (sizes: inputs, then each layer's width) on one sample drawn from the seed,
        with the half squared error as its loss; parameters labelled L1.n1.w1, ..., inputs x1, ...,
        targets y1, ...."""
        from .nn import MLP, half_squared_error

        sizes = list(sizes)
        if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError("sizes must be at least two positive integers (inputs, then layers), "
                             f"got {sizes!r}")
        rng = random.Random(seed)
        net = MLP(sizes[0], sizes[1:], activation, seed=seed)
        xs = [Value(round(rng.uniform(-1, 1), 2), f"x{i + 1}") for i in range(sizes[0])]
        ys = [Value(round(rng.uniform(0, 1), 2), f"y{i + 1}") for i in range(sizes[-1])]
        root = half_squared_error(net(xs), ys).named("E")
        source = {"kind": "mlp", "sizes": sizes, "seed": seed, "activation": activation}
        return cls(root, source, ask, **options)

    # ---------------------------------------------------------------- grading

    def question(self, name: str) -> Question:
        return self._questions[name]

    def grade(self, answers: Answers) -> Result:
        """Grade a dict name -> number (a missing name or None: not answered) question by question,
        in the order of ex.questions; see grade_one for the rule."""
        if not isinstance(answers, Mapping):
            raise TypeError(f"answers must be a mapping of name -> number, got {type(answers).__name__}")
        unknown = [k for k in answers if k not in self._questions]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a question of this exercise: the questions are "
                             f"{', '.join(self.questions)}")
        given = {k: _answer(k, v) for k, v in answers.items()}
        given = {k: v for k, v in given.items() if v is not None}
        return Result({q: self.grade_one(q, given) for q in self.questions})

    def grade_one(self, name: str, answers: Mapping[str, float]) -> Grade:
        """One question against the learner's answers (floats by name), in this order:
        not-answered; right (within 1e-9 relative of the key, or both 0); close (within rtol);
        carried (the gradient from the learner's own answers above differs from the key, and the
        answer matches it within rtol); the first candidate within rtol (each question's list, in
        order); unknown. Matching is |a - b| <= rtol * max(|a|, |b|)."""
        q = self._questions[name]
        key, given = q.expected, answers.get(name)
        fill = {"partial": q.partial, "key": fmt(key), "given": "" if given is None else fmt(given),
                "upstream": ""}
        if given is None:
            return self._grade(q, None, "not-answered", fill, 0.0)
        if given == key or matches(given, key, EXACT):
            return self._grade(q, given, "right", fill, 1.0)
        if matches(given, key, self.rtol):
            return self._grade(q, given, "close", fill, 1.0)
        carried = q.carried(answers, self.keys)
        if not matches(carried, key, self.rtol) and matches(given, carried, self.rtol):
            fill["upstream"] = ", ".join(f"{n} = {fmt(answers[n])}" for n, _ in q.carried_terms
                                         if n in answers and not matches(answers[n], self.keys[n], self.rtol))
            return self._grade(q, given, "carried", fill, 1.0)
        found = first_match(q.candidates, given, self.rtol)
        if found is not None:
            return Grade(name, False, key, given, found.id, found.message, 0.0)
        return self._grade(q, given, "unknown-shown" if self.show_answers else "unknown", fill, 0.0)

    def _grade(self, q: Question, given: float | None, outcome: str, fill: dict, credit: float) -> Grade:
        diagnosis = "unknown" if outcome.startswith("unknown") else outcome
        withheld = diagnosis == "unknown" and not self.show_answers
        return Grade(q.name, diagnosis in ("right", "close"), None if withheld else q.expected, given,
                     diagnosis, MESSAGES[outcome].format(**fill), credit)

    # ---------------------------------------------------------------- JSON

    def to_json(self, answers: bool = True) -> str:
        """The exercise as JSON. With answers=False only what a learner may see (no key).

        Schema: {"format": "micrograd-bp exercise", "version": 1, "source": {"kind": "expression",
        "text", "values", "seed", "used"} | {"kind": "mazur", "seed", "used"} | {"kind": "mlp",
        "sizes", "seed", "activation"}, "ask": "all" | [names], "rtol", "lr", "show_answers",
        "root": its name, "messages": MESSAGES (templates with {partial}, {key}, {given},
        {upstream}), "questions": [{"name", "partial", "node" (position in topological order:
        draw()'s node number), and with answers: "expected", "candidates": [{"id", "key",
        "value", "message"}] in the order tried, "carried": {"const", "terms": [[name, coeff]]}}]}
        in the order of ex.questions. Numbers in messages are format(x, ".9g"); a grader
        reproduces grade_one from these alone. from_json rebuilds the exercise from "source"."""
        return json.dumps({
            "format": FORMAT, "version": VERSION, "source": self.source, "ask": self.ask,
            "rtol": self.rtol, "lr": self.lr, "show_answers": self.show_answers,
            "root": self.names[id(self.root)], "messages": MESSAGES,
            "questions": [self._questions[q].to_json(answers) for q in self.questions]})

    @classmethod
    def from_json(cls, text: str) -> Exercise:
        """The exercise that to_json wrote, rebuilt from its source (the same numbers)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not an exercise: the JSON does not parse ({error.msg} at line "
                             f"{error.lineno})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not an exercise: the JSON has no format {FORMAT!r}")
        try:
            source, ask = data["source"], data["ask"]
            options = {"rtol": data["rtol"], "lr": data["lr"], "show_answers": data["show_answers"]}
            kind = source.get("kind")
            if kind == "expression":
                return cls.from_expression(source["text"], source["values"], ask, source["seed"], **options)
            if kind == "mazur":
                return cls.mazur(ask, source["seed"], **options)
            if kind == "mlp":
                return cls.mlp(source["sizes"], source["seed"], ask, source["activation"], **options)
        except KeyError as error:
            raise ValueError(f"not an exercise: the JSON has no {error.args[0]!r}") from None
        except (TypeError, AttributeError):
            raise ValueError("not an exercise: a field of the JSON has the wrong type") from None
        raise ValueError(f"not an exercise: unknown source kind {kind!r}")

    def page(self, **options: Any) -> Any:
        """The explorable page in exercise mode (exercise_page.exercise_page): an input box on
        each asked node, graded in the browser with the same diagnoses as grade()."""
        from .exercise_page import exercise_page  # a view, imported only when a page is asked for

        return exercise_page(self, **options)

    def __repr__(self) -> str:
        questions = ", ".join(self.questions)
        return f"<Exercise {self.source['kind']}: {len(self.questions)} questions: {questions}>"


# -------------------------------------------------------------------------------- helpers

def _askable(node: Value, root: Value) -> bool:
    """Every node but the root and the constants (unlabelled leaves)."""
    return node is not root and (node.op is not None or bool(node.label))


def _asked(ask: str | Sequence[str], nodes: Mapping[str, Value]) -> list[str]:
    if ask == "all":
        return list(nodes)
    if isinstance(ask, str) or not isinstance(ask, Sequence) or not ask:
        raise ValueError(f"ask must be 'all' or a non-empty list of node names, got {ask!r}")
    for name in ask:
        if name not in nodes:
            raise ValueError(f"{name!r} is not a node of the graph: the nodes are {', '.join(nodes)}")
    return list(dict.fromkeys(ask))


def _keys_and_finish_order(root: Value, order: list[Value]) -> tuple[dict[int, float], list[Value]]:
    """Every node's gradient from backward()'s steps (the walk), and the order backward() finishes
    the nodes in: a node is finished when the last node that uses it has sent its +=."""
    pending: dict[int, int] = {}
    for node in order:
        for p in node.inputs:
            pending[id(p)] = pending.get(id(p), 0) + 1
    grads: dict[int, float] = {id(n): 0.0 for n in order}
    grads[id(root)] = 1.0
    finished = [root]
    for step in backward_steps(root, order):
        for add in step.adds:
            grads[id(add.target)] = add.after
        for p in step.node.inputs:
            pending[id(p)] -= 1
            if pending[id(p)] == 0:
                finished.append(p)
    return grads, finished


def _carried_forms(root: Value, order: list[Value], asked: Mapping[int, str]
                   ) -> dict[int, tuple[float, list[tuple[str, float]]]]:
    """For each asked node: its gradient as const + sum(coeff * answer) over the nearest asked
    nodes above it (a reverse pass in which every asked node passes on the learner's answer)."""
    forms: dict[int, dict[str, float]] = {id(root): {"": 1.0}}
    out: dict[int, tuple[float, list[tuple[str, float]]]] = {}
    for node in reversed(order):
        form = forms.pop(id(node), {})
        if id(node) in asked:
            out[id(node)] = (form.get("", 0.0), [(k, v) for k, v in form.items() if k])
            form = {asked[id(node)]: 1.0}
        for p, local in zip(node.inputs, node.local_grads):
            target = forms.setdefault(id(p), {})
            for k, v in form.items():
                target[k] = target.get(k, 0.0) + local * v
    return out


def _distinct(found: list[Candidate], key: float, rtol: float) -> list[Candidate]:
    """Candidates a wrong answer can meet: none equal to the key (within rtol), none repeating an
    earlier one's value (the first is the one a grader would name)."""
    kept: list[Candidate] = []
    values: list[float] = []
    for c in found:
        if matches(c.value, key, rtol) or any(v == c.value for v in values):
            continue
        kept.append(c)
        values.append(c.value)
    return kept


def _answer(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"the answer for {name!r} must be a finite number, got {value!r}")
    return float(value)


def _variant(values: Mapping[str, float], seed: int, build: Any) -> dict[str, float]:
    """Leaf values near the given ones (same sign, 3 significant digits), drawn until build()
    accepts them (the ops' domains)."""
    rng = random.Random(seed)
    for _ in range(VARIANT_TRIES):
        drawn = {k: _three_digits(v * (1 + rng.uniform(-VARIANT_SPREAD, VARIANT_SPREAD)))
                 for k, v in values.items()}
        try:
            build(drawn)
        except (ExprError, ValueError, OverflowError, ZeroDivisionError):
            continue
        return drawn
    raise ValueError(f"no variant of {values!r} within the ops' domains after {VARIANT_TRIES} draws")


def _three_digits(x: float) -> float:
    if x == 0:
        return 0.0
    return round(x, 2 - math.floor(math.log10(abs(x))))


__all__ = ["Exercise", "Result", "Grade", "Question", "RTOL", "MESSAGES"]
