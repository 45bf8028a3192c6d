"""The README's examples, run as they are printed: its >>> blocks, its $ commands and their
output, its sh commands and its Python blocks.

`python tests/test_readme.py` rewrites the output under each `$ micrograd-bp` command in place
(blocks abridged with "..." are left alone), for a change that alters what a command prints."""

from __future__ import annotations

import doctest
import re
import shlex

import pytest
from conftest import REPO, run_cli

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)


def transcripts() -> list[tuple[str, list[str]]]:
    """Each `$ micrograd-bp ...` line of a text block and the output printed under it."""
    found: list[tuple[str, list[str]]] = []
    for kind, body in BLOCKS:
        if kind != "text":
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found and body.lstrip().startswith("$ "):
                found[-1][1].append(line)
    return found


def sh_commands() -> list[str]:
    return [line for kind, body in BLOCKS if kind == "sh" for line in body.splitlines()
            if line.startswith("micrograd-bp ")]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a line "..." stands for any number of lines (the README abridges)."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def test_the_readme_has_transcripts_and_commands():
    assert len(transcripts()) >= 6 and len(sh_commands()) >= 5


def test_the_doctests():
    failures, tried = doctest.testfile(str(REPO / "README.md"), module_relative=False)
    assert tried >= 10 and failures == 0


@pytest.mark.parametrize("command, expected", transcripts(), ids=[c for c, _ in transcripts()])
def test_each_transcript_prints_what_the_readme_shows(command, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)
    assert argv[0] == "micrograd-bp"
    status, out, err = run_cli(*argv[1:])
    assert status in (0, 1), err
    assert matches(expected, out.splitlines()), out


@pytest.mark.parametrize("line", sh_commands())
def test_each_command_runs(line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(line, comments=True)
    status, _, err = run_cli(*argv[1:])
    assert status == 0, err
    for option in ("--graph", "--network"):  # a picture asked for is written
        if option in argv:
            assert (tmp_path / argv[argv.index(option) + 1]).stat().st_size > 0


@pytest.mark.parametrize("code", [body for kind, body in BLOCKS if kind == "python" and ">>>" not in body])
def test_each_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})


def rewrite(text: str) -> str:
    """text with each unabridged transcript block's output replaced by what the command prints."""
    def block(match: re.Match) -> str:
        body = match.group(1)
        if not body.startswith("$ ") or any(line.strip() == "..." for line in body.splitlines()):
            return match.group(0)
        lines = []
        for line in body.splitlines():
            if line.startswith("$ "):
                lines += [line, *run_cli(*shlex.split(line[2:])[1:])[1].splitlines()]
        return "```text\n" + "\n".join(lines) + "\n```"

    return re.sub(r"^```text\n(.*?)^```", block, text, flags=re.M | re.S)


if __name__ == "__main__":
    (REPO / "README.md").write_text(rewrite(README))
