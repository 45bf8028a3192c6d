"""Matt Mazur's 2-2-2 logistic network ("A Step by Step Backpropagation Example"), on the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from ..diagnose import ATOL, POINTS, RTOL, ClaimCheck, Instance, check_partial, rebuild
from ..engine import Value, linear, topological_order
from ..expr import ExprError, parse
from ..nn import MLP, descend, half_squared_error
from ..numeric import replay
from ..paths import Explanation, explain

INPUTS = {"i1": 0.05, "i2": 0.10}
TARGETS = {"o1": 0.01, "o2": 0.99}
WEIGHTS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
           "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
BIASES = {"b1": 0.35, "b2": 0.60}
LEARNING_RATE = 0.5
# The tutorial's named quantities of the forward pass, in its order.
FORWARD_NAMES = ("net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1",
                 "net_o2", "out_o2", "E_o1", "E_o2", "E_total")
PARAMETER_NAMES = (*WEIGHTS, *BIASES)
_TARGETS = tuple(TARGETS.values())
_ERROR_LABELS = ("E_o1", "E_o2")

Order = Literal["simultaneous", "sequential"]
ORDERS = ("simultaneous", "sequential")
ORDER_NOTES = {
    "simultaneous": "true gradient descent: all gradients from the original weights, then all "
                    "weights updated (the tutorial's own worked numbers use this)",
    "sequential": "the tutorial's published closing figures: w5..w8 updated first, then the hidden "
                  "deltas computed with the already-updated w5..w8 (its companion script before "
                  "the 2015-03-15 fix)",
}


class MazurNetwork:
    """The 2-2-2 network as an MLP whose nodes carry the tutorial's names."""

    def __init__(self, weights: dict[str, float] | None = None,
                 biases: dict[str, float] | None = None) -> None:
        weights = {**WEIGHTS, **(weights or {})}
        biases = {**BIASES, **(biases or {})}
        self.params = {name: Value(v, name) for name, v in {**weights, **biases}.items()}
        p = self.params
        self.mlp = MLP(2, [2, 2], "sigmoid", shared_bias=True,
                       weights=[[[p["w1"], p["w2"]], [p["w3"], p["w4"]]],
                                [[p["w5"], p["w6"]], [p["w7"], p["w8"]]]],
                       biases=[p["b1"], p["b2"]], names=[["h1", "h2"], ["o1", "o2"]])
        self._trainable_cache: dict[tuple, list[Value]] = {}
        # What a training step reads of each neuron, once: its weights, bias and node labels.
        self._neurons = [[(n.weights, n.bias, f"net_{n.name}", f"out_{n.name}") for n in layer.neurons]
                         for layer in self.mlp.layers]

    def __repr__(self) -> str:
        weights = ", ".join(f"{name}={v.data:g}" for name, v in self.params.items())
        return f"MazurNetwork({weights})"

    def inputs(self) -> list[Value]:
        return [Value(v, name) for name, v in INPUTS.items()]

    def forward(self) -> dict[str, Value]:
        """Build the graph; every named node by its name (i1, w1, net_h1, ..., E_total)."""
        total, _ = self.loss()
        return {node.label: node for node in topological_order(total) if node.label}

    def weights(self) -> dict[str, float]:
        return {name: v.data for name, v in self.params.items()}

    def loss(self) -> tuple[Value, list[list[Value]]]:
        """E_total, and each layer's nets (net_h1, net_h2, ...) kept as they are made: what a
        training step reads, without a walk of the graph."""
        activations: list[Value] = self.inputs()
        nets: list[list[Value]] = []
        for k in range(len(self._neurons)):
            activations, layer_nets = self._layer(k, activations)
            nets.append(layer_nets)
        targets = [Value(t, f"target_{key}") for key, t in TARGETS.items()]  # the checker's names
        total = half_squared_error(activations, targets, labels=_ERROR_LABELS)
        total.label = "E_total"
        return total, nets

    def _layer(self, k: int, inputs: list[Value]) -> tuple[list[Value], list[Value]]:
        """Layer k of the MLP on inputs, as its Neurons compute it (one linear node, net_NAME, then
        the sigmoid, out_NAME; the same nodes and floats) with the labels made once: (outs, nets)."""
        outs, nets = [], []
        for weights, bias, net_label, out_label in self._neurons[k]:
            net = linear(weights, inputs, bias)
            net.label = net_label
            out = net.sigmoid()
            out.label = out_label
            nets.append(net)
            outs.append(out)
        return outs, nets

    def step(self, lr: float = LEARNING_RATE, order: Order = "simultaneous",
             train_biases: bool = False) -> None:
        """One step of gradient descent in the given update order.

        Raises OverflowError, saying the learning rate is too large, if a step would make a
        parameter not finite (the parameters are then left as they were before that update).
        """
        if order == "simultaneous":
            self._simultaneous_step(lr, self._trainable(train_biases))
        elif order == "sequential":
            self._sequential_step(lr, train_biases)
        else:
            raise ValueError(f"unknown update order {order!r}: choose one of {', '.join(ORDERS)}")

    def _trainable(self, train_biases: bool, layer: int | None = None) -> list[Value]:
        """The parameters a step updates (of one layer, or all), in PARAMETER_NAMES order; cached."""
        key = (train_biases, layer)
        found = self._trainable_cache.get(key)
        if found is None:
            mine = self.params.values() if layer is None else self.mlp.layers[layer].parameters()
            ids = {id(p) for p in mine}
            found = [self.params[name] for name in PARAMETER_NAMES
                     if (train_biases or name.startswith("w")) and id(self.params[name]) in ids]
            self._trainable_cache[key] = found
        return found

    def _zero_grad(self) -> None:
        for param in self.params.values():  # the MLP's parameters, each once
            param.grad = 0.0

    def _simultaneous_step(self, lr: float, trainable: list[Value]) -> None:
        self._zero_grad()
        self.loss()[0].backward()
        descend(trainable, lr)

    def _sequential_step(self, lr: float, train_biases: bool) -> None:
        """Layer by layer from the output: each layer is updated before the error goes further back.

        The deltas dE/dnet of the layer above are kept from the forward pass; the layer below then
        gets its gradients from backward() on the surrogate sum(delta_j * net_j), whose nets use the
        already-updated weights. That is the published figures' order, computed by the engine.
        """
        layers = self.mlp.layers
        self._zero_grad()
        total, nets = self.loss()
        total.backward()
        deltas = [net.grad for net in nets[-1]]
        descend(self._trainable(train_biases, len(layers) - 1), lr)
        for k in range(len(layers) - 2, -1, -1):
            activations = self.inputs()
            for j in range(k + 1):
                activations, below = self._layer(j, activations)  # below: layer k's nets, at the end
            surrogate = Value(0.0)
            for d, (weights, bias, net_label, _) in zip(deltas, self._neurons[k + 1]):
                net = linear(weights, activations, bias)
                net.label = net_label
                surrogate = surrogate + d * net
            self._zero_grad()
            surrogate.backward()
            deltas = [net.grad for net in below]
            descend(self._trainable(train_biases, k), lr)


@dataclass
class Walkthrough:
    """Everything the tutorial prints, computed by the engine."""

    forward: dict[str, float]
    gradients: dict[str, float]
    factors: dict[str, float]  # the chain-rule factors the tutorial names
    steps: int
    order: str
    lr: float
    train_biases: bool
    weights_after_one_step: dict[str, float]
    error_after_one_step: float
    final_weights: dict[str, float]
    final_error: float
    final_outputs: list[float]
    history: list[float] = field(default_factory=list)  # E_total before each step, then after the last

    def to_json(self) -> dict:
        return {
            "forward": self.forward,
            "gradients": self.gradients,
            "factors": self.factors,
            "steps": self.steps,
            "order": self.order,
            "order_note": ORDER_NOTES[self.order],
            "lr": self.lr,
            "train_biases": self.train_biases,
            "after_one_step": {"weights": self.weights_after_one_step,
                               "E_total": self.error_after_one_step},
            "final": {"weights": self.final_weights, "E_total": self.final_error,
                      "outputs": self.final_outputs},
        }

    @property
    def diverged(self) -> bool:
        """The error grew over the training: the learning rate is too large."""
        return self.final_error > self.forward["E_total"]

    def __str__(self) -> str:
        return walkthrough_text(self)

    __repr__ = __str__


def walkthrough_text(r: Walkthrough) -> str:
    """The walk-through as the command line prints it: the forward pass, the chain rule for w5 and
    w1, every gradient, one step of training and, with steps > 1, where the training ends."""
    f, g, c = r.forward, r.gradients, r.factors
    lines = ["Matt Mazur's 2-2-2 network: inputs i1=0.05, i2=0.10; targets 0.01, 0.99; "
             "logistic neurons; shared biases b1=0.35, b2=0.60", "",
             "The forward pass"]
    lines += [f"  {name:<8} {f[name]:.9f}" for name in FORWARD_NAMES]
    lines += ["", "The backward pass, output layer: dE_total/dw5",
              f"  dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5"
              f" = {c['dE_total/dout_o1']:.9f} * {c['dout_o1/dnet_o1']:.9f} * {c['dnet_o1/dw5']:.9f}"
              f" = {g['w5']:.9f}",
              f"  delta_o1 = dE_total/dnet_o1 = {c['delta_o1']:.9f}", "",
              "The backward pass, hidden layer: dE_total/dw1 (out_h1 feeds o1 and o2)",
              f"  dE_total/dout_h1 = dE_o1/dout_h1 + dE_o2/dout_h1 = {c['dE_o1/dout_h1']:.9f} + "
              f"({c['dE_o2/dout_h1']:.9f}) = {c['dE_total/dout_h1']:.9f}",
              f"  dE_total/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1"
              f" = {c['dE_total/dout_h1']:.9f} * {c['dout_h1/dnet_h1']:.9f} * {c['dnet_h1/dw1']:.9f}"
              f" = {g['w1']:.9f}", "",
              "All gradients (dE_total/d...)"]
    lines += [f"  {name:<3} {g[name]: .9f}" for name in PARAMETER_NAMES]
    lines += ["", f"The weights after one step (lr={r.lr:g}, order {r.order}"
              f"{', biases trained' if r.train_biases else ''})"]
    lines += [f"  {name:<3} {v:.9f}" for name, v in r.weights_after_one_step.items()]
    lines += ["", f"E_total before: {f['E_total']:.9f}",
              f"E_total after 1 step: {r.error_after_one_step:.9f}"]
    if r.steps > 1:
        lines += [f"E_total after {r.steps} steps: {r.final_error:.9f}",
                  f"outputs after {r.steps} steps: out_o1 {r.final_outputs[0]:.9f}, "
                  f"out_o2 {r.final_outputs[1]:.9f}"]
    lines += _endings(r)
    if r.order == "simultaneous" and not r.train_biases and r.lr == LEARNING_RATE:
        lines.append("The tutorial's closing paragraph prints 0.291027924 after one step and "
                     "0.000035085 after 10,000: those come from the sequential order "
                     "(--order sequential).")
    return "\n".join(lines)


def summary_text(r: Walkthrough) -> str:
    """Only where the training goes: the error before, after one step and after all of them, and
    the outputs at the end (what a long run adds to the walk-through)."""
    lines = [f"Matt Mazur's 2-2-2 network, {r.steps} step{'s' if r.steps != 1 else ''} of training "
             f"(lr={r.lr:g}, order {r.order}{', biases trained' if r.train_biases else ''})",
             f"E_total before: {r.forward['E_total']:.9f}",
             f"E_total after 1 step: {r.error_after_one_step:.9f}"]
    if r.steps > 1:
        lines.append(f"E_total after {r.steps} steps: {r.final_error:.9f}")
    lines.append(f"outputs after {r.steps} step{'s' if r.steps != 1 else ''}: "
                 f"out_o1 {r.final_outputs[0]:.9f}, out_o2 {r.final_outputs[1]:.9f} "
                 f"(targets {TARGETS['o1']}, {TARGETS['o2']})")
    return "\n".join(lines + _endings(r))


def stalled(r: Walkthrough) -> bool:
    """The training is stuck short of the targets: at the final weights every gradient of the
    trained parameters is exactly 0 (saturated neurons), so further steps change nothing."""
    weights = {k: v for k, v in r.final_weights.items() if k in WEIGHTS}
    biases = {k: v for k, v in r.final_weights.items() if k in BIASES}
    network = MazurNetwork(weights, biases)
    total = network.forward()["E_total"]
    if total.data == 0.0:
        return False
    total.backward()
    trained = [name for name in PARAMETER_NAMES if r.train_biases or name in WEIGHTS]
    return all(network.params[name].grad == 0.0 for name in trained)


def _endings(r: Walkthrough) -> list[str]:
    lines = [""]
    if r.diverged:
        lines.append(f"The error grew from {r.forward['E_total']:.9f} to {r.final_error:.9f}: "
                     f"training diverged, the learning rate {r.lr:g} is too large.")
    elif stalled(r):
        lines.append(f"Training stalled at E_total {r.final_error:.9f}: every gradient is exactly 0 "
                     f"at the final weights (the neurons saturated), so more steps change nothing; "
                     f"the learning rate {r.lr:g} is too large.")
    lines.append(f"Update order: {r.order}, {ORDER_NOTES[r.order]}.")
    return lines


def walkthrough(steps: int = 1, lr: float = LEARNING_RATE, order: Order = "simultaneous",
                train_biases: bool = False, record_history: bool = False,
                compiled: bool = False, advance: Callable[[int], None] | None = None) -> Walkthrough:
    """The tutorial's forward pass, backward pass and `steps` steps of training.

    compiled=True runs the training steps on a compiled replay of the graph (the same numbers,
    bit for bit); only the simultaneous order replays one graph per step. advance(n), if given,
    is called as training steps are done, with how many (the command line's progress bar).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if order not in ORDERS:
        raise ValueError(f"unknown update order {order!r}: choose one of {', '.join(ORDERS)}")
    if compiled and order != "simultaneous":
        raise ValueError("compiled replay runs the simultaneous order only: the sequential order "
                         "builds a second graph from the first one's interior gradients each step")
    network = MazurNetwork()
    nodes = network.forward()
    nodes["E_total"].backward()
    n = nodes  # the factors are read off the graph: grads, and the local derivatives on its edges
    factors = {
        "dE_total/dout_o1": n["out_o1"].grad,
        "dout_o1/dnet_o1": n["out_o1"].local_grad(n["net_o1"]),
        "dnet_o1/dw5": n["net_o1"].local_grad(n["w5"]),
        "delta_o1": n["net_o1"].grad,
        "dE_o1/dout_h1": n["net_o1"].grad * n["net_o1"].local_grad(n["out_h1"]),  # the path via o1
        "dE_o2/dout_h1": n["net_o2"].grad * n["net_o2"].local_grad(n["out_h1"]),  # the path via o2
        "dE_total/dout_h1": n["out_h1"].grad,
        "dout_h1/dnet_h1": n["out_h1"].local_grad(n["net_h1"]),
        "dnet_h1/dw1": n["net_h1"].local_grad(n["w1"]),
    }
    forward = {name: nodes[name].data for name in FORWARD_NAMES}
    gradients = {name: nodes[name].grad for name in PARAMETER_NAMES}
    history = [forward["E_total"]]
    after_one: dict[str, float] = {}
    error_after_one = 0.0
    if compiled:
        error_after_one, after_one = _compiled_training(network, nodes["E_total"], steps, lr, train_biases,
                                                        history if record_history else None, advance)
    for step in range(0 if compiled else steps):
        network.step(lr, order, train_biases)
        if step == 0:
            after_one = network.weights()
            error_after_one = network.loss()[0].data
        if record_history:
            history.append(network.loss()[0].data)
        if advance is not None:
            advance(1)
    final = network.forward()
    return Walkthrough(
        forward=forward, gradients=gradients, factors=factors, steps=steps, order=order, lr=lr,
        train_biases=train_biases, weights_after_one_step=after_one,
        error_after_one_step=error_after_one, final_weights=network.weights(),
        final_error=final["E_total"].data,
        final_outputs=[final["out_o1"].data, final["out_o2"].data], history=history,
    )


COMPILED_CHUNK = 10_000  # compiled steps run between two calls of advance (about 30 ms of them)


def _compiled_training(network: MazurNetwork, total: Value, steps: int, lr: float, train_biases: bool,
                       history: list[float] | None,
                       advance: Callable[[int], None] | None = None) -> tuple[float, dict[str, float]]:
    """The simultaneous steps on the compiled graph; the error and weights after the first step.
    The steps after the first run in chunks (the same numbers: each step starts from the leaves'
    data), so advance hears of them and only the history, if asked for, keeps every error."""
    from ..compiled import compile_graph

    leaves = [network.params[name] for name in PARAMETER_NAMES]
    trained = [p for p in leaves if train_biases or p.label.startswith("w")]
    graph = compile_graph(total, leaves)
    graph.sgd_steps(1, lr, trained)
    after_one = network.weights()
    error_after_one: float | None = None
    done = 1
    if advance is not None:
        advance(1)
    while done < steps:
        chunk = min(steps - done, COMPILED_CHUNK)
        losses = graph.sgd_steps(chunk, lr, trained)  # the error before each of these steps
        if error_after_one is None:
            error_after_one = losses[0]
        if history is not None:
            history += losses
        done += chunk
        if advance is not None:
            advance(chunk)
    if history is not None:
        history.append(graph.forward())
    return (graph.forward() if error_after_one is None else error_after_one), after_one


# ------------------------------------------------------------------- the checker on this network
# (explain and check_partial over the tutorial's names; the CLI's mazur --explain and --check)

def mazur_nodes(network: MazurNetwork | None = None) -> dict[str, Value]:
    """A network's named nodes (a fresh one's by default) in the tutorial's order: i1, i2, w1, ...,
    E_total."""
    nodes = (network or MazurNetwork()).forward()
    order = [*INPUTS, *PARAMETER_NAMES, *FORWARD_NAMES]
    return {name: nodes[name] for name in sorted(nodes, key=lambda n: order.index(n) if n in order
                                                  else len(order))}


def mazur_waypoints(nodes: dict[str, Value]) -> list[Value]:
    """The tutorial's waypoints: the named nodes except E_o1 and E_o2 (and the targets, which
    are leaves), so that w1's paths read
    dE_total/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1."""
    return [node for name, node in nodes.items() if name not in ("E_o1", "E_o2") and node.op is not None
            or name in INPUTS or name in PARAMETER_NAMES]


def mazur_explain(name: str, max_paths: int = 20) -> Explanation:
    """dE_total/d(name) on the Mazur network, written over the tutorial's names."""
    nodes = mazur_nodes()
    if name not in nodes or name == "E_total":
        raise ValueError(f"unknown Mazur node {name!r}: choose one of "
                         f"{', '.join(n for n in nodes if n != 'E_total')}")
    return explain(nodes["E_total"], nodes[name], waypoints=mazur_waypoints(nodes), max_paths=max_paths)


def mazur_variables(nodes: dict[str, Value]) -> dict[str, float]:
    """What a claim about the Mazur network may use: its named nodes' forward values and the
    targets target_o1, target_o2."""
    values = {name: node.data for name, node in nodes.items()}
    values.update({f"target_{k}": v for k, v in TARGETS.items()})
    return values


def mazur_check(assignment: str, rtol: float = RTOL, atol: float = ATOL, points: int = POINTS) -> ClaimCheck:
    """Check "w5=FORMULA": FORMULA, over the network's named nodes, against dE_total/dw5 with the
    tutorial's weights, and with the weights and biases moved around them (`points` seeded
    points); the central difference shifts w5 in a fresh MazurNetwork."""
    if "=" not in assignment:
        raise ValueError(f"expected PARAMETER=FORMULA, got {assignment!r} (no '=')")
    name, _, formula = assignment.partition("=")
    name = name.strip()
    if name not in PARAMETER_NAMES:
        raise ValueError(f"{name!r} is not a parameter of the network: choose one of "
                         f"{', '.join(PARAMETER_NAMES)}")
    total = MazurNetwork().loss()[0]
    order = topological_order(total)  # the one sort: the points around rebuild this order
    nodes = {node.label: node for node in order if node.label}
    position = {node.label: k for k, node in enumerate(order) if node.label}
    variables = mazur_variables(nodes)
    claimed = parse(formula)
    unknown = [v for v in claimed.variables if v not in variables]
    if unknown:
        raise ExprError(f"the claim uses {unknown[0]!r}, which is not a name of the network "
                        f"(the names are {', '.join(variables)})")
    claim_value = claimed.value({v: variables[v] for v in claimed.variables})

    def at(point: dict[str, float]) -> Instance:
        rebuilt = rebuild(order, point)
        values = mazur_variables({label: rebuilt[k] for label, k in position.items()})
        claim_there = claimed.value({v: values[v] for v in claimed.variables})
        return Instance(rebuilt[-1], rebuilt[position[name]], claim_there, rebuilt)

    params = {n: nodes[n] for n in PARAMETER_NAMES}
    result = check_partial(total, nodes[name], claim_value, rtol=rtol, atol=atol,
                           numeric=replay(total, nodes[name], order), waypoints=mazur_waypoints(nodes),
                           others=params, at=at, given={n: nodes[n].data for n in PARAMETER_NAMES},
                           points=points, order=order)
    result.claim_text = formula
    result.point = {}  # the tutorial's weights: too many to list
    return result
