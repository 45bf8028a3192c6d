"""The examples of a Markdown page, found and run as printed: its >>> sessions (doctests), its
`$ micrograd-bp` transcripts and their output, its sh commands and its other Python blocks.
Shared by tests/test_readme.py (the README) and tests/test_docs.py (the site's pages)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import run_cli

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str]]:
    """Each fenced block as (language, body)."""
    return FENCE.findall(text)


def transcripts(text: str) -> list[tuple[str, list[str]]]:
    """Each `$ micrograd-bp ...` line of a text block and the output printed under it."""
    found: list[tuple[str, list[str]]] = []
    for kind, body in blocks(text):
        if kind != "text" or not body.lstrip().startswith("$ "):
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def sh_commands(text: str) -> list[str]:
    """The `micrograd-bp ...` lines of the sh blocks (make and pip lines are for the reader)."""
    return [line for kind, body in blocks(text) if kind == "sh" for line in body.splitlines()
            if line.startswith("micrograd-bp ")]


def python_scripts(text: str) -> list[str]:
    """The Python blocks that are not >>> sessions: each runs as a script."""
    return [body for kind, body in blocks(text) if kind == "python" and ">>>" not in body]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a line "..." stands for any number of lines (the pages abridge)."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def run_transcript(command: str) -> tuple[int, list[str], str]:
    """A `micrograd-bp ...` line run in this process: (status, stdout lines, stderr)."""
    argv = shlex.split(command, comments=True)
    assert argv[0] == "micrograd-bp", command
    status, out, err = run_cli(*argv[1:])
    return status, out.splitlines(), err


def rewrite(text: str) -> str:
    """text with each unabridged transcript block's output replaced by what the command prints."""
    def block(match: re.Match) -> str:
        body = match.group(1)
        if not body.startswith("$ ") or any(line.strip() == "..." for line in body.splitlines()):
            return match.group(0)
        lines: list[str] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                lines += [line, *run_transcript(line[2:])[1]]
        return "```text\n" + "\n".join(lines) + "\n```"

    return re.sub(r"^```text\n(.*?)^```", block, text, flags=re.M | re.S)


def rewrite_file(path: Path) -> bool:
    """Rewrite path's transcripts in place; True when anything changed."""
    old = path.read_text()
    new = rewrite(old)
    if new != old:
        path.write_text(new)
    return new != old
