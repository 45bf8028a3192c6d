// micrograd_bp's explorable graph. FORWARD and FACTORS are generated from the graph and the op
// records and put in place of the GENERATED CODE line; the rest is the same for every page. User text (labels) comes only from
// the JSON data element and is shown only through textContent.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("micrograd-data").textContent);
  const NODES = DATA.nodes;
  const N = NODES.length;
  const ROOT = DATA.root;
  const DEC = DATA.decimals;
  const KINDS = DATA.kinds;

  // ------------------------------------------------------------------ Python's number formats
  function pad2(e) { const a = Math.abs(e); return (e < 0 ? "-" : "+") + (a < 10 ? "0" : "") + a; }

  function repr(x) { // Python's repr of a float
    if (x === 0) return 1 / x < 0 ? "-0.0" : "0.0";
    if (!isFinite(x)) return isNaN(x) ? "nan" : x < 0 ? "-inf" : "inf";
    const sign = x < 0 ? "-" : "";
    const [m, ex] = Math.abs(x).toExponential().split("e");
    const e = parseInt(ex, 10);
    const digits = m.replace(".", "");
    if (e >= -4 && e < 16) {
      if (e < 0) return sign + "0." + "0".repeat(-e - 1) + digits;
      const whole = digits.slice(0, e + 1).padEnd(e + 1, "0");
      return sign + whole + "." + (digits.slice(e + 1) || "0");
    }
    return sign + m + "e" + pad2(e);
  }

  function stripZeros(s) { return s.indexOf(".") < 0 ? s : s.replace(/0+$/, "").replace(/\.$/, ""); }

  function formatG(x, p) { // Python's f"{x:.{p}g}"
    if (x === 0) return "0";
    const [m, ex] = x.toExponential(p - 1).split("e");
    const e = parseInt(ex, 10);
    if (e >= -4 && e < p) return stripZeros(x.toFixed(Math.max(0, p - 1 - e)));
    return stripZeros(m) + "e" + pad2(e);
  }

  function fmt(x, d) { // viz._number: fixed decimals, or d significant digits for tiny/huge values
    if (x === null || x === undefined || !isFinite(x)) return "\u2014";
    if (d === undefined) d = DEC;
    if (x === 0) return (0).toFixed(d);
    if (Math.abs(x) < (d ? Math.pow(10, 1 - d) : 1) || Math.abs(x) >= 1e6) return formatG(x, Math.max(d, 1));
    return x.toFixed(d);
  }
  const fmt6 = (x) => fmt(x, Math.max(DEC, 6));
  const num9 = (x) => (x === null || !isFinite(x) ? "\u2014" : formatG(x, 9));

  // --------------------------------------------------------------------------- the computation
  class DomainError extends Error {}
  function fail(message) { throw new DomainError(message); }
  // The forward of x ** n for a number n, with the messages of ops._power.
  function power(a, n) {
    if (a === 0 && n < 0) fail("pow: 0 cannot be raised to the negative power " + repr(n));
    if (a < 0 && !Number.isInteger(n)) {
      fail("pow: math domain error, negative base " + repr(a) + " with non-integer exponent " + repr(n));
    }
    const out = Math.pow(a, n);
    if (!isFinite(out)) fail("pow: overflow, " + repr(a) + " ** " + repr(n) + " is too large for a float");
    return out;
  }

  const v = new Array(N).fill(null); // values; null: not computed (an error upstream)
  const l = new Array(N).fill(null); // local derivatives on each node's input edges
  const g = new Array(N).fill(null); // grads after the whole backward pass
  let error = null; // {node, message}
  let steps = []; // the backward ledger (trace.trace_backward's steps): one per interior node, in
                  // the engine's order, each with a send (+=) per input
  for (let i = 0; i < N; i++) if (NODES[i].op === null) v[i] = NODES[i].data;

  function overflow(i) { // engine._overflow
    const node = NODES[i];
    const args = node.inputs.map((p) => repr(v[p])).join(", ");
    fail(node.op + ": overflow, the result of " + node.op + "(" + args + ") is not finite");
  }

  // engine._not_finite: a gradient that would leave the float range stops the pass at its node,
  // with Python's message (an infinite local derivative on an edge that carries a gradient, or a
  // sum that overflows), so no grad is ever inf or NaN. Python stores such a local derivative
  // when it makes the node, and so does the page: only using it is an error.
  function notFinite(c, upstream) {
    const node = NODES[c];
    const names = KINDS[node.kind].names;
    const call = node.op + "(" + node.inputs.map((p) => repr(v[p])).join(", ") + ")";
    for (let k = 0; k < node.inputs.length; k++) {
      if (!isFinite(l[c][k])) {
        const label = NODES[node.inputs[k]].label;
        fail("backward: overflow, the local derivative d out/d " + names[k] + (label ? " (" + label + ")" : "") +
             " of " + call + " is " + repr(l[c][k]) + ", past the float range, and the gradient reaching it is " +
             repr(upstream) + ", not zero");
      }
    }
    fail("backward: overflow at " + call + ": the gradient reaching it, " + repr(upstream) +
         ", times its local derivatives (" + l[c].map(repr).join(", ") + (l[c].length === 1 ? "," : "") +
         ") gives a gradient past the float range");
  }

  // GENERATED CODE

  function compute() {
    for (let i = 0; i < N; i++) { if (NODES[i].op !== null) { v[i] = null; l[i] = null; } g[i] = null; }
    error = null;
    steps = [];
    const S = { at: -1 };
    try {
      for (const chunk of FORWARD) chunk(v, l, S);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      error = { node: S.at, message: e.message };
      for (let i = S.at; i < N; i++) if (NODES[i].op !== null) { v[i] = null; l[i] = null; }
      return;
    }
    try {
      backward(S);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      error = { node: S.at, message: e.message };
      for (let i = 0; i < N; i++) g[i] = null; // no grad at all rather than half a pass
      steps = [];
    }
  }

  // engine.Value.backward: interior grads from zero, the root's 1, then in reverse topological
  // order each node sends local * upstream to its inputs, in input order. A node whose upstream
  // is 0 sends nothing (backward() skips it); the ledger still lists it, as trace_backward does.
  function backward(S) {
    for (let i = 0; i < N; i++) g[i] = 0;
    g[ROOT] = 1;
    for (let c = ROOT; c >= 0; c--) {
      const inputs = NODES[c].inputs;
      if (NODES[c].op === null) continue;
      const upstream = g[c];
      const sends = [];
      for (let k = 0; k < inputs.length; k++) {
        const p = inputs[k];
        const before = g[p];
        const amount = upstream === 0 ? 0 : l[c][k] * upstream;
        if (upstream !== 0) {
          g[p] = before + amount;
          if (!isFinite(g[p])) { S.at = c; notFinite(c, upstream); }
        }
        sends.push({ input: k, parent: p, local: l[c][k], amount, before, after: g[p] });
      }
      steps.push({ node: c, grad: upstream, sends });
    }
  }

  // ------------------------------------------------------------------------------------ names
  const byName = new Map();
  NODES.forEach((n, i) => { byName.set(n.id, [i]); if (!byName.has(n.name)) byName.set(n.name, []); if (n.name !== n.id) byName.get(n.name).push(i); });
  function resolve(name) {
    if (typeof name === "number" && Number.isInteger(name) && name >= 0 && name < N) return name;
    const found = byName.get(String(name));
    if (!found || found.length === 0) throw new Error("no node named " + JSON.stringify(name));
    if (found.length > 1) {
      throw new Error(found.length + " nodes are named " + JSON.stringify(name) + ": use an id (" +
                      found.slice(0, 3).map((i) => NODES[i].id).join(", ") + ", ...)");
    }
    return found[0];
  }
  const dname = (s) => (/^[A-Za-z0-9_]+$/.test(s) ? s : "(" + s + ")"); // check._d
  // The node over its inputs' names, and each local derivative's formula over them: written by
  // render.py in Python (the one place parentheses are decided), not here.
  function expression(i) { return NODES[i].expression; }

  // d(out)/d(input k) of node c: its formula with the node's names, its factors' values, its value.
  function localText(c, k) {
    const node = NODES[c];
    const kind = KINDS[node.kind];
    const parts = ["d" + dname(node.name) + "/d" + dname(NODES[node.inputs[k]].name)];
    parts.push(node.formulas[k]);
    if (l[c] === null) return parts.join(" = ") + " (not computed)";
    const x = node.inputs.map((p) => v[p]);
    const values = FACTORS[kind.index](x, v[c])[k];
    const numbers = values.map(fmt6).join(" * ");
    if (numbers !== parts[1]) parts.push(numbers);
    const final = fmt6(l[c][k]);
    if (final !== parts[parts.length - 1]) parts.push(final);
    return parts.join(" = ");
  }

  // ----------------------------------------------------------------------- chain-rule paths
  let selected = null;

  function pathsTo(x) {
    const reach = new Uint8Array(N);
    const count = new Float64Array(N);
    reach[x] = 1; count[x] = 1;
    for (let i = x + 1; i < N; i++) {
      for (const p of NODES[i].inputs) if (reach[p]) { reach[i] = 1; count[i] += count[p]; }
    }
    const result = { node: x, name: NODES[x].name, paths: [], count: reach[ROOT] ? count[ROOT] : 0,
                     grad: g[x], reach };
    if (!reach[ROOT] || g[x] === null) return result;
    if (x === ROOT) { result.paths.push({ nodes: [NODES[x].name], factors: [], product: 1 }); return result; }
    const limit = DATA.max_paths;
    // Depth first from the root, inputs in order (as check.explain), with a stack of its own: a
    // graph as deep as memory allows, no recursion.
    const edges = [];
    const stack = [[ROOT, 0]];
    while (stack.length && result.paths.length < limit) {
      const top = stack[stack.length - 1];
      const inputs = NODES[top[0]].inputs;
      if (top[1] >= inputs.length) { stack.pop(); edges.pop(); continue; }
      const k = top[1]++;
      const p = inputs[k];
      if (!reach[p]) continue;
      edges.push([top[0], k]);
      if (p === x) { result.paths.push(makePath(edges, x)); edges.pop(); } else stack.push([p, 0]);
    }
    return result;
  }

  // A path's factors: one per run of edges between two waypoints (paths.explain's), its value the
  // product of the run's local derivatives. With no waypoints given, every node is one.
  const WAYPOINT = DATA.waypoints ? new Uint8Array(N) : null;
  if (WAYPOINT) for (const i of DATA.waypoints) WAYPOINT[i] = 1;
  function makePath(edges, x) {
    let upper = edges[0][0];
    const nodes = [NODES[upper].name];
    const factors = [];
    let product = 1, value = 1;
    for (const [c, k] of edges) {
      const p = NODES[c].inputs[k];
      value *= l[c][k];
      if (WAYPOINT === null || WAYPOINT[p] || p === x) {
        factors.push({ name: "d" + dname(NODES[upper].name) + "/d" + dname(NODES[p].name), value });
        nodes.push(NODES[p].name);
        product *= value;
        upper = p;
        value = 1;
      }
    }
    return { nodes, factors, product, edges: edges.map((e) => e.slice()) };
  }

  // ------------------------------------------------------------------------------ the drawing
  const svgDoc = new DOMParser().parseFromString(DATA.svg, "image/svg+xml");
  const svg = document.importNode(svgDoc.documentElement, true);
  document.getElementById("drawing").appendChild(svg);
  const ELEMENTS = DATA.elements;
  const elementsByTitle = new Map();
  const seen = new Map(); // an input used twice (x*x) draws two edges with one title: the second is #2
  for (const group of svg.querySelectorAll("g.node, g.edge")) {
    const title = group.querySelector(":scope > title");
    if (!title) continue;
    const count = (seen.get(title.textContent) || 0) + 1;
    seen.set(title.textContent, count);
    const key = count > 1 ? title.textContent + "#" + count : title.textContent;
    title.remove(); // the page draws its own tooltips, not the browser's
    group.setAttribute("data-title", key);
    if (ELEMENTS[key]) elementsByTitle.set(key, group);
  }
  for (const title of svg.querySelectorAll("title")) title.remove();
  for (const line of svg.querySelectorAll("g.edge > path")) { // a wider, invisible line to hover
    const hit = line.cloneNode(false);
    hit.setAttribute("class", "hit");
    line.parentNode.insertBefore(hit, line);
  }
  const nodeMarks = Array.from({ length: N }, () => []); // node i -> [group, op-part?]
  const edgeMarks = new Map(); // "c,k" -> [group]
  for (const [key, group] of elementsByTitle) {
    const e = ELEMENTS[key];
    if (e.node !== undefined && !e.edges) nodeMarks[e.node].push([group, e.role === "op" || e.role === "output"]);
    for (const i of e.also || []) nodeMarks[i].push([group, true]);
    for (const i of e.neuron || []) nodeMarks[i].push([group, false]);
    if (e.edge) edgeMarks.set(e.edge.join(","), [group]);
    for (const edge of e.edges || []) {
      const k = edge.join(",");
      if (!edgeMarks.has(k)) edgeMarks.set(k, []);
      edgeMarks.get(k).push(group);
    }
  }

  // The edges' width and colour: viz._flow_style, from the gradient each carries back.
  function hsv(h, s, val) {
    const f = (n) => { const k = (n + h * 6) % 6; return val - val * s * Math.max(0, Math.min(k, 4 - k, 1)); };
    const hex = (x) => Math.round(x * 255).toString(16).padStart(2, "0");
    return "#" + hex(f(5)) + hex(f(3)) + hex(f(1));
  }
  function flowStyle(group, flow, largest) {
    let s = 0;
    if (flow !== null && flow !== 0 && largest > 0) s = Math.max(0, 1 + Math.log10(Math.abs(flow) / largest) / 4);
    const width = flow === null || largest === 0 ? 1 : 0.75 + (4.5 - 0.75) * s;
    const colour = flow === null || largest === 0 ? "#000000" : hsv(flow >= 0 ? 0 : 0.6, s, 0.7 - 0.15 * s);
    for (const path of group.querySelectorAll("path:not(.hit)")) {
      path.setAttribute("stroke", colour); path.setAttribute("stroke-width", width.toFixed(2));
    }
    for (const poly of group.querySelectorAll("polygon")) { poly.setAttribute("stroke", colour); poly.setAttribute("fill", colour); }
  }

  const numberHeads = new Map(); // a label's text -> its part before the number ("w5 = ")
  function setNumber(text, x) { // "w5 = 0.4000" -> "w5 = <x>"; a bare number -> <x>; null: not reached
    if (!numberHeads.has(text)) {
      const at = text.textContent.lastIndexOf(" = ");
      numberHeads.set(text, at >= 0 ? text.textContent.slice(0, at) : null);
    }
    const head = numberHeads.get(text);
    if (x === null) setText(text, (head === null ? "" : head + ": ") + "not reached");
    else setText(text, (head === null ? "" : head + " = ") + fmt(x));
  }

  // A field's new text may be longer than the one dot sized its box for ("grad: not reached",
  // "data -1.2346e-05"): then it is condensed to the widest text the box was drawn with.
  const boxWidths = new Map(); // a node's group -> the width of its widest original text
  function setText(text, content) {
    const group = text.closest("g.node") || text.closest("g.edge");
    if (group && group.classList.contains("node") && !boxWidths.has(group)) {
      boxWidths.set(group, Math.max(...Array.from(group.querySelectorAll("text"),
                                                  (t) => t.getComputedTextLength())));
    }
    text.textContent = content;
    text.removeAttribute("textLength");
    const room = boxWidths.get(group);
    if (room && text.getComputedTextLength() > room) {
      text.setAttribute("textLength", String(room));
      text.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
  }

  // The drawing's caption ("f = 6.0794; grad on each node = df/d(node), after backward()") is
  // drawn by Python with the first values: the page keeps its value and what the grads are current.
  let caption = null; // [the text element, the part before " = <value>", the original rest]
  let networkCaption = null; // the network view's "edges: weight and dE/dweight after backward()"
  function drawNetworkCaption(stepping) {
    if (networkCaption === null) {
      const text = Array.from(svg.querySelectorAll("g.graph > text"))
        .find((t) => t.textContent.endsWith(" after backward()"));
      networkCaption = text ? [text, text.textContent.slice(0, -" after backward()".length)] : false;
    }
    if (!networkCaption) return;
    const [text, head] = networkCaption;
    text.textContent = head + (error ? " (no backward pass: see the error above)"
      : stepping ? " after step " + step + " of " + steps.length + " of backward()" : " after backward()");
  }

  function drawCaption(stepping) {
    if (DATA.kind !== "graph") { drawNetworkCaption(stepping); return; }
    if (caption === null) {
      caption = false;
      for (const text of svg.querySelectorAll("g.graph > text")) {
        const marker = " = " + fmt(v[ROOT]) + "; ";
        const at = text.textContent.lastIndexOf(marker);
        if (at > 0) {
          caption = [text, text.textContent.slice(0, at), text.textContent.slice(at + marker.length - 2)];
          break;
        }
      }
    }
    if (!caption) return;
    const [text, head, rest] = caption;
    let tail = rest;
    if (error) tail = "; no backward pass: " + NODES[error.node].name + " cannot be computed";
    else if (stepping) tail = "; grads after step " + step + " of " + steps.length + " of backward()";
    text.textContent = head + " = " + (v[ROOT] === null ? "\u2014" : fmt(v[ROOT])) + tail;
  }

  // ------------------------------------------------------------------------------- the state
  let step = 0; // steps done; steps.length: the whole pass
  // trace.BackwardTrace.grads_after: after k steps; null for an interior node not reached yet.
  function gradsAt(k) {
    if (k >= steps.length) return g;
    const partial = NODES.map((n) => (n.op === null && !error ? 0 : null));
    if (error) return partial;
    partial[ROOT] = 1;
    for (let s = 0; s < k; s++) for (const send of steps[s].sends) partial[send.parent] = send.after;
    return partial;
  }

  // viz._frame_states: final (no more += to come), partial, or waiting, after k steps.
  function statesAt(k) {
    const pending = new Int32Array(N);
    const received = new Uint8Array(N);
    steps.forEach((s, n) => { for (const send of s.sends) { if (n < k) received[send.parent] = 1; else pending[send.parent]++; } });
    return NODES.map((_, i) => ((k > 0 && i === ROOT) || (received[i] && !pending[i]) ? "final"
                                                                                       : received[i] ? "partial" : "waiting"));
  }

  let frameStates = null; // statesAt(step) while stepping, else null
  // Whether node i's gradient has been reached at this step (a leaf's 0 before any += is not a result).
  function reached(i) {
    if (error) return false;
    return frameStates === null || i === ROOT || frameStates[i] !== "waiting";
  }

  function redraw() {
    const grads = gradsAt(step);
    const stepping = !error && step < steps.length;
    frameStates = stepping ? statesAt(step) : null;
    const done = new Set(); // the consumers that have sent
    for (let s = 0; s < Math.min(step, steps.length); s++) done.add(steps[s].node);
    const current = stepping && step > 0 ? steps[step - 1].node : null;
    const states = frameStates;
    const mark = (group, i) => {
      group.classList.toggle("final", stepping && states[i] === "final");
      group.classList.toggle("partial", stepping && states[i] === "partial");
    };
    const flows = [];
    for (const [key, group] of elementsByTitle) {
      const e = ELEMENTS[key];
      const texts = group.querySelectorAll("text");
      group.classList.toggle("error", !!error && e.node === error.node && !e.edges);
      group.classList.toggle("stale", e.node !== undefined && v[e.node] === null);
      if (DATA.kind === "graph") {
        if (e.edge) {
          const [c, k] = e.edge;
          const carried = !stepping || done.has(c);
          if (texts.length) texts[texts.length - 1].textContent = fmt(l[c] ? l[c][k] : null);
          flows.push([group, carried && l[c] && grads[c] !== null ? l[c][k] * g[c] : null]);
          group.classList.toggle("pending", stepping && !carried);
          group.classList.toggle("current", current === c);
        } else if (e.role === "output") {
          flows.push([group, reached(e.node) ? grads[e.node] : null]);
          group.classList.toggle("pending", stepping && !reached(e.node));
        } else if ((e.role === "value" || e.role === "copy") && texts.length >= 2) {
          setField(texts[texts.length - 2], "data ", v[e.node]);
          setText(texts[texts.length - 1], reached(e.node) ? "grad " + fmt(grads[e.node]) : "grad: not reached");
          mark(group, e.node);
        }
      } else {
        if (e.edges) { // a weight's or a bias's edge
          if (e.role === "weight") {
            if (texts.length >= 1) setNumber(texts[0], v[e.node]);
            if (texts.length >= 2) setNumber(texts[1], reached(e.node) ? grads[e.node] : null);
            flows.push([group, edgeShows === "weight" ? v[e.node] : reached(e.node) ? grads[e.node] : null]);
          }
          const carried = !stepping || e.edges.some(([c]) => done.has(c));
          group.classList.toggle("pending", stepping && !carried);
          group.classList.toggle("current", current !== null && e.edges.some(([c]) => current === c));
        } else if (e.node !== undefined) {
          if (e.role === "bias" && texts.length >= 1) {
            setNumber(texts[0], v[e.node]);
            if (texts.length >= 2) setNumber(texts[1], reached(e.node) ? grads[e.node] : null);
          } else if (e.role === "input" && texts.length >= 2) {
            texts[texts.length - 1].textContent = fmt(v[e.node]);
          }
          mark(group, e.node);
        }
      }
    }
    const largest = flows.reduce((m, [, f]) => (f !== null && isFinite(f) ? Math.max(m, Math.abs(f)) : m), 0);
    for (const [group, flow] of flows) flowStyle(group, flow, largest);
    drawCaption(stepping);
    drawSelection();
    drawStepper();
    drawLeaves();
    const banner = document.getElementById("error");
    banner.hidden = !error;
    banner.textContent = error ? NODES[error.node].name + ": " + error.message : "";
  }

  function setField(text, prefix, x) { setText(text, prefix + fmt(x)); }

  function drawSelection() {
    const panel = document.getElementById("paths");
    svg.classList.toggle("selecting", selected !== null);
    for (const group of elementsByTitle.values()) group.classList.remove("onpath", "selected");
    if (selected === null) { panel.textContent = ""; return; }
    const info = pathsTo(selected);
    const reach = info.reach;
    for (let i = 0; i < N; i++) {
      if (!reach[i]) continue;
      for (const [group, opPart] of nodeMarks[i]) {
        if (i !== selected || !opPart) group.classList.add("onpath");
        if (i === selected && !opPart) group.classList.add("selected");
      }
      const inputs = NODES[i].inputs;
      for (let k = 0; k < inputs.length; k++) {
        if (!reach[inputs[k]]) continue;
        for (const group of edgeMarks.get(i + "," + k) || []) group.classList.add("onpath");
      }
    }
    const root = NODES[ROOT].name;
    const name = "d" + dname(root) + "/d" + dname(info.name);
    panel.textContent = "";
    // Each line a block; a term (a factor's name or value) never wraps inside, only between terms.
    const line = (...parts) => {
      const div = document.createElement("div");
      for (const part of parts) {
        if (typeof part === "string") { div.appendChild(document.createTextNode(part)); continue; }
        part.forEach((term, n) => {
          if (n) div.appendChild(document.createTextNode(" * "));
          const span = document.createElement("span");
          span.className = "term";
          span.textContent = term;
          div.appendChild(span);
        });
      }
      panel.appendChild(div);
      return div;
    };
    if (info.grad === null) {
      line(info.name + ": not computed (" + (error ? error.message : "") + ")");
      return;
    }
    if (info.count === 0) {
      line(root + " does not depend on " + info.name + ": no path joins them, " + name + " = 0");
      return;
    }
    line(name + " by the chain rule: " + info.count + " path" + (info.count !== 1 ? "s" : "") +
         " from " + root + " down to " + info.name);
    let sum = 0;
    info.paths.forEach((p, n) => {
      sum += p.product;
      line("path " + (n + 1) + through(p, info.paths) + ":")
        .className = "path-head";
      if (p.factors.length) {
        line("  ", p.factors.map((f) => f.name)).className = "indent";
        line("  = ", p.factors.map((f) => num9(f.value))).className = "indent";
        line("  = " + num9(p.product)).className = "indent";
      } else {
        line("  " + name + " = 1").className = "indent";
      }
    });
    const omitted = info.count - info.paths.length;
    if (omitted > 0) line("... and " + omitted + " more paths, not listed, contributing " + num9(info.grad - sum));
    line("sum of " + (omitted > 0 ? "the listed paths" : "the paths") + " = " + num9(sum) + "; " + name +
         " by the page's backward pass = " + num9(info.grad)).className = "path-sum";
  }

  // ", through out_o1": the first node (from the output down) where this path parts from another.
  function through(path, paths) {
    for (let j = 1; j < path.nodes.length - 1; j++) {
      if (paths.some((q) => q.nodes[j] !== path.nodes[j])) return ", through " + path.nodes[j];
    }
    return "";
  }

  function stepText(k) {
    if (error) return "No backward pass: " + error.message;
    const root = NODES[ROOT].name;
    if (k === 0) return "Step 0 of " + steps.length + ": backward() starts: " + root + ".grad = 1, every other grad 0.";
    const s = steps[k - 1];
    const name = NODES[s.node].name;
    const lines = ["Step " + k + " of " + steps.length + ": " + name + " (" + NODES[s.node].symbol + "), its grad " +
                   fmt6(s.grad) + " is final"];
    if (s.grad === 0) {
      lines.push("its grad is 0: backward() skips it, nothing is sent");
      return lines.join("\n");
    }
    const shown = s.sends.slice(0, 12);
    for (const send of shown) {
      const into = NODES[send.parent].name;
      lines.push(dname(into) + ".grad += d" + dname(name) + "/d" + dname(into) + " * " + dname(name) + ".grad = " +
                 fmt6(send.local) + " * " + fmt6(s.grad) + " = " + fmt6(send.amount) +
                 "  (" + fmt6(send.before) + " -> " + fmt6(send.after) + ")");
    }
    if (s.sends.length > shown.length) lines.push("... and " + (s.sends.length - shown.length) + " more inputs");
    return lines.join("\n");
  }

  function drawStepper() {
    const slider = document.getElementById("slider");
    slider.max = String(steps.length);
    slider.value = String(step);
    document.getElementById("step-text").textContent = stepText(step);
  }

  // ------------------------------------------------------------------------------- the leaves
  // The editable leaves, grouped as a tutorial lists them (page._leaf_groups); the others are constants.
  const leaves = [].concat(...DATA.leaf_groups.map(([, members]) => members));
  const editable = new Uint8Array(N);
  for (const i of leaves) editable[i] = 1;
  const leafInputs = new Map(); // node -> [number field, slider or null]
  (function buildLeaves() {
    const table = document.getElementById("leaf-table");
    const listed = new Set(leaves.slice(0, DATA.leaf_limit));
    for (const [group, members] of DATA.leaf_groups) {
      if (!members.some((i) => listed.has(i))) continue;
      const head = table.insertRow().insertCell();
      head.colSpan = 3;
      head.className = "group";
      head.textContent = group;
      for (const i of members) if (listed.has(i)) leafRow(table, i);
    }
    if (leaves.length > listed.size) {
      const row = table.insertRow();
      row.insertCell().textContent = (leaves.length - listed.size) + " more leaves not listed (window.micrograd.setLeaf sets any)";
    }
  })();

  function leafRow(table, i) {
    {
      const row = table.insertRow();
      const name = row.insertCell();
      name.className = "name";
      name.textContent = NODES[i].name;
      name.title = NODES[i].name;
      const field = document.createElement("input");
      field.type = "number"; field.step = "any";
      field.setAttribute("aria-label", NODES[i].name);
      field.dataset.node = NODES[i].id;
      field.addEventListener("change", () => {
        const x = Number(field.value);
        const bad = field.value.trim() === "" || !isFinite(x); // (a number field reads "abc" as "")
        field.classList.toggle("invalid", bad);
        field.setCustomValidity(bad ? "not a finite number: " + NODES[i].name + " keeps " + repr(v[i]) : "");
        if (bad) { field.reportValidity(); return; } // nothing changes
        setLeafValue(i, x);
      });
      row.insertCell().appendChild(field);
      let slider = null;
      if (NODES[i].parameter) {
        slider = document.createElement("input");
        slider.type = "range";
        const c = NODES[i].data, half = Math.max(1, 2 * Math.abs(c));
        slider.min = String(c - half); slider.max = String(c + half); slider.step = String(half / 500);
        slider.dataset.node = NODES[i].id;
        slider.setAttribute("aria-label", NODES[i].name + " slider");
        slider.addEventListener("input", () => setLeafValue(i, Number(slider.value)));
        row.insertCell().appendChild(slider);
      }
      leafInputs.set(i, [field, slider]);
    }
  }

  function drawLeaves() {
    for (const [i, [field, slider]] of leafInputs) {
      if (document.activeElement !== field) {
        field.value = String(v[i]);
        field.classList.remove("invalid");
        field.setCustomValidity("");
      }
      if (slider && document.activeElement !== slider) {
        if (v[i] < Number(slider.min)) slider.min = String(v[i]);
        if (v[i] > Number(slider.max)) slider.max = String(v[i]);
        slider.value = String(v[i]);
      }
    }
  }

  function setLeafValue(i, x) {
    v[i] = x;
    const wasEnd = step >= steps.length;
    compute();
    step = wasEnd || step > steps.length ? steps.length : step;
    redraw();
  }

  // ------------------------------------------------------------------------------ the tooltip
  const tooltip = document.getElementById("tooltip");
  function nodeTip(i) {
    const node = NODES[i];
    const lines = [node.op === null ? node.name + (node.parameter ? " (parameter)" : " (leaf)")
                                    : node.name + " = " + expression(i)];
    const grads = gradsAt(step);
    lines.push("data " + fmt6(v[i]) + "   " + (reached(i) ? "grad " + fmt6(grads[i]) : "grad: not reached") +
               (step < steps.length && !error ? " (at step " + step + ")" : ""));
    if (error && error.node === i) lines.push("error: " + error.message);
    else if (v[i] === null) lines.push("not computed: an earlier node's value is outside its op's domain");
    const shown = Math.min(node.inputs.length, 8);
    for (let k = 0; k < shown; k++) lines.push(localText(i, k));
    if (node.inputs.length > shown) lines.push("... and " + (node.inputs.length - shown) + " more inputs");
    return lines.join("\n");
  }
  function edgeTip(c, k) {
    const p = NODES[c].inputs[k];
    const lines = [localText(c, k)];
    if (l[c] !== null && g[c] !== null) {
      lines.push("sends back to " + NODES[p].name + ": " + fmt6(l[c][k]) + " * grad(" + NODES[c].name +
                 ") " + fmt6(g[c]) + " = " + fmt6(l[c][k] * g[c]));
    }
    return lines.join("\n");
  }
  function tipFor(key) {
    const e = ELEMENTS[key];
    if (e.role === "summary") return e.text;
    if (e.edge) return edgeTip(e.edge[0], e.edge[1]);
    if (e.neuron) return "neuron " + key + ": computed " + e.neuron.length + " times (once per sample); " +
                         "hover a weight, or select a node in the leaves list";
    const parts = [nodeTip(e.node)];
    if (e.edges && e.edges.length && DATA.kind === "network" && e.edges.length <= 2) {
      parts.push(localText(e.edges[0][0], e.edges[0][1]));
    } else if (e.also && e.also.length === 1) {
      parts.push(nodeTip(e.also[0]));
    }
    return parts.join("\n\n");
  }
  let hovered = null;
  svg.addEventListener("mouseover", (event) => {
    const group = event.target.closest("g.node, g.edge");
    const key = group && group.getAttribute("data-title");
    if (!key || !ELEMENTS[key]) return;
    hovered = key;
    tooltip.textContent = tipFor(key);
    tooltip.hidden = false;
    placeTip(event);
  });
  svg.addEventListener("mousemove", (event) => { if (hovered) placeTip(event); });
  svg.addEventListener("mouseout", (event) => {
    const group = event.target.closest("g.node, g.edge");
    if (group && !group.contains(event.relatedTarget)) { hovered = null; tooltip.hidden = true; }
  });
  function placeTip(event) {
    tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 540) + "px";
    tooltip.style.top = (event.clientY + 14) + "px";
  }
  svg.addEventListener("click", (event) => {
    const group = event.target.closest("g.node, g.edge");
    const key = group && group.getAttribute("data-title");
    if (!key || !ELEMENTS[key]) return;
    const e = ELEMENTS[key];
    const i = e.edge ? NODES[e.edge[0]].inputs[e.edge[1]] : e.node;
    if (i === undefined) return;
    selected = selected === i ? null : i;
    drawSelection();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && selected !== null) { selected = null; drawSelection(); }
  });

  // ------------------------------------------------------------------------- zoom and pan
  // The drawing is placed in its box at a scale (CSS px per SVG unit) and an offset: the wheel zooms
  // about the pointer, a drag pans, "fit" shows it whole. It opens whole if its text then reads
  // (node text at least READABLE px), else at that size from its left (the inputs) end.
  const READABLE = 8.4;
  const box = document.getElementById("drawing");
  const viewBox = svg.viewBox.baseVal;
  const base = { w: viewBox && viewBox.width ? viewBox.width : svg.getBBox().width,
                 h: viewBox && viewBox.height ? viewBox.height : svg.getBBox().height };
  const nodeFont = Math.min(14, ...Array.from(svg.querySelectorAll("g.node text"),
                                             (t) => Number(t.getAttribute("font-size")) || 14).slice(0, 500));
  const view = { scale: 1, x: 0, y: 0 };
  function sizeBox() { box.style.height = Math.max(200, window.innerHeight - box.getBoundingClientRect().top) + "px"; }
  function place() {
    svg.setAttribute("width", String(base.w * view.scale));
    svg.setAttribute("height", String(base.h * view.scale));
    svg.style.left = view.x + "px";
    svg.style.top = view.y + "px";
    document.getElementById("zoom-level").textContent = Math.round(100 * view.scale * 0.75) + "%";
  }
  function fitScale() { return Math.min(box.clientWidth / base.w, box.clientHeight / base.h); }
  function fitView(opening) {
    sizeBox();
    const fit = fitScale();
    const readable = READABLE / nodeFont;
    view.scale = opening ? Math.min(4 / 3, Math.max(fit, readable)) : fit;
    const w = base.w * view.scale, h = base.h * view.scale;
    view.x = w <= box.clientWidth ? (box.clientWidth - w) / 2 : 0;
    view.y = h <= box.clientHeight ? (box.clientHeight - h) / 2 : 0;
    place();
  }
  function zoomAt(factor, cx, cy) {
    const scale = Math.max(0.05, Math.min(8, view.scale * factor));
    view.x = cx - (cx - view.x) * scale / view.scale;
    view.y = cy - (cy - view.y) * scale / view.scale;
    view.scale = scale;
    place();
  }
  box.addEventListener("wheel", (event) => {
    event.preventDefault();
    const r = box.getBoundingClientRect();
    zoomAt(Math.pow(1.0015, -event.deltaY), event.clientX - r.left, event.clientY - r.top);
  }, { passive: false });
  let drag = null; // {x, y, vx, vy, moved}
  box.addEventListener("mousedown", (event) => {
    if (event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
  });
  window.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true;
    box.classList.add("dragging");
    view.x = drag.vx + dx; view.y = drag.vy + dy;
    place();
  });
  window.addEventListener("mouseup", () => { if (drag) setTimeout(() => { drag = null; }, 0); box.classList.remove("dragging"); });
  svg.addEventListener("click", (event) => { if (drag && drag.moved) event.stopImmediatePropagation(); }, true);
  const middle = () => [box.clientWidth / 2, box.clientHeight / 2];
  document.getElementById("zoom-in").addEventListener("click", () => zoomAt(1.25, ...middle()));
  document.getElementById("zoom-out").addEventListener("click", () => zoomAt(0.8, ...middle()));
  document.getElementById("fit").addEventListener("click", () => fitView(false));
  window.addEventListener("resize", sizeBox);

  // The network view's edges show the gradient (default) or the weight.
  let edgeShows = "gradient";
  const edgeMode = document.getElementById("edge-mode");
  edgeMode.hidden = DATA.kind !== "network";
  edgeMode.addEventListener("click", () => {
    const was = edgeShows;
    edgeShows = edgeShows === "gradient" ? "weight" : "gradient";
    edgeMode.textContent = "edges show: " + edgeShows;
    for (const text of svg.querySelectorAll("g.graph > text")) { // the view's note on what they show
      text.textContent = text.textContent.replace("edge width and colour: the " + was, "edge width and colour: the " + edgeShows);
    }
    redraw();
  });

  // The guide: what the colours mean, what to try first.
  (function guide() {
    const first = (DATA.leaf_groups.find(([g]) => g === "weights") || DATA.leaf_groups[0] || [null, []])[1][0];
    const name = first === undefined ? "a leaf" : NODES[first].name;
    document.getElementById("guide-try").textContent =
      "Try: click " + name + " (every chain-rule path from " + (NODES[ROOT].label || "the output") +
      " down to it, and its factors); " +
      "press next (backward() one node at a time, each += shown); edit a leaf below (everything recomputes).";
    document.getElementById("guide-close").addEventListener("click", () => { document.getElementById("guide").hidden = true; });
  })();

  // ------------------------------------------------------------------------------ the stepper
  let timer = null;
  function goTo(k) {
    step = Math.max(0, Math.min(steps.length, k));
    redraw();
  }
  // Stepping from the controls: the drawing pans to the step's node if it is out of view.
  function follow() {
    if (step === 0 || step > steps.length) return;
    const marks = nodeMarks[steps[step - 1].node];
    if (!marks.length) return;
    const r = marks[0][0].getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.left >= b.left && r.right <= b.right && r.top >= b.top && r.bottom <= b.bottom) return;
    view.x += (b.left + b.width / 2) - (r.left + r.width / 2);
    view.y += (b.top + b.height / 2) - (r.top + r.height / 2);
    place();
  }
  function pause() { if (timer) { clearInterval(timer); timer = null; } document.getElementById("play").textContent = "play"; }
  document.getElementById("first").addEventListener("click", () => { pause(); goTo(0); });
  document.getElementById("prev").addEventListener("click", () => { pause(); goTo(step - 1); follow(); });
  document.getElementById("next").addEventListener("click", () => { pause(); goTo(step + 1); follow(); });
  document.getElementById("last").addEventListener("click", () => { pause(); goTo(steps.length); });
  document.getElementById("slider").addEventListener("input", (event) => { pause(); goTo(Number(event.target.value)); });
  document.getElementById("play").addEventListener("click", () => {
    if (timer) { pause(); return; }
    if (step >= steps.length) goTo(0);
    document.getElementById("play").textContent = "pause";
    timer = setInterval(() => { if (step >= steps.length) pause(); else { goTo(step + 1); follow(); } }, 600);
  });

  // ---------------------------------------------------------------------- the scripting API
  function state() {
    const grads = gradsAt(step);
    const nodes = NODES.map((n, i) => ({ id: n.id, name: n.name, label: n.label, op: n.op,
                                         data: v[i], grad: grads[i], leaf: n.op === null, parameter: n.parameter }));
    let sel = null;
    if (selected !== null) {
      const info = pathsTo(selected);
      sel = { id: NODES[selected].id, name: info.name, grad: info.grad, count: info.count,
              paths: info.paths.map((p) => ({ nodes: p.nodes, factors: p.factors, product: p.product, edges: p.edges })) };
    }
    const s = step > 0 && step <= steps.length ? ledgerStep(steps[step - 1]) : null;
    return {
      kind: DATA.kind, title: DATA.title, nodes,
      leaves: leaves.map((i) => NODES[i].id),
      root: NODES[ROOT].id,
      error: error ? { id: NODES[error.node].id, name: NODES[error.node].name, message: error.message } : null,
      step: { index: step, total: steps.length, text: stepText(step),
              current: s },
      selected: sel,
      shown: DATA.shown === undefined ? null : DATA.shown,
    };
  }
  function ledgerStep(t) {
    return { node: NODES[t.node].id, name: NODES[t.node].name, grad: t.grad,
             sends: t.sends.map((d) => ({ input: d.input, to: NODES[d.parent].id, local: d.local, amount: d.amount,
                                          before: d.before, after: d.after })) };
  }
  function ledger() { return steps.map(ledgerStep); }
  window.micrograd = {
    state,
    ledger, // the backward pass's steps, in order, each with its += (trace_backward's ledger)
    repr, // Python's repr of a float, and viz's number format: the page's formats, for tests
    format: fmt,
    setLeaf(name, value) {
      const i = resolve(name);
      if (NODES[i].op !== null) throw new Error(NODES[i].name + " is not a leaf: only leaves can be set");
      if (!editable[i]) throw new Error(NODES[i].data + " (" + NODES[i].name + ") is a constant of the graph, not an editable leaf");
      if (typeof value !== "number" || !isFinite(value)) throw new Error("the value must be a finite number, got " + String(value));
      setLeafValue(i, value);
      return state();
    },
    select(name) {
      selected = name === null || name === undefined ? null : resolve(name);
      drawSelection();
      return state();
    },
    step(k) {
      if (!Number.isInteger(k) || k < 0 || k > steps.length) {
        throw new Error("step(k): k must be an integer from 0 to " + steps.length + ", got " + String(k));
      }
      pause();
      goTo(k);
      return state();
    },
  };

  // --------------------------------------------------------------------------------- start
  document.getElementById("title").textContent = DATA.title;
  const total = N;
  const note = [];
  if (DATA.kind === "graph") {
    note.push("Hover a node or an edge; click a node for its chain-rule paths (Escape clears); edit the leaves on the right.");
    if (DATA.shown !== undefined && DATA.shown < total) {
      note.push(DATA.shown + " of " + total + " nodes shown (the nodes nearest the output, as draw() cuts); " +
                "the page computes all of them.");
    }
  } else {
    note.push("Hover a neuron, an input, a bias or a weight's edge; click one for its chain-rule paths (Escape clears); edit the parameters on the right.");
  }
  document.getElementById("note").textContent = note.join(" ");
  compute();
  step = 0; // the page opens before backward(), with the guide: press next to start
  redraw();
  fitView(true);
  // When the page was ready, in ms since navigation began (a test reads it).
  document.body.setAttribute("data-ready", String(performance.now()));
})();
