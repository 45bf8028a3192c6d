"""The reference examples: every number in shared/reference, computed by the engine."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from micrograd_bp.examples import mazur, one_weight

TOL = 1e-8  # the tutorial prints 8 or 9 decimals


def near(a: float, b: float, tol: float = TOL) -> bool:
    return abs(a - b) <= tol


@pytest.fixture(scope="module")
def one_step():
    return mazur.walkthrough(steps=1)


FORWARD = {"net_h1": 0.3775, "out_h1": 0.593269992, "out_h2": 0.596884378,
           "net_o1": 1.105905967, "out_o1": 0.75136507, "out_o2": 0.772928465,
           "E_o1": 0.274811083, "E_o2": 0.023560026, "E_total": 0.298371109}


def test_forward_pass(one_step):
    for name, expected in FORWARD.items():
        assert near(one_step.forward[name], expected), name


def test_output_layer_chain_rule_for_w5(one_step):
    f = one_step.factors
    assert near(f["dE_total/dout_o1"], 0.74136507)
    assert near(f["dout_o1/dnet_o1"], 0.186815602)
    assert near(f["dnet_o1/dw5"], 0.593269992)
    assert near(one_step.gradients["w5"], 0.082167041)
    assert near(f["delta_o1"], 0.138498562)


def test_hidden_layer_chain_rule_for_w1(one_step):
    f = one_step.factors
    assert near(f["dE_total/dout_h1"], 0.036350306)
    assert near(f["dout_h1/dnet_h1"], 0.241300709)
    assert f["dnet_h1/dw1"] == 0.05
    assert near(one_step.gradients["w1"], 0.000438568)


def test_the_two_paths_into_out_h1(one_step):
    f = one_step.factors
    assert near(f["dE_o1/dout_h1"], 0.055399425)
    assert near(f["dE_o2/dout_h1"], -0.019049119)  # the tutorial rounds; exact -0.019049118...
    assert near(f["dE_o1/dout_h1"] + f["dE_o2/dout_h1"], f["dE_total/dout_h1"], 1e-15)


WEIGHTS_AFTER_ONE_STEP = {"w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229,
                          "w5": 0.35891648, "w6": 0.408666186, "w7": 0.511301270, "w8": 0.561370121}


def test_weights_after_one_step(one_step):
    for name, expected in WEIGHTS_AFTER_ONE_STEP.items():
        assert near(one_step.weights_after_one_step[name], expected), name
    assert one_step.weights_after_one_step["b1"] == 0.35  # the tutorial never updates the biases


def test_error_after_one_step_both_orders(one_step):
    assert near(one_step.error_after_one_step, 0.29102777369, 1e-11)
    sequential = mazur.walkthrough(steps=1, order="sequential")
    assert near(sequential.error_after_one_step, 0.291027924)
    assert abs(sequential.error_after_one_step - one_step.error_after_one_step) > 1e-7


def test_sequential_order_keeps_the_same_output_layer_step():
    sequential = mazur.walkthrough(steps=1, order="sequential").weights_after_one_step
    for name in ("w5", "w6", "w7", "w8"):
        assert near(sequential[name], WEIGHTS_AFTER_ONE_STEP[name])
    assert not near(sequential["w1"], WEIGHTS_AFTER_ONE_STEP["w1"], 1e-12)


def test_ten_thousand_steps_simultaneous():
    r = mazur.walkthrough(steps=10_000)
    assert near(r.final_error, 0.000035102, 1e-9)
    assert near(r.final_outputs[0], 0.015913620) and near(r.final_outputs[1], 0.984064274)


def test_ten_thousand_steps_sequential_gives_the_published_figures():
    r = mazur.walkthrough(steps=10_000, order="sequential")
    assert near(r.final_error, 0.000035085, 1e-9)
    assert near(r.final_outputs[0], 0.015912196) and near(r.final_outputs[1], 0.984065734)


def test_training_the_biases_too():
    r = mazur.walkthrough(steps=1, train_biases=True)
    assert near(r.error_after_one_step, 0.285750887)
    assert r.weights_after_one_step["b1"] != 0.35


def test_walkthrough_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        mazur.walkthrough(steps=0)
    with pytest.raises(ValueError, match="'backwards'"):
        mazur.walkthrough(order="backwards")


ONE_WEIGHT_TABLE = [(0.8, 0.59), (0.59, 0.4745), (0.4745, 0.410975), (0.410975, 0.37603625),
                    (0.37603625, 0.3568199375)]


def test_one_weight_table_and_closed_form():
    history = one_weight.train()
    assert [s.step for s in history] == [1, 2, 3, 4, 5]
    for s, (before, after) in zip(history, ONE_WEIGHT_TABLE):
        assert near(s.w_before, before, 1e-12) and near(s.w_after, after, 1e-12)
        assert near(s.grad, 4.5 * s.w_before - 1.5, 1e-12)
        assert near(s.grad, s.closed_form, 1e-12)


def test_one_weight_converges_to_a_third():
    assert near(one_weight.train(steps=200)[-1].w_after, 1 / 3, 1e-12)


# ------------------------------------------------------------------------------- the CLI


def test_cli_mazur_json():
    status, out, _ = run_cli("mazur", "--json", "--steps", "2")
    data = json.loads(out)
    assert status == 0 and data["steps"] == 2 and data["order"] == "simultaneous"
    assert set(data["forward"]) >= set(mazur.FORWARD_NAMES)
    assert near(data["forward"]["E_total"], 0.298371109)
    assert near(data["gradients"]["w5"], 0.082167041) and set(data["gradients"]) == set(mazur.PARAMETER_NAMES)
    assert set(data["final"]) >= {"weights", "E_total", "outputs"}
    assert len(data["final"]["outputs"]) == 2


def test_cli_mazur_text_names_the_orders():
    status, out, _ = run_cli("mazur")
    assert status == 0
    assert "0.082167041" in out and "0.291027774" in out and "--order sequential" in out
    status, out, _ = run_cli("mazur", "--order", "sequential")
    assert "0.291027924" in out and "published" in out


def test_cli_one_weight_json():
    status, out, _ = run_cli("one-weight", "--json")
    steps = json.loads(out)["steps"]
    assert status == 0 and len(steps) == 5
    assert set(steps[0]) == {"step", "w_before", "grad", "closed_form", "w_after"}
    assert near(steps[-1]["w_after"], 0.3568199375, 1e-12)


@pytest.mark.parametrize("argv, words", [
    (["mazur", "--steps", "0"], "positive integer"),
    (["mazur", "--steps", "many"], "positive integer"),
    (["mazur", "--lr", "-1"], "positive number"),
    (["mazur", "--order", "backwards"], "invalid choice"),
    (["one-weight", "--lr", "nan"], "positive number"),
    (["no-such-command"], "invalid choice"),
])
def test_cli_bad_options_exit_2_with_one_line(argv, words):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_the_network_labels_its_targets_as_the_checker_names_them():
    """The targets are labelled where they are made, so every drawing and ledger shows them by name."""
    from micrograd_bp.viz import draw

    nodes = mazur.MazurNetwork().forward()
    assert nodes["target_o1"].data == 0.01 and nodes["target_o2"].data == 0.99  # the reference targets
    total = nodes["E_total"]
    total.backward()
    source = draw(total).source
    assert "target_o1" in source and "target_o2" in source


def test_the_walkthrough_tells_its_progress_and_compiled_chunks_change_no_bit():
    """advance hears of every step; the compiled steps run in chunks of COMPILED_CHUNK, and a run
    across chunks gives the plain loop's numbers, bit for bit (history included)."""
    steps = mazur.COMPILED_CHUNK + 3  # the first step, one whole chunk, then 2 more
    heard: list[int] = []
    compiled = mazur.walkthrough(steps, compiled=True, record_history=True, advance=heard.append)
    assert heard == [1, mazur.COMPILED_CHUNK, 2]
    counted: list[int] = []
    plain = mazur.walkthrough(steps, record_history=True, advance=counted.append)
    assert counted == [1] * steps
    assert compiled.history == plain.history and len(plain.history) == steps + 1
    assert compiled.final_error == plain.final_error and compiled.final_weights == plain.final_weights
    assert compiled.error_after_one_step == plain.error_after_one_step
