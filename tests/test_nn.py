"""nn: parameters, shared biases, activations, losses and SGD, against hand values and FD."""

from __future__ import annotations

import math

import pytest
from oracles import central_difference, close

from micrograd_bp import Value
from micrograd_bp.nn import (
    MLP,
    SGD,
    Layer,
    Neuron,
    half_squared_error,
    mean_squared_error,
    squared_error,
)


def test_neuron_by_hand():
    n = Neuron(2, "tanh", weights=[0.5, -1.0], bias=0.25, name="h")
    out = n([2.0, 1.0])
    assert close(out.data, math.tanh(0.5 * 2 - 1.0 + 0.25))
    assert out.label == "out_h" and out.inputs[0].label == "net_h"
    assert [p.label for p in n.parameters()] == ["h.w1", "h.w2", "h.b"]


@pytest.mark.parametrize("activation, f", [
    ("sigmoid", lambda z: 1 / (1 + math.exp(-z))), ("tanh", math.tanh),
    ("relu", lambda z: max(z, 0.0)), ("none", lambda z: z),
])
def test_each_activation(activation, f):
    for z in (-1.5, 0.75):
        out = Neuron(1, activation, weights=[1.0], bias=0.0)([z])
        assert close(out.data, f(z))


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="'softmax'"):
        Neuron(1, "softmax")


def test_wrong_input_count_is_an_error():
    with pytest.raises(ValueError, match="got 3 inputs, expected 2"):
        Neuron(2, weights=[1.0, 1.0])([1.0, 2.0, 3.0])


def test_shared_bias_is_one_parameter():
    layer = Layer(2, 3, "sigmoid", shared_bias=True, bias=0.35)
    biases = {id(n.bias) for n in layer.neurons}
    assert len(biases) == 1
    assert len(layer.parameters()) == 2 * 3 + 1


def test_mlp_parameter_count_and_seeded_initialisation():
    a, b = MLP(2, [16, 16, 1], ["relu", "relu", "none"], seed=7), MLP(2, [16, 16, 1], "relu", seed=7)
    assert len(a.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    other_seed = MLP(2, [3], seed=8).parameters()
    assert [p.data for p in other_seed] != [p.data for p in MLP(2, [3], seed=7).parameters()]


def test_mlp_rejects_mismatched_configuration():
    with pytest.raises(ValueError, match="2 activations for 3 layers"):
        MLP(2, [2, 2, 1], ["relu", "relu"])


def test_mlp_gradients_match_central_differences():
    mlp = MLP(3, [4, 2], ["tanh", "sigmoid"], seed=3)
    x, targets = [0.3, -1.2, 0.8], [0.1, 0.9]

    def loss_at(p, t):
        saved = p.data
        p.data = t
        value = half_squared_error(mlp(x), targets).data
        p.data = saved
        return value

    mlp.zero_grad()
    half_squared_error(mlp(x), targets).backward()
    for p in mlp.parameters():
        assert close(p.grad, central_difference(lambda t, p=p: loss_at(p, t), p.data), rtol=1e-5, atol=1e-9)


def test_losses_by_hand():
    outs = [Value(0.75), Value(0.25)]
    assert close(half_squared_error(outs, [0.5, 0.0]).data, 0.5 * 0.0625 + 0.5 * 0.0625)
    assert close(squared_error(outs, [0.5, 0.0]).data, 0.125)
    assert close(mean_squared_error(outs, [0.5, 0.0]).data, 0.0625)
    with pytest.raises(ValueError, match="2 outputs for 1 targets"):
        squared_error(outs, [0.5])


def test_sgd_step_and_zero_grad():
    w = Value(0.8)
    w.grad = 2.1
    opt = SGD([w], lr=0.1)
    opt.step()
    assert close(w.data, 0.59)
    opt.zero_grad()
    assert w.grad == 0.0
    with pytest.raises(ValueError, match="learning rate"):
        SGD([w], lr=-1)


def test_an_unnamed_networks_parameters_say_where_they_are():
    net = MLP(2, [3, 1], seed=0)
    labels = [p.label for p in net.parameters()]
    assert len(set(labels)) == len(labels) == 3 * 3 + 4  # 3 neurons: 2 weights and a bias; 1: 3 and a bias
    assert labels[:6] == ["L1.n1.w1", "L1.n1.w2", "L1.n1.b", "L1.n2.w1", "L1.n2.w2", "L1.n2.b"]
    assert labels[-4:] == ["L2.n1.w1", "L2.n1.w2", "L2.n1.w3", "L2.n1.b"]
    weight = net.layers[0].neurons[1].weights[0]
    assert weight.label == "L1.n2.w1"  # the label names the layer, the neuron and the input
    shared = MLP(2, [2], shared_bias=True).parameters()
    assert [p.label for p in shared] == ["L1.n1.w1", "L1.n1.w2", "L1.b", "L1.n2.w1", "L1.n2.w2"]
    assert [p.label for p in Layer(2, 2).parameters()] == ["n1.w1", "n1.w2", "n1.b", "n2.w1", "n2.w2", "n2.b"]
    assert [p.label for p in Neuron(2).parameters()] == ["w1", "w2", "b"]


def test_named_networks_keep_their_labels():
    from micrograd_bp.examples.mazur import MazurNetwork

    assert [p.label for p in MazurNetwork().mlp.parameters()] == \
        ["w1", "w2", "b1", "w3", "w4", "w5", "w6", "b2", "w7", "w8"]
    named = MLP(1, [1], names=[["h1"]], seed=0)
    assert [p.label for p in named.parameters()] == ["h1.w1", "h1.b"]


@pytest.mark.parametrize("args, words", [
    ((2, [3, 1], None), "activations must be one of sigmoid, tanh, relu, none or a list"),
    ((2, 3), "layer_sizes must be a non-empty list"),
    ((2, []), "layer_sizes must be a non-empty list"),
])
def test_mlp_arguments_of_the_wrong_kind_are_clear_errors(args, words):
    with pytest.raises(ValueError, match=words):
        MLP(*args)


def test_an_unnamed_neurons_message_has_no_stray_space():
    with pytest.raises(ValueError) as error:
        Neuron(2, weights=[1.0, 1.0])([1.0, 2.0, 3.0])
    assert str(error.value) == "neuron: got 3 inputs, expected 2"
    with pytest.raises(ValueError) as error:
        Neuron(2, weights=[1.0], name="h1")
    assert str(error.value) == "neuron h1: 1 weights for 2 inputs"


def test_sgd_refuses_a_step_that_makes_a_parameter_non_finite():
    from micrograd_bp.nn import SGD
    w, b = Value(0.5, "w"), Value(0.25, "b")
    loss = (w * 3.0 + b - 1.0) ** 2  # d/dw = 2 (3w + b - 1) 3 = 4.5, d/db = 1.5 at (0.5, 0.25)
    loss.backward()
    optimizer = SGD([b, w], lr=1e308)  # b: 0.25 - 1.5e308 is finite; w: 0.5 - 4.5e308 is -inf
    with pytest.raises(OverflowError, match=r"'w' -inf .*learning rate 1e\+308\): the learning rate "
                                            "is too large"):
        optimizer.step()
    assert (w.data, b.data) == (0.5, 0.25)  # the step changed nothing
    SGD([b, w], lr=0.1).step()
    assert (w.data, b.data) == (0.5 - 0.1 * 4.5, 0.25 - 0.1 * 1.5)
    for bad in (0.0, -1.0, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="learning rate must be a positive finite number"):
            SGD([w], lr=bad)


def test_sgd_and_the_mazur_network_print_what_they_hold():
    from micrograd_bp.examples.mazur import MazurNetwork

    network = MazurNetwork()
    assert repr(network) == ("MazurNetwork(w1=0.15, w2=0.2, w3=0.25, w4=0.3, w5=0.4, w6=0.45, w7=0.5, "
                             "w8=0.55, b1=0.35, b2=0.6)")  # the tutorial's starting weights
    assert repr(SGD(network.mlp.parameters(), lr=0.5)) == "SGD(10 parameters, lr=0.5)"
