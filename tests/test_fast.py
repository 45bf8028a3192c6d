"""fast.py against engine.py's plain core: the same data and grads, bit for bit; the switch."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import struct
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import VARIABLES, build, central_difference, close, trees

from micrograd_bp import Value, engine, fast, grad, linear, register_op, topological_order
from micrograd_bp.examples.mazur import MazurNetwork
from micrograd_bp.examples.moons import make_moons, max_margin_loss, moons_model
from micrograd_bp.nn import MLP
from micrograd_bp.ops import Op
from micrograd_bp.registry import unregister_op


def bits(x: float) -> str:
    """A float's exact bits (so 0.0 and -0.0 differ, and nan equals nan)."""
    return struct.pack("<d", x).hex()


def fingerprint(root: Value) -> list[tuple]:
    """Every node's op, data, local derivatives and grad, exactly, in topological order."""
    return [(n.op.name if n.op else None, bits(n.data), [bits(g) for g in n.local_grads], bits(n.grad))
            for n in topological_order(root)]


def on_both_layers(make: Callable[[], Value], passes: int = 2) -> tuple[list, list]:
    """make() and `passes` backward() calls on the fast layer, then on the plain core: fingerprints."""
    found = []
    for install in (fast.install, fast.uninstall):
        install()
        try:
            root = make()
            for _ in range(passes):
                root.backward()
            found.append(fingerprint(root))
        except (ArithmeticError, ValueError) as error:
            found.append([type(error).__name__, str(error)])
        finally:
            fast.install()
    return found[0], found[1]


def random_graph(tree, point) -> Callable[[], Value]:
    def make() -> Value:
        env = {name: Value(v, name) for name, v in zip(VARIABLES, point)}
        h = build(tree, env, "engine")
        wide = linear([h, env["x"], 2.0], [h, h, env["y"]], h)  # an n-ary node, a number lifted
        return h * h + h.tanh() + wide.relu() - 1.5 / (1 + h * h) + 2 ** (h.sigmoid()) + (-h).exp()
    return make


@settings(max_examples=150, deadline=None)
@given(tree=trees(), point=st.tuples(*[st.floats(-2, 2) for _ in VARIABLES]))
def test_random_graphs_give_the_same_bits_on_both_layers(tree, point):
    fast_run, plain_run = on_both_layers(random_graph(tree, point))
    assert fast_run == plain_run


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=6))
def test_graphs_at_the_edges_of_the_float_range_fail_alike_on_both_layers(xs):
    def make() -> Value:
        vs = [Value(x) for x in xs]
        return vs[0] * vs[1] * vs[-1] + 1 / (vs[0] + 1e-300) + vs[1] ** 3 - linear(vs[:2], vs[-2:])
    fast_run, plain_run = on_both_layers(make)
    assert fast_run == plain_run


def test_mazur_network_gives_the_same_bits_on_both_layers():
    def make() -> Value:
        network = MazurNetwork()
        for _ in range(3):  # the walk-through's training, then the graph it ends with
            network.step()
        return network.loss()[0]
    fast_run, plain_run = on_both_layers(make)
    assert fast_run == plain_run
    assert len(fast_run) > 20  # the network's nodes, not an error
    network = MazurNetwork()
    network.loss()[0].backward()  # Mazur's published dE/dw5 = 0.082167041 (the oracle of them both)
    assert close(network.params["w5"].grad, 0.082167041, rtol=1e-8)


def test_moons_mlp_gives_the_same_bits_on_both_layers():
    points, labels = make_moons(12, seed=3)

    def make() -> Value:
        model = moons_model(seed=5)
        return max_margin_loss(model, points, labels)[0]
    fast_run, plain_run = on_both_layers(make, passes=1)
    assert fast_run == plain_run and len(fast_run) > 500


def test_grad_and_its_second_derivative_agree_with_finite_differences_on_both_layers(layer):
    x, y = Value(0.3, "x"), Value(-1.2, "y")
    f = (x * y).tanh() * x + (y / (x + 2)).exp()
    assert close(grad(f, [x])[0], _dfdx(0.3), rtol=1e-12)
    (second,) = grad(grad(f, [x], create_graph=True)[0], [x])
    assert close(second, central_difference(_dfdx, 0.3), rtol=1e-6)


def _dfdx(t: float) -> float:
    """df/dx of the function above, by hand: tanh(xy) + x y (1 - tanh(xy)^2) - y e^(y/(x+2)) / (x+2)^2."""
    th = math.tanh(t * -1.2)
    return th + t * -1.2 * (1 - th * th) + 1.2 * math.exp(-1.2 / (t + 2)) / (t + 2) ** 2


# ------------------------------------------------------------------- the switch


PLAIN_PROBE = """
import inspect, json, struct
from micrograd_bp import Value, engine, fast
from micrograd_bp.examples.mazur import MazurNetwork
network = MazurNetwork()
network.step()
total = network.loss()[0]
total.backward()
sources = {name: inspect.getsource(getattr(f, "__func__", f)) for name, f in vars(Value).items()
           if inspect.isfunction(f) or isinstance(f, staticmethod)}
sources.update({name: inspect.getsource(f) for name, f in vars(engine).items()
                if inspect.isfunction(f) and f.__module__ == engine.__name__})
print(json.dumps({"installed": fast.installed(), "mul": Value.__mul__.__module__,
                  "defined_in": sorted({inspect.getsourcefile(f) for f in vars(Value).values()
                                        if inspect.isfunction(f)}),
                  "sources": len(sources), "linear": engine.linear.__module__,
                  "grads": [struct.pack("<d", p.grad).hex() for p in network.params.values()]}))
"""


def probe(plain: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != fast.PLAIN_ENV}
    if plain is not None:
        env[fast.PLAIN_ENV] = plain
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", PLAIN_PROBE], env=env, capture_output=True, text=True,
                          check=True, cwd=REPO)
    return json.loads(done.stdout)


def test_the_environment_variable_switches_the_fast_layer_off_at_import():
    plain, default, zero = probe("1"), probe(None), probe("0")
    assert plain["installed"] is False and default["installed"] is True and zero["installed"] is True
    assert plain["mul"] == "micrograd_bp.engine" and plain["linear"] == "micrograd_bp.engine"
    assert plain["defined_in"] == [str(REPO / "micrograd_bp" / "engine.py")]  # every method: real source
    assert plain["sources"] > 20
    assert default["linear"] == "micrograd_bp.fast"
    assert plain["grads"] == default["grads"]  # the same bits in a whole process, too


def test_every_function_of_the_plain_core_has_its_source(layer):
    fast.uninstall()
    for name, f in vars(Value).items():
        if inspect.isfunction(f):
            assert f"def {name}(" in inspect.getsource(f)
    fast.install()
    source = inspect.getsource(Value.__mul__)  # generated, kept in linecache: a debugger shows it
    assert source.startswith("def make_mul(a0, a1):") and "node.local_grads = (p0, p1, )" in source


def test_install_and_uninstall_switch_the_functions_on_value():
    assert fast.installed()
    fast.uninstall()
    try:
        assert not fast.installed() and Value.__add__ is engine.Value.__dict__["__add__"]
        assert inspect.getsourcefile(Value.backward).endswith("engine.py")
    finally:
        fast.install()
    assert fast.installed() and Value.backward is fast.backward


# ------------------------------------------------------------------- ops read from the table


def softplus_op() -> Op:
    return Op("softplus", 1, lambda a: math.log1p(math.exp(a)),
              lambda a, out: (1.0 / (1.0 + math.exp(-a)),), ("sigmoid(a)",))


def test_a_registered_one_input_op_is_a_method_and_an_activation(layer):
    register_op(softplus_op())
    try:
        x = Value(0.4, "x")
        y = x.softplus()
        y.backward()
        assert y.data == math.log1p(math.exp(0.4))
        assert close(x.grad, central_difference(lambda t: math.log1p(math.exp(t)), 0.4))
        model = MLP(1, [1], "softplus", weights=[[[2.0]]], biases=[[0.5]])
        (out,) = model([0.3])
        assert out.op.name == "softplus" and close(out.data, math.log1p(math.exp(2.0 * 0.3 + 0.5)))
    finally:
        unregister_op("softplus")
    assert not hasattr(Value(1.0), "softplus")
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        MLP(1, [1], "softplus")


def test_an_op_named_like_a_value_attribute_leaves_the_attribute_alone():
    register_op(Op("backward_", 1, lambda a: a, lambda a, out: (1.0,), ("1",)))  # no clash
    try:
        assert Value(2.0).backward_().data == 2.0
    finally:
        unregister_op("backward_")
    engine.add_op_method(Op("grad", 1, lambda a: a, lambda a, out: (1.0,), ("1",)))
    assert "grad" in Value.__slots__ and inspect.ismemberdescriptor(Value.__dict__["grad"])


def test_the_bench_times_the_plain_core_beside_the_fast_layer():
    from micrograd_bp import bench

    workload = bench.bench_processes(20, 1, [("simultaneous", False)])
    assert [row.engine for row in workload.rows] == [
        "mazur --steps 20", "closure reference, the same training",
        "mazur --steps 20, the plain core alone (MICROGRAD_BP_PLAIN=1)"]
    assert set(workload.ratios) == {"closure_over_process: mazur --steps 20",
                                    "closure_over_plain_process: mazur --steps 20"}
    assert [t.name for t in bench.targets([*_stub_workloads(), workload])][-1] == \
        "mazur --steps 20: closure reference / ours, whole processes"  # the plain ratio is no target


def _stub_workloads() -> list:
    from micrograd_bp import bench

    ratios = {"mazur": {"closure_over_ours": 3.0, "closure_over_walkthrough": 3.0,
                        "compiled_sgd_over_floor": 1.0},
              "moons": {"closure_over_ours": 5.0}, "chain": {"long_over_short": 2.0},
              "memory": {"ours_over_closure": 0.27}}
    return [bench.Workload(key, key, "s", [], r) for key, r in ratios.items()]


def test_a_replaced_record_is_built_by_its_own_partials_on_both_layers(layer, monkeypatch):
    from micrograd_bp import ops

    wrong = dataclasses.replace(ops.OPS["tanh"], partials=lambda a, out: (1.0 - out,))  # keeps the template
    monkeypatch.setitem(ops.OPS, "tanh", wrong)
    x = Value(0.4)
    for node in (x.tanh(), Value.apply(wrong, x), wrong(x)):
        assert node.local_grads == (1.0 - math.tanh(0.4),)  # the record's rule, not its template's
