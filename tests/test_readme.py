"""The README gets a learner running and points on: it stays short, and every page and picture it
links to exists. Its examples run with the site's, in tests/test_docs.py."""

from __future__ import annotations

import doctest
import re

from conftest import REPO
from markdown_examples import sh_commands, transcripts

README = (REPO / "README.md").read_text()


def test_the_readme_is_short_and_has_its_examples():
    assert len(README) <= 15_000
    assert len(transcripts(README)) >= 2 and len(sh_commands(README)) >= 2
    assert len(doctest.DocTestParser().get_examples(README)) >= 8


def test_the_readme_points_at_pages_and_pictures_that_exist():
    """Every docs/ page or picture the README links to is there (the site's own links are
    checked by its strict build, in tests/test_docs.py)."""
    targets = re.findall(r"\]\((docs/[^)#\s]+)", README)
    assert len(targets) >= 8
    for target in targets:
        assert (REPO / target).is_file(), target
