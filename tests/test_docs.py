"""The documentation: the site builds with `mkdocs build --strict` (a broken link, a missing page
or an API reference that does not resolve fails it), and every example on the README and on every
page of docs/ runs as printed: >>> sessions as doctests, Python blocks as scripts, `$ micrograd-bp`
transcripts against what the command prints, sh commands with status 0.

`python tests/test_docs.py` rewrites the output under each unabridged `$ micrograd-bp` command of
the README and the pages in place, for a change that alters what a command prints."""

from __future__ import annotations

import argparse
import doctest
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO
from markdown_examples import matches, python_scripts, rewrite_file, run_transcript, sh_commands, transcripts

from micrograd_bp import __all__ as PUBLIC
from micrograd_bp.cli import build_parser
from micrograd_bp.ops import OPS
from micrograd_bp.registry import unregister_op

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
TEXT = {page.relative_to(REPO).as_posix(): page.read_text() for page in PAGES}


def examples(find) -> list:
    """pytest params: (page, example) for each example find(text) gives on each page."""
    return [pytest.param(name, found, id=f"{name}: {str(found)[:60]}")
            for name, text in TEXT.items() for found in find(text)]


# ------------------------------------------------------------------------------- the strict build

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once with --strict into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_every_page_is_built_as_a_file_that_opens_from_disk(site):
    """Plain .html pages (no directory URLs) and the search index as a script (no fetch)."""
    for page in (REPO / "docs").rglob("*.md"):
        assert (site / page.relative_to(REPO / "docs").with_suffix(".html")).is_file(), page
    assert (site / "search" / "search_index.js").stat().st_size > 10_000
    index = (site / "index.html").read_text()
    assert 'href="tutorial/build-an-expression.html"' in index
    assert "fonts.googleapis.com" not in index


def test_the_site_opened_from_disk_searches_and_fetches_nothing(site):
    """In headless Chromium from file://: the search finds a page by a word on it; and no page
    loads a script, a stylesheet, a font or a picture from anywhere but the site itself."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_page import start_browser

    browser = start_browser("1280,900")
    try:
        browser.get((site / "tutorial" / "check-a-partial.html").as_uri())
        browser.execute_script("document.getElementById('__search').click()")
        browser.find_element(By.CSS_SELECTOR, "input.md-search__input").send_keys("zero_grad")
        WebDriverWait(browser, 20).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
        titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".md-search-result__item h1")]
        assert any("Build an expression" in title for title in titles), titles
    finally:
        browser.quit()
    remote = re.compile(r'<(?:script|img|iframe)[^>]* src="(?:https?:)?//[^"]*"'
                        r'|<link[^>]* href="(?:https?:)?//[^"]*"')
    for page in site.rglob("*.html"):
        assert not remote.findall(page.read_text()), page


def test_the_api_reference_documents_every_public_name(site):
    """Every name micrograd_bp exports has its entry, generated from its docstring."""
    html = (site / "reference" / "python-api.html").read_text()
    ids = set(re.findall(r'id="(micrograd_bp\.[\w.]+)"', html))
    for name in PUBLIC:
        assert any(i.endswith("." + name) for i in ids), name
    assert "The chain rule from this node" in html  # Value.backward's docstring


def test_the_api_reference_has_every_module():
    """Each module of the package has its ::: block (a new module is documented, not forgotten)."""
    text = TEXT["docs/reference/python-api.md"]
    package = REPO / "micrograd_bp"
    modules = [".".join(path.relative_to(REPO).with_suffix("").parts) for path in package.rglob("*.py")
               if path.name not in ("__init__.py", "__main__.py", "cli.py")]
    assert len(modules) >= 15
    for module in modules:
        assert f"::: {module}\n" in text, module


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command and sub-command of the command line, as ("exercise new", its parser)."""
    found = [(path, parser)] if path else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}".strip())
    return found


def test_the_command_reference_has_every_command_and_option():
    text = TEXT["docs/reference/cli.md"]
    listed = commands(build_parser())
    assert len(listed) >= 8
    for path, parser in listed:
        assert f"# {path}\n" in text, f"no heading for {path}"
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in text, f"{path} {option}"


def test_every_picture_on_the_site_is_redrawn_by_make_pictures():
    """The pictures are the project's own: each one a page shows is written by `make pictures`."""
    makefile = (REPO / "Makefile").read_text()
    recipe = "\n".join(re.findall(r"^(?:pictures|graphs|screenshot):.*\n((?:\t.*\n)+)", makefile, re.M))
    image = re.compile(r"!\[[^\]]*\]\((?:\.\./|docs/)*([\w.]+)\)")
    shown = {m for text in TEXT.values() for m in image.findall(text)}
    assert len(shown) >= 5
    for picture in shown:
        assert f"docs/{picture}" in recipe, picture


# ----------------------------------------------------------------------------------- the examples

@pytest.fixture(autouse=True)
def ops_put_back():
    """An op a page registers (as a reader would) is removed afterwards, so the other tests see
    only the built-in table."""
    before = set(OPS)
    yield
    for name in set(OPS) - before:
        unregister_op(name)


@pytest.mark.parametrize("name", [n for n, t in TEXT.items() if doctest.DocTestParser().get_examples(t)])
def test_the_doctests(name):
    """Each page's >>> sessions in one namespace, top to bottom, as a reader types them."""
    failures, tried = doctest.testfile(str(REPO / name), module_relative=False)
    assert tried >= 1 and failures == 0


def test_the_site_has_its_examples():
    count = sum(len(doctest.DocTestParser().get_examples(t)) for t in TEXT.values())
    assert count >= 60
    assert sum(len(transcripts(t)) for t in TEXT.values()) >= 25


@pytest.mark.parametrize("name, transcript", examples(transcripts))
def test_each_transcript_prints_what_the_page_shows(name, transcript, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command, expected = transcript
    status, out, err = run_transcript(command)
    assert status in (0, 1), err
    assert matches(expected, out), "\n".join(out)


@pytest.mark.parametrize("name, line", examples(sh_commands))
def test_each_command_runs(name, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_transcript(line)
    assert status == 0, err
    argv = line.split()
    for option in ("--graph", "--network", "--animate"):  # a picture asked for is written
        if option in argv:
            assert (tmp_path / argv[argv.index(option) + 1]).stat().st_size > 0


@pytest.mark.parametrize("name, code", examples(python_scripts))
def test_each_python_block_runs(name, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, name, "exec"), {})


if __name__ == "__main__":
    for page in PAGES:
        if rewrite_file(page):
            print("rewrote", page.relative_to(REPO))
