"""Helpers the tests share: one command-line runner in-process and one as a real process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from micrograd_bp import fast
from micrograd_bp.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(*argv: object) -> tuple[int, str, str]:
    """cli.main(argv) in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def cli_process(*argv: object, **popen: object) -> subprocess.Popen:
    """`python -m micrograd_bp ARGV` as a real process (for pipes, full disks and signals)."""
    return subprocess.Popen([sys.executable, "-m", "micrograd_bp", *map(str, argv)],
                            cwd=REPO, env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
                            **popen)


@pytest.fixture(params=["fast", "plain"])
def layer(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs twice: on the fast layer, and on engine.py's plain core alone."""
    was = fast.installed()
    (fast.install if request.param == "fast" else fast.uninstall)()
    try:
        yield request.param
    finally:
        (fast.install if was else fast.uninstall)()
