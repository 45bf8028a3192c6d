"""micrograd-bp exercise new | attempt | grade | grade --class: the files written, the answers
from the engine (the tutorial's numbers, hand derivations), grading as ex.grade grades, and bad
input as one clear line with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import math
import shlex
import sys

import pytest
from conftest import REPO, cli_process, run_cli
from markdown_examples import blocks, matches

from micrograd_bp.exercise import Exercise

# shared/reference/mazur-2-2-2.md
MAZUR = {"w5": 0.082167041, "w1": 0.000438568, "out_h1": 0.036350306, "net_o1": 0.138498562}


def attempt(monkeypatch, typed: str, *argv: object) -> tuple[int, str, str]:
    """exercise attempt with `typed` on stdin (a pipe, not a terminal)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    return run_cli("exercise", "attempt", *argv)


@pytest.fixture(scope="module")
def mazur_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("mazur")
    status, stdout, err = run_cli("exercise", "new", "--preset", "mazur", "--ask", "w5,out_h1",
                                  "--ask", "w1,net_o1", "--out", out)
    assert status == 0, err
    return out, stdout


def test_new_writes_the_exercise_the_worksheet_and_the_key_apart(mazur_set):
    out, stdout = mazur_set
    assert sorted(p.name for p in out.iterdir()) == [
        "answer-key.json", "answer-key.md", "exercise-01.json", "worksheet-01.html", "worksheet-01.svg"]
    assert "4 questions each, in backward order: net_o1, w5, out_h1, w1" in stdout
    exercise = json.loads((out / "exercise-01.json").read_text())
    assert [q["name"] for q in exercise["questions"]] == ["net_o1", "w5", "out_h1", "w1"]
    assert "expected" not in json.dumps(exercise) and "candidates" not in json.dumps(exercise)
    key = json.loads((out / "answer-key.json").read_text())["variants"][0]["answers"]
    assert {name: round(value, 9) for name, value in key.items()} == MAZUR
    assert "| 3 | dE_total/dout_h1 | 0.0363503064 |" in (out / "answer-key.md").read_text()  # 9 digits
    svg = (out / "worksheet-01.svg").read_text()
    for k, name in enumerate(["net_o1", "w5", "out_h1", "w1"], 1):
        assert f"({k}) dE_total/d{name}" in svg
    assert "0.0822" not in svg and "grad" not in svg  # no gradient anywhere on the worksheet
    html = (out / "worksheet-01.html").read_text()
    assert html.count("<td class=box></td>") == 4 and "<svg" in html and "Name <span>" in html


def test_new_writes_variants_with_the_seed_and_a_page(tmp_path):
    status, _, err = run_cli("exercise", "new", "--expr", "tanh(w*x + b)", "w=0.5", "x=2", "b=-0.3",
                             "--ask", "w,x,b", "--variants", "2", "--seed", "7", "--out", tmp_path, "--page")
    assert status == 0, err
    assert (tmp_path / "page-02.html").stat().st_size > 10_000
    key = json.loads((tmp_path / "answer-key.json").read_text())["variants"]
    for variant, seed in zip(key, (7, 8)):
        used = json.loads((tmp_path / variant["exercise"]).read_text())["source"]["used"]
        assert used == Exercise.from_expression("tanh(w*x + b)", {"w": 0.5, "x": 2, "b": -0.3},
                                                seed=seed).source["used"]
        assert all(math.copysign(1, used[k]) == math.copysign(1, v) for k, v in
                   {"w": 0.5, "x": 2, "b": -0.3}.items())  # signs kept
        # by hand: d tanh(z)/dw = x (1 - tanh(z)^2), z = w x + b
        t = math.tanh(used["w"] * used["x"] + used["b"])
        answers = variant["answers"]
        assert math.isclose(answers["w"], used["x"] * (1 - t * t), rel_tol=1e-12)
        assert math.isclose(answers["x"], used["w"] * (1 - t * t), rel_tol=1e-12)
        assert math.isclose(answers["b"], 1 - t * t, rel_tol=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--preset", "mazur", "--variants", "3"], "--variants above 1 needs --seed"),
    (["--preset", "mazur", "--ask", "w9"], "'w9' is not a node of the graph"),
    (["--preset", "mazur", "w1=3"], "NAME=VALUE goes with --expr"),
    (["--expr", "log(x", "x=1"], "expected ')'"),
    (["--expr", "log(x)", "x=-1"], "log"),
    (["--preset", "mazur", "--ask", "all,w1"], "--ask takes all, or node names"),
    (["--expr", "2*3"], "2*3 has no gradient to ask"),
    (["--expr", "x", "x=1"], "x has no gradient to ask"),
])
def test_new_refuses_bad_input_in_one_line(tmp_path, argv, message):
    status, out, err = run_cli("exercise", "new", *argv, "--out", tmp_path / "set")
    assert status == 2 and out == "" and message in err and "Traceback" not in err
    assert not (tmp_path / "set" / "exercise-01.json").exists()


def test_new_does_not_overwrite_without_force(mazur_set):
    out, _ = mazur_set
    before = (out / "answer-key.json").read_text()
    status, _, err = run_cli("exercise", "new", "--preset", "mazur", "--out", out)
    assert status == 2 and "exists" in err and "--force" in err
    assert (out / "answer-key.json").read_text() == before
    status, _, err = run_cli("exercise", "new", "--preset", "mazur", "--ask", "w5", "--out", out, "--force")
    assert status == 0, err
    assert list(json.loads((out / "answer-key.json").read_text())["variants"][0]["answers"]) == ["w5"]
    run_cli("exercise", "new", "--preset", "mazur", "--ask", "w5,out_h1,w1,net_o1", "--out", out, "--force")


def test_attempt_asks_in_backward_order_and_grades_as_it_goes(mazur_set, monkeypatch, tmp_path):
    out, _ = mazur_set
    ex = Exercise.mazur(ask=["w5", "out_h1", "w1", "net_o1"])
    typed = "0.1384986\nabc\n-0.0821670\n\n0.000668396\n"  # right, a typo, a sign, a skip, a path
    status, stdout, err = attempt(monkeypatch, typed, out / "exercise-01.json", "--save",
                                  tmp_path / "alice.json", "--student", "Alice")
    assert status == 1
    lines = stdout.splitlines()
    assert lines[1:4] == ["(1) dE_total/dnet_o1 = 0.1384986",
                          "    close: right to the digits given: you wrote 0.1384986, dE_total/dnet_o1 = "
                          "0.138498562",
                          "(2) dE_total/dw5 = abc"]
    assert "not a number: 'abc'" in err
    assert any(line.startswith("    sign: ") and line.endswith(" dE_total/dw5 = 0.0821670406")
               for line in lines)
    assert "(3) dE_total/dout_h1 = " in lines and "    (skipped)" in lines
    assert "answers were revealed" not in stdout
    assert lines[-1] == "score: 1 of 4 right (0.25)"
    saved = json.loads((tmp_path / "alice.json").read_text())
    assert saved["student"] == "Alice" and saved["revealed"] is False
    assert saved["answers"] == {"net_o1": 0.1384986, "w5": -0.082167, "w1": 0.000668396}
    result = ex.grade(saved["answers"])
    assert [result[n].diagnosis for n in ex.questions] == ["close", "sign", "not-answered", "missing-path"]


def test_attempt_reveal_shows_each_answer_and_marks_the_attempt(mazur_set, monkeypatch, tmp_path):
    out, _ = mazur_set
    status, stdout, _ = attempt(monkeypatch, "", out / "exercise-01.json", "--reveal", "--save",
                                tmp_path / "peek.json")
    assert status == 1
    assert "    answer: 0.0821670406" in stdout.splitlines() and "answers were revealed" in stdout
    assert json.loads((tmp_path / "peek.json").read_text())["revealed"] is True


def test_grade_one_student_text_and_json(mazur_set, tmp_path):
    out, _ = mazur_set
    answers = {"net_o1": MAZUR["net_o1"], "w5": MAZUR["w5"], "out_h1": MAZUR["out_h1"], "w1": MAZUR["w1"]}
    (tmp_path / "good.json").write_text(json.dumps(answers))
    status, stdout, _ = run_cli("exercise", "grade", out / "exercise-01.json", tmp_path / "good.json")
    assert status == 0 and stdout.startswith("good: 4 of 4 right (score 1)")
    answers["w1"] = 0.000668396021  # the path through out_o1 alone
    (tmp_path / "slip.json").write_text(json.dumps(answers))
    status, stdout, _ = run_cli("exercise", "grade", out / "exercise-01.json", tmp_path / "slip.json",
                                "--json")
    assert status == 1
    graded = json.loads(stdout)
    assert graded["score"] == 0.75
    w1 = next(g for g in graded["grades"] if g["name"] == "w1")
    assert w1["diagnosis"] == "missing-path" and "-0.000229828287" in w1["message"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not valid JSON"),
    ('{"w9": 1}', "'w9' is not a question of the exercise"),
    ('{"w5": "0.08x"}', "the answer to 'w5': expected a number"),
    ('{"w5": true}', "the answer to 'w5': expected a number"),
    ('[1, 2]', "the answers must be a JSON object"),
])
def test_grade_refuses_bad_answers_in_one_line(mazur_set, tmp_path, content, message):
    out, _ = mazur_set
    path = tmp_path / "answers.json"
    if content is not None:
        path.write_text(content)
    status, stdout, err = run_cli("exercise", "grade", out / "exercise-01.json", path)
    assert status == 2 and stdout == "" and message in err and "Traceback" not in err


def test_grade_refuses_a_file_that_is_not_an_exercise(mazur_set, tmp_path):
    out, _ = mazur_set
    status, _, err = run_cli("exercise", "grade", out / "answer-key.json", out / "answer-key.json")
    assert status == 2 and "not an exercise file" in err
    status, _, err = run_cli("exercise", "attempt", tmp_path / "missing.json")
    assert status == 2 and "no such file" in err


def test_grade_refuses_the_answer_key_given_as_answers(mazur_set):
    """The key beside the exercise, passed as the student's answers: named as a key, in one line."""
    out, _ = mazur_set
    status, stdout, err = run_cli("exercise", "grade", out / "exercise-01.json", out / "answer-key.json")
    assert status == 2 and stdout == "" and "this is an answer key" in err
    assert len(err.splitlines()) == 1 and len(err) < 300


def test_a_long_bad_answer_is_shown_cut(mazur_set, tmp_path):
    out, _ = mazur_set
    path = tmp_path / "answers.json"
    path.write_text('{"w5": [' + ", ".join(["1"] * 200) + "]}")
    status, _, err = run_cli("exercise", "grade", out / "exercise-01.json", path)
    assert status == 2 and "expected a number, got [1, 1," in err and err.rstrip().endswith("...")
    assert len(err) < 300


def test_grade_a_class_csv_and_chart(mazur_set, tmp_path, monkeypatch):
    out, _ = mazur_set
    ex = Exercise.mazur(ask=["w5", "out_h1", "w1", "net_o1"])
    room = tmp_path / "class"
    room.mkdir()
    students = {"ann": {"net_o1": 0.1384986, "w5": 0.0821670, "out_h1": 0.0363503, "w1": 0.000438568},
                "ben": {"net_o1": 0.1384986, "w5": -0.0821670, "w1": 0.000668396},
                "cat": {"net_o1": 0.2, "w5": 0.2 * ex.nodes["out_h1"].data}}
    for name, answers in students.items():
        (room / f"{name}.json").write_text(json.dumps({"student": name.title(), "answers": answers,
                                                       "exercise": str(out / "exercise-01.json")}))
    (room / "copy-of-exercise.json").write_text((out / "exercise-01.json").read_text())  # skipped
    status, stdout, err = run_cli("exercise", "grade", "--class", room, "--csv", tmp_path / "class.csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "class.csv").read_text())))
    assert len(rows) == 3 * 4
    for row in rows:
        graded = ex.grade(students[row["student"].lower()])[row["question"]]
        assert row["diagnosis"] == graded.diagnosis and row["ok"] == str(graded.ok).lower()
        assert float(row["expected"]) == ex.keys[row["question"]]
    by = {(r["student"], r["question"]): r["diagnosis"] for r in rows}
    assert by["Ben", "w5"] == "sign" and by["Ben", "w1"] == "missing-path"
    assert by["Ben", "out_h1"] == "not-answered" and by["Cat", "w5"] == "carried"
    assert "diagnoses: close 5, not-answered 3, carried 1, sign 1, missing-path 1, unknown 1" in stdout
    png = (tmp_path / "class.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    status, stdout, _ = run_cli("exercise", "grade", "--class", room, "--json")
    report = json.loads(stdout)
    assert report["students"] == ["Ann", "Ben", "Cat"] and report["skipped"] == ["copy-of-exercise.json"]
    assert report["scores"] == {name.title(): ex.grade(answers).score for name, answers in students.items()}
    assert report["counts"]["close"] == 5 and len(report["rows"]) == 12
    (room / "dan.json").write_text('{"w5": 0.0821670406}')  # a plain file names no exercise
    status, _, err = run_cli("exercise", "grade", "--class", room)
    assert status == 2 and "dan.json: the attempt names no exercise" in err and "give --exercise FILE" in err
    status, stdout, _ = run_cli("exercise", "grade", "--class", room, "--exercise", out / "exercise-01.json")
    assert status == 0 and f"dan,exercise-01.json,w5,0.0821670406,{ex.keys['w5']!r},true,right," in stdout
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the notebook extra were missing
    status, _, err = run_cli("exercise", "grade", "--class", room, "--csv", tmp_path / "again.csv")
    assert status == 2 and "pip install 'micrograd_bp[notebook]'" in err
    assert not (tmp_path / "again.csv").exists()


def test_the_exercise_commands_run_as_a_process(mazur_set):
    """No traceback from a real process either; --help lists the three commands."""
    out, _ = mazur_set
    process = cli_process("exercise", "--help", stdout=-1, stderr=-1)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and all(word in stdout.decode() for word in ("new", "attempt", "grade"))
    process = cli_process("exercise", "attempt", out / "exercise-01.json", stdin=-1, stdout=-1, stderr=-1)
    stdout, err = process.communicate(b"0.1384985616\n", timeout=60)
    assert process.returncode == 1 and b"    right: dE_total/dnet_o1 = 0.138498562\n" in stdout and err == b""


# ------------------------------------------------------------------ the how-to page's sessions

def console_sessions(text: str) -> list[list[tuple[str, list[str]]]]:
    """Each ```console block: its `$ ...` commands, each with the output printed under it."""
    sessions = []
    for kind, body in blocks(text):
        if kind == "console":
            commands: list[tuple[str, list[str]]] = []
            for line in body.splitlines():
                if line.startswith("$ "):
                    commands.append((line[2:], []))
                else:
                    commands[-1][1].append(line)
            sessions.append(commands)
    return sessions


def run_console(command: str, monkeypatch) -> tuple[int, list[str], str]:
    """`micrograd-bp ...`, or `printf 'TEXT' | micrograd-bp ...` (TEXT, with its \\n, on stdin)."""
    typed = ""
    if command.startswith("printf "):
        printf, _, command = command.partition(" | ")
        typed = shlex.split(printf)[1].replace("\\n", "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    argv = shlex.split(command)
    assert argv[0] == "micrograd-bp", command
    status, out, err = run_cli(*argv[1:])
    return status, out.splitlines(), err


SESSIONS = console_sessions((REPO / "docs" / "how-to" / "worksheet.md").read_text())


def test_the_worksheet_page_has_its_sessions():
    assert len(SESSIONS) == 3 and sum(len(s) for s in SESSIONS) == 5


def test_the_worksheet_pages_sessions_print_what_the_page_shows(tmp_path, monkeypatch):
    """The page's console blocks, in order in one folder (a session builds on the one before), each
    command's output line by line ("..." stands for lines left out)."""
    monkeypatch.chdir(tmp_path)
    for session in SESSIONS:
        for command, expected in session:
            status, out, err = run_console(command, monkeypatch)
            assert status in (0, 1), err
            assert matches(expected, out), "\n".join(out)


def rewrite_sessions(path) -> bool:
    """The page's console blocks with each command's output replaced by what it prints now (a
    block with "..." is left alone); True when anything changed. Run in a scratch folder."""
    import os
    import re
    import tempfile

    text = path.read_text()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as monkeypatch:
        os.chdir(scratch)
        try:
            def block(match: re.Match) -> str:
                lines: list[str] = []
                for command, expected in console_sessions("```console\n" + match.group(1) + "```\n")[0]:
                    out = run_console(command, monkeypatch)[1]
                    lines += ["$ " + command, *(expected if "..." in expected else out)]
                return "```console\n" + "\n".join(lines) + "\n```"
            new = re.sub(r"^```console\n(.*?)^```", block, text, flags=re.M | re.S)
        finally:
            os.chdir(here)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":  # python tests/test_cli_exercise.py: rewrite the worksheet page's sessions
    page = REPO / "docs" / "how-to" / "worksheet.md"
    print("rewrote" if rewrite_sessions(page) else "unchanged", page.relative_to(REPO))

