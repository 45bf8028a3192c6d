"""The page in exercise mode, in headless Chromium: an input box on each asked node, the rule on
hover and never a gradient, and the grading in JavaScript held to ex.grade (the same diagnosis ids,
numbers and messages) for planted mistakes on the Mazur network, random expressions and an MLP."""

from __future__ import annotations

import random

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from test_page import start_browser

from micrograd_bp.exercise import Exercise
from micrograd_bp.exercise_page import exercise_page, suspect_edges
from micrograd_bp.walk import backward_steps

# The tutorial's numbers (shared/reference/mazur-2-2-2.md) and the README's check of w1.
W5 = 0.082167041
W1_THROUGH_OUT_O1 = 0.000668396021  # the path through out_o1 alone (the classic mistake)


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def mazur(browser, tmp_path_factory):
    ex = Exercise.mazur()
    path = ex.page().save(tmp_path_factory.mktemp("exercise") / "mazur.html")
    return ex, path


def load(browser, path) -> dict:
    browser.get(path.as_uri())
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    return browser.execute_script("return window.micrograd.state()")


def js_grade(browser, answers: dict) -> dict:
    return browser.execute_script("return window.micrograd.grade(arguments[0])", answers)


def assert_same_grades(js: dict, ex: Exercise, answers: dict) -> None:
    """The page's grade of answers is ex.grade's: each question's ok, diagnosis, message, expected
    (None when withheld) and given; and the score."""
    python = ex.grade(answers)
    assert js["score"] == python.score
    for name in ex.questions:
        mine, theirs = js["results"][name], python[name]
        assert (mine["ok"], mine["diagnosis"], mine["message"], mine["expected"], mine["given"]) == (
            theirs.ok, theirs.diagnosis, theirs.message, theirs.expected, theirs.given), name


def planted_mazur(ex: Exercise) -> dict:
    """The key, with five planted slips: a sign, the missing path of w1, a local derivative
    alone, an unanswered node, and a slip at out_o1 carried into net_o1."""
    answers = {name: ex.keys[name] for name in ex.questions}
    answers["w5"] = -ex.keys["w5"]
    answers["w1"] = W1_THROUGH_OUT_O1
    answers["w6"] = ex.nodes["out_h2"].data  # dnet_o1/dw6 = out_h2, without delta_o1
    del answers["b1"]
    answers["out_o1"] = 0.75  # a slip ...
    sigmoid = ex.nodes["out_o1"].data * (1 - ex.nodes["out_o1"].data)
    answers["net_o1"] = 0.75 * sigmoid  # ... and the next step done right from it
    return answers


def test_each_asked_gradient_has_an_input_box_on_its_node(browser, mazur):
    ex, path = mazur
    state = load(browser, path)
    assert [q["name"] for q in state["questions"]] == ex.questions and len(ex.questions) == 28
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#drawing g.node foreignObject input'),"
        " b => [b.closest('g.node').dataset.title, b.dataset.question])")
    assert sorted(boxes) == sorted([f"v{ex.question(name).node}", name] for name in ex.questions)
    assert state["checked"] == 0 and state["step"] is None


def test_the_page_grades_planted_mistakes_as_python_does(browser, mazur):
    ex, path = mazur
    load(browser, path)
    answers = planted_mazur(ex)
    for name in ex.questions:
        browser.execute_script("window.micrograd.answer(arguments[0], arguments[1])", name,
                               answers.get(name))
    state = browser.execute_script("return window.micrograd.check()")
    python = ex.grade(answers)
    assert state["score"] == python.score == 23 / 28  # 5 slips; the carried net_o1 is credited
    by_name = {q["name"]: q for q in state["questions"]}
    for name in ex.questions:
        assert (by_name[name]["ok"], by_name[name]["diagnosis"], by_name[name]["message"]) == (
            python[name].ok, python[name].diagnosis, python[name].message)
    assert {n: by_name[n]["diagnosis"] for n in ("w5", "w1", "w6", "b1", "out_o1", "net_o1")} == {
        "w5": "sign", "w1": "missing-path", "w6": "local-only", "b1": "not-answered",
        "out_o1": "unknown", "net_o1": "carried"}
    # the numbers of the README's check: the key, and the path through out_o2 that is missing,
    # 0.000438567734 - 0.000668396021
    message = by_name["w1"]["message"]
    assert "through out_o1" in message and "out_o2 contributes -0.000229828287" in message
    assert message.endswith("dE_total/dw1 = 0.000438567734")
    # the missing path is highlighted: out_h1 -> net_o2 -> out_o2 -> ... -> E_total
    suspect = browser.execute_script(
        "return Array.from(document.querySelectorAll('g.edge.suspect'), g => g.dataset.title)")
    position = {name: ex.question(name).node for name in ex.questions}
    assert f"v{position['out_h1']}->o{position['net_o2']}" in suspect
    assert f"v{position['E_o2']}->o{len(ex.order) - 1}" in suspect
    assert f"v{position['out_h1']}->o{position['net_o1']}" not in suspect  # the path given


def test_hover_shows_the_rule_and_never_a_gradient(browser, mazur):
    ex, path = mazur
    load(browser, path)
    for name in ("out_o1", "w5", "out_h1"):
        group = browser.find_element(By.CSS_SELECTOR, f'g[data-title="v{ex.question(name).node}"]')
        ActionChains(browser).move_to_element(group.find_element(By.TAG_NAME, "text")).perform()
        text = browser.find_element(By.ID, "tooltip").text
        assert text.startswith(name) and "times the gradient of" in text
        key = ex.keys[name]
        for digits in (4, 6, 9):
            assert f"{abs(key):.{digits}g}" not in text, (name, text)
    assert "dnet_o1/dout_h1 = w5" in text and "dnet_o2/dout_h1 = w7" in text  # out_h1's two edges


def test_the_backward_pass_unlocks_after_an_attempt(browser, mazur):
    ex, path = mazur
    load(browser, path)
    assert browser.find_element(By.ID, "next").get_attribute("disabled")
    with pytest.raises(Exception, match="unlocks after a check"):
        browser.execute_script("return window.micrograd.step(1)")
    browser.execute_script("window.micrograd.check()")  # an attempt, even an empty one
    steps = list(backward_steps(ex.root))
    state = browser.execute_script("return window.micrograd.step(arguments[0])", len(steps))
    assert state["step"]["total"] == len(steps)
    net_o1 = next(s for s in steps if s.node is ex.nodes["net_o1"])
    state = browser.execute_script("return window.micrograd.step(arguments[0])", steps.index(net_o1) + 1)
    add = next(a for a in net_o1.adds if a.target is ex.nodes["w5"])
    assert round(add.amount, 9) == W5  # the tutorial's dE_total/dw5, sent in this step
    line = f"w5.grad += {add.local:.9g} * {net_o1.upstream:.9g} = {add.amount:.9g}  (0 -> {add.after:.9g})"
    assert line in state["step"]["text"].splitlines()


def random_answers(ex: Exercise, rng: random.Random) -> dict:
    """Each question answered by its key, a candidate mistake, nothing, a rounded key, the value
    carried from the answers above it, or a number of no mistake; so every branch of the grader
    is met."""
    answers: dict[str, float] = {}
    for name in ex.questions:
        q = ex.question(name)
        roll = rng.random()
        if roll < 0.25:
            answers[name] = q.expected
        elif roll < 0.35:
            answers[name] = q.carried(answers, ex.keys)
        elif roll < 0.7 and q.candidates:
            answers[name] = rng.choice(q.candidates).value * (1 + rng.uniform(-5e-5, 5e-5))
        elif roll < 0.8:
            answers[name] = float(f"{q.expected:.5g}")
        elif roll < 0.9:
            answers[name] = rng.uniform(-3, 3)
    return answers


@pytest.mark.parametrize("make", [
    lambda: Exercise.from_expression("tanh(a*b + c)*exp(a) - log(b)", {"a": 0.7, "b": 1.3, "c": -0.4}),
    lambda: Exercise.from_expression("sigmoid(w*x + b)**2 / (x + 2)", {"w": 0.8, "x": 1.5, "b": 0.1}, seed=3),
    lambda: Exercise.from_expression("x*x*y + relu(x - y)", {"x": 1.2, "y": -0.5}),
    lambda: Exercise.mlp([2, 2, 1], seed=1),
], ids=["tanh-exp-log", "sigmoid-variant", "x-used-twice", "mlp-2-2-1"])
def test_random_answers_are_graded_as_python_does(browser, tmp_path, make):
    ex = make()
    load(browser, exercise_page(ex).save(tmp_path / "page.html"))
    rng = random.Random(19)
    seen: set[str] = set()
    for _ in range(25):
        answers = random_answers(ex, rng)
        graded = js_grade(browser, answers)
        assert_same_grades(graded, ex, answers)
        seen |= {r["diagnosis"] for r in graded["results"].values()}
    assert {"right", "not-answered", "carried", "unknown"} <= seen, seen
    assert len(seen - {"right", "close", "not-answered", "carried", "unknown"}) >= 4, seen


def test_typing_in_the_boxes_and_clicking_check(browser, mazur):
    """As a learner does it: type into the boxes on the graph, click check; text that is not a
    number is said to be so and read as not answered."""
    ex, path = mazur
    load(browser, path)
    box = browser.find_element(By.CSS_SELECTOR, 'g.node foreignObject input[data-question="w5"]')
    box.send_keys("0.08216704")
    browser.find_element(By.CSS_SELECTOR, 'g.node foreignObject input[data-question="w1"]').send_keys("0.0o4")
    assert browser.find_element(By.CSS_SELECTOR, '#question-table input[data-question="w5"]'
                                ).get_attribute("value") == "0.08216704"  # the table's box follows
    browser.find_element(By.ID, "check").click()
    state = browser.execute_script("return window.micrograd.state()")
    by_name = {q["name"]: q for q in state["questions"]}
    assert by_name["w5"]["answer"] == 0.08216704 and by_name["w5"]["diagnosis"] == "close"
    assert by_name["w1"]["answer"] is None and by_name["w1"]["diagnosis"] == "not-answered"
    assert by_name["w1"]["problem"] == 'not a number: "0.0o4"'
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('#question-table td.message'), c => c.textContent)")
    assert cells[ex.questions.index("w5")] == "close: " + ex.grade({"w5": 0.08216704})["w5"].message
    assert cells[ex.questions.index("w1")] == 'not a number: "0.0o4" (read as not answered)'
    assert browser.find_element(By.ID, "score").text == f"1 of {len(ex.questions)} right"
    assert "right" in browser.find_element(By.CSS_SELECTOR, f'g[data-title="v{ex.question("w5").node}"]'
                                           ).get_attribute("class")


def test_the_suspect_edges_of_each_kind_of_mistake():
    """By hand, on f = x*y + x (x feeds the product, input 0, and the sum, input 1) and on
    Mazur's network (out_h1 at the fork of w1's two paths); nodes found by the graph's shape."""
    from micrograd_bp.exercise_page import suspect_edges

    ex = Exercise.from_expression("x*y + x", {"x": 2.0, "y": -3.0})
    position = {id(n): i for i, n in enumerate(ex.order)}
    total = len(ex.order) - 1
    x, product = ex.order[total].inputs[1], position[id(ex.order[total].inputs[0])]
    assert suspect_edges(ex, x, f"missing-path:terms:{total}.1") == [[product, 0]]  # x*y's edge left out
    assert suspect_edges(ex, x, f"local-only:{product}.0") == [[product, 0]]
    assert suspect_edges(ex, x, f"double-count:term:{total}.1") == [[total, 1]]
    assert suspect_edges(ex, x, "sign") == [] and suspect_edges(ex, x, "factor:2") == []

    ex = Exercise.mazur()
    position = {id(n): i for i, n in enumerate(ex.order)}
    n = ex.nodes
    w1, out_h1 = n["w1"], n["out_h1"]

    def edge(consumer, k):
        return [position[id(consumer)], k]

    assert sorted(suspect_edges(ex, w1, f"stopped-early:{position[id(out_h1)]}")) == sorted(
        [edge(out_h1, 0), edge(n["net_h1"], 0)])  # out_h1 -> net_h1 -> w1
    total = ex.root
    # the path through o2: E_total -> E_o2 -> its square -> target_o2 - out_o2 -> out_o2 -> net_o2
    via_o2 = [edge(total, 1), edge(n["E_o2"], 1)]
    square = n["E_o2"].inputs[1]
    via_o2 += [edge(square, 0), edge(square.inputs[0], 1), edge(n["out_o2"], 0), edge(n["net_o2"], 1)]
    assert sorted(suspect_edges(ex, w1, f"missing-path:group:{position[id(n['out_o1'])]}")) == sorted(via_o2)
    above = suspect_edges(ex, w1, f"missing-upstream:{position[id(out_h1)]}")
    assert len(above) == 12 and all(e in above for e in via_o2) and edge(total, 0) in above


def test_a_missing_path_keyed_by_its_number_highlights_the_paths_left_out():
    """Mazur's dE/dw1 has two paths (through out_o1, through out_o2): "path 1 alone" suspects the
    edges of path 2 that path 1 does not share, the same edges as "the paths through out_o1 alone";
    among them the edge out_h1 -> net_o2, not the shared edge w1 -> net_h1."""
    ex = Exercise.mazur()
    w1 = ex.nodes["w1"]
    position = {ex.names[id(n)]: i for i, n in enumerate(ex.order)}
    by_number = sorted(suspect_edges(ex, w1, "missing-path:paths:1"))
    assert by_number == sorted(suspect_edges(ex, w1, f"missing-path:group:{position['out_o1']}"))
    net_o2, net_h1 = ex.nodes["net_o2"], ex.nodes["net_h1"]
    into = {name: [k for k, p in enumerate(node.inputs) if p is ex.nodes[src]][0]
            for name, node, src in (("net_o2", net_o2, "out_h1"), ("net_h1", net_h1, "w1"))}
    assert [position["net_o2"], into["net_o2"]] in by_number
    assert [position["net_h1"], into["net_h1"]] not in by_number
    assert sorted(suspect_edges(ex, w1, "missing-path:paths:2")) != by_number
