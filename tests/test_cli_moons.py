"""micrograd-bp moons: training on the eager engine or the batch replay, the accuracy, the picture."""

from __future__ import annotations

import sys

import pytest
from conftest import run_cli


def test_the_batch_replay_trains_as_the_eager_engine() -> None:
    """The same 100 steps both ways: the same losses to the printed digits, all points right."""
    status, batch, err = run_cli("moons", "--steps", 100, "--batch")
    assert status == 0, err
    status, eager, err = run_cli("moons", "--steps", 100)
    assert status == 0, err
    assert batch.splitlines()[0] == "moons: MLP(2, [16, 16, 1]), 100 points, 100 steps by the batch replay"
    assert eager.splitlines()[0] == "moons: MLP(2, [16, 16, 1]), 100 points, 100 steps by the eager engine"
    assert batch.splitlines()[1:] == eager.splitlines()[1:]
    assert batch.splitlines()[1].startswith("loss: 0.903004 at the start, ")
    assert batch.splitlines()[2] == "accuracy: 100.0% (100 of 100 points)"


def test_plot_writes_the_decision_boundary(tmp_path) -> None:
    path = tmp_path / "moons.png"
    status, out, err = run_cli("moons", "--steps", 20, "--batch", "--plot", path)
    assert status == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert f"wrote {path}" in err


@pytest.mark.parametrize("argv, message", [
    (["--steps", "100001", "--batch"],
     "argument --steps: 100001 is more steps than this command runs: at most 100,000"),
    (["--steps", "99999999999999999999"], "at most 100,000 (minutes of training)"),
    (["--steps", "2001"], "--steps 2,001 is more steps than moons runs without --batch: at most 2,000 "
                          "(try --batch)"),
    (["--points", "1"], "--points must be 2 to 10,000"),
    (["--points", "10000", "--steps", "21"],
     "--steps 21 is more steps than moons runs without --batch on 10,000 points of width 16: at most 20"),
    (["--points", "10000", "--width", "64", "--steps", "6251", "--batch"], "at most 6,250"),
    (["--plot", "moons.gif"], "--plot moons.gif: the picture is written as .png, .svg or .pdf"),
    (["--plot", "no/such/dir/m.png"], "the directory no/such/dir does not exist"),
])
def test_bad_options_are_refused_before_any_work(argv: list[str], message: str) -> None:
    status, out, err = run_cli("moons", *argv)
    assert status == 2 and out == ""
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("module, argv, message", [
    ("matplotlib", ["--plot", "m.png"], "--plot needs matplotlib, which is not installed: pip install "
                                        "'micrograd_bp[notebook]'"),
    ("numpy", ["--batch"], "--batch and --plot need numpy, which is not installed: pip install "
                           "'micrograd_bp[batch]'"),
])
def test_a_missing_extra_is_named(monkeypatch, module: str, argv: list[str], message: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    status, out, err = run_cli("moons", *argv)
    assert status == 2 and message in err
