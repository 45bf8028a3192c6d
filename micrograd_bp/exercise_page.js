// micrograd_bp's explorable graph in exercise mode: an input box on each asked node, the rule on
// hover (never a gradient's value), "check" grading every answer in the page with the catalogue
// of mistakes (the same checks, ids and numbers as micrograd_bp/mistakes.py), then the backward
// pass step by step. User text (labels) comes only from the JSON data element, shown through
// textContent.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("micrograd-data").textContent);
  const NODES = DATA.nodes; // {name, op, symbol, inputs, data, rules: [the local derivative's rule per input]}
  const QUESTIONS = DATA.questions; // [{name, node}], in the order backward() finishes them
  const STEPS = DATA.steps; // backward()'s steps: {node, upstream, adds: [{input, target, local, amount, before, after}]}

  // ------------------------------------------------------------------------------ the grader
  // exercise.Exercise.grade_one, from the exercise's JSON (Exercise.to_json): each question's key,
  // its candidates (the catalogue's wrong values, computed once by Python, in the order tried) and
  // its carried form (the gradient from the learner's own answers above it). The same checks in
  // the same order, the same arithmetic, the same messages.
  const G = DATA.grader;
  const EXACT = 1e-9;
  const KEYS = {};
  for (const q of G.questions) KEYS[q.name] = q.expected;

  function matches(a, b, rtol) { // mistakes.matches
    if (!isFinite(a) || !isFinite(b)) return false;
    return Math.abs(a - b) <= Math.max(rtol * Math.max(Math.abs(a), Math.abs(b)), 0);
  }
  function fill(template, values) { // str.format with {partial}, {key}, {given}, {upstream}
    return template.replace(/\{(partial|key|given|upstream)\}/g, (m, name) => values[name]);
  }
  function carriedValue(q, answers) { // Question.carried
    let total = q.carried.const;
    for (const [name, coeff] of q.carried.terms) {
      const given = name in answers ? answers[name] : null;
      total += coeff * (given !== null ? given : KEYS[name]);
    }
    return total;
  }
  function gradeOne(q, answers) {
    const key = q.expected;
    const given = q.name in answers ? answers[q.name] : null;
    const values = { partial: q.partial, key: fmt(key), given: given === null ? "" : fmt(given), upstream: "" };
    const outcome = (diagnosis, template, credit, edges) => {
      const withheld = diagnosis === "unknown" && !G.show_answers;
      return { name: q.name, ok: diagnosis === "right" || diagnosis === "close", expected: withheld ? null : key,
               given, diagnosis, message: fill(G.messages[template], values), credit, edges: edges || [] };
    };
    if (given === null) return outcome("not-answered", "not-answered", 0);
    if (given === key || matches(given, key, EXACT)) return outcome("right", "right", 1);
    if (matches(given, key, G.rtol)) return outcome("close", "close", 1);
    const carried = carriedValue(q, answers);
    if (!matches(carried, key, G.rtol) && matches(given, carried, G.rtol)) {
      values.upstream = q.carried.terms.filter(([n]) => n in answers && !matches(answers[n], KEYS[n], G.rtol))
        .map(([n]) => n + " = " + fmt(answers[n])).join(", ");
      return outcome("carried", "carried", 1);
    }
    for (const c of q.candidates) {
      if (matches(given, c.value, G.rtol)) {
        return { name: q.name, ok: false, expected: key, given, diagnosis: c.id, message: c.message, credit: 0,
                 edges: c.edges || [] };
      }
    }
    return outcome("unknown", G.show_answers ? "unknown-shown" : "unknown", 0);
  }
  function grade(answers) { // Exercise.grade: {score, results: {name: grade}}
    const results = {};
    let credit = 0;
    for (const q of G.questions) { results[q.name] = gradeOne(q, answers); credit += results[q.name].credit; }
    return { score: G.questions.length ? credit / G.questions.length : 0, results };
  }

  // ---------------------------------------------------------------------------- number formats
  function fmt(x) { // Python's f"{x:.9g}"
    if (x === null || x === undefined || !isFinite(x)) return "\u2014";
    if (x === 0) return "0";
    const [m, ex] = x.toExponential(8).split("e");
    const e = parseInt(ex, 10);
    const strip = (s) => (s.indexOf(".") < 0 ? s : s.replace(/0+$/, "").replace(/\.$/, ""));
    if (e >= -4 && e < 9) return strip(x.toFixed(Math.max(0, 8 - e)));
    return strip(m) + "e" + (e < 0 ? "-" : "+") + (Math.abs(e) < 10 ? "0" : "") + Math.abs(e);
  }

  // An answer as typed: a number (a leading + or a Unicode minus accepted), else null with why.
  function parseAnswer(text) {
    const t = text.trim().replace(/\u2212/g, "-").replace(/^\+/, "");
    if (t === "") return { value: null, problem: null };
    if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return { value: null, problem: "not a number: " + JSON.stringify(text.trim()) };
    const x = Number(t);
    if (!isFinite(x)) return { value: null, problem: "not a finite number: " + text.trim() };
    return { value: x, problem: null };
  }

  // ------------------------------------------------------------------------------ the drawing
  const svgDoc = new DOMParser().parseFromString(DATA.svg, "image/svg+xml");
  const svg = document.importNode(svgDoc.documentElement, true);
  document.getElementById("drawing").appendChild(svg);
  const groups = new Map(); // "v3", "o3", "v1->o3", "v1->o3#2" -> its group
  for (const group of svg.querySelectorAll("g.node, g.edge")) {
    const title = group.querySelector(":scope > title");
    if (!title) continue;
    let key = title.textContent;
    for (let n = 2; groups.has(key); n++) key = title.textContent + "#" + n;
    groups.set(key, group);
    group.setAttribute("data-title", key);
    title.remove();
  }
  for (const title of svg.querySelectorAll("title")) title.remove();

  // The edge carrying input k of node c: v{p}->o{c}, the n-th such edge when p feeds c twice.
  function edgeGroup(c, k) {
    const p = NODES[c].inputs[k];
    const repeat = NODES[c].inputs.slice(0, k).filter((q) => q === p).length;
    return groups.get("v" + p + "->o" + c + (repeat ? "#" + (repeat + 1) : ""));
  }

  const inputs = new Map(); // question name -> [the box on the node, the box in the table]
  function boxOnNode(q) { // a text input over the node's empty field (its text is all no-break spaces)
    const group = groups.get("v" + q.node);
    if (!group) return null;
    const blank = Array.from(group.querySelectorAll("text")).find((t) => /^\u00a0+$/.test(t.textContent));
    const outline = group.querySelector("polygon");
    if (!blank || !outline) return null;
    const points = (element) => element.getAttribute("points").trim().split(/\s+/).map((p) => p.split(",").map(Number));
    const corners = points(outline);
    const left = Math.min(...corners.map((p) => p[0])), right = Math.max(...corners.map((p) => p[0]));
    const y = Number(blank.getAttribute("y"));
    const lines = Array.from(group.querySelectorAll("polyline"), (line) => points(line)[0][1]).filter((ly) => ly < y);
    const top = lines.length ? Math.max(...lines) : y - 14;
    const bottom = Math.max(...corners.map((p) => p[1]));
    const object = document.createElementNS("http://www.w3.org/2000/svg", "foreignObject");
    object.setAttribute("x", String(left + 3)); object.setAttribute("y", String(top + 3));
    object.setAttribute("width", String(right - left - 6)); object.setAttribute("height", String(bottom - top - 6));
    const box = document.createElement("input");
    box.type = "text"; box.setAttribute("inputmode", "decimal");
    box.setAttribute("aria-label", q.text);
    box.dataset.question = q.name;
    object.appendChild(box);
    group.appendChild(object);
    return box;
  }

  const table = document.getElementById("question-table");
  const rows = new Map();
  QUESTIONS.forEach((q, n) => {
    q.text = "(" + (n + 1) + ") " + q.partial;
    const row = table.insertRow();
    row.dataset.question = q.name;
    const label = row.insertCell(); label.className = "q"; label.textContent = q.text;
    const cell = row.insertCell();
    const box = document.createElement("input");
    box.type = "text"; box.setAttribute("inputmode", "decimal"); box.dataset.question = q.name;
    box.setAttribute("aria-label", q.text + " (table)");
    cell.appendChild(box);
    const message = table.insertRow(); message.dataset.question = q.name;
    const m = message.insertCell(); m.colSpan = 2; m.className = "message";
    rows.set(q.name, [row, message, m]);
    const onNode = boxOnNode(q);
    inputs.set(q.name, [onNode, box]);
    for (const b of [onNode, box]) {
      if (!b) continue;
      b.addEventListener("input", () => { for (const other of inputs.get(q.name)) if (other && other !== b) other.value = b.value; });
      b.addEventListener("keydown", (event) => { if (event.key === "Enter") check(); });
    }
  });

  // -------------------------------------------------------------------------------- the rule
  const tooltip = document.getElementById("tooltip");
  function rule(i) { // the chain rule for node i, in formulas: never a gradient's value
    const node = NODES[i];
    const lines = [node.name + (node.op === null ? " (a leaf)" : " = " + node.expression) + "   data " + fmt(node.data)];
    if (i === DATA.root) {
      lines.push("the output: its gradient d" + DATA.output + "/d" + DATA.output + " is 1 (backward() starts here)");
    } else if (node.consumers.length === 0) {
      lines.push("nothing uses it: its gradient is 0");
    } else {
      lines.push("its gradient is the sum, over each edge out of it, of the local derivative times the consumer's gradient:");
      for (const [c, k] of node.consumers) lines.push("  " + NODES[c].rules[k] + "   (times the gradient of " + NODES[c].name + ")");
    }
    return lines.join("\n");
  }
  function edgeRule(c, k) {
    return NODES[c].rules[k] + "\n(the local derivative of " + NODES[c].name + " with respect to " +
           NODES[NODES[c].inputs[k]].name + ": multiply it by the gradient of " + NODES[c].name + ")";
  }
  svg.addEventListener("mouseover", (event) => {
    const group = event.target.closest("g.node, g.edge");
    const key = group && group.getAttribute("data-title");
    if (!key) return;
    let text = null;
    const node = /^[vo](\d+)$/.exec(key);
    const edge = /^v(\d+)->o(\d+)(?:#(\d+))?$/.exec(key);
    if (node) text = rule(Number(node[1]));
    else if (edge) {
      const p = Number(edge[1]), c = Number(edge[2]), nth = edge[3] ? Number(edge[3]) : 1;
      const k = NODES[c].inputs.map((q, n) => (q === p ? n : -1)).filter((n) => n >= 0)[nth - 1];
      if (k !== undefined) text = edgeRule(c, k);
    }
    if (text === null) return;
    tooltip.textContent = text;
    tooltip.hidden = false;
    tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 540) + "px";
    tooltip.style.top = (event.clientY + 14) + "px";
  });
  svg.addEventListener("mouseout", (event) => {
    const group = event.target.closest("g.node, g.edge");
    if (group && !group.contains(event.relatedTarget)) tooltip.hidden = true;
  });

  // ----------------------------------------------------------------------------- checking
  let results = null; // the last check's result per question name
  let score = null;
  let attempts = 0;
  let problems = {}; // question name -> why its text is not a number

  function typed() {
    const answers = {};
    problems = {};
    for (const q of QUESTIONS) {
      const [onNode, box] = inputs.get(q.name);
      const text = (box.value || (onNode ? onNode.value : "")) || "";
      const parsed = parseAnswer(text);
      if (parsed.problem) problems[q.name] = parsed.problem;
      else if (parsed.value !== null) answers[q.name] = parsed.value;
    }
    return answers;
  }

  // A graded answer as the command line shows it: the id, then the message (once, when the
  // message starts with it: "right: ...", "carried: ...").
  function verdict(r) { return r.message.startsWith(r.diagnosis) ? r.message : r.diagnosis + ": " + r.message; }

  function check() {
    const answers = typed();
    const graded = grade(answers);
    results = graded.results;
    score = graded.score;
    attempts++;
    for (const group of svg.querySelectorAll(".suspect, .right, .wrong, .carried")) group.classList.remove("suspect", "right", "wrong", "carried");
    for (const q of QUESTIONS) {
      const r = results[q.name];
      const mark = r.ok ? "right" : r.diagnosis === "carried" ? "carried" : "wrong";
      const [row, messageRow, cell] = rows.get(q.name);
      for (const element of [row, messageRow]) { element.classList.remove("right", "wrong", "carried"); element.classList.add(mark); }
      cell.textContent = problems[q.name] ? problems[q.name] + " (read as not answered)" : verdict(r);
      const group = groups.get("v" + q.node);
      if (group) group.classList.add(mark);
      for (const b of inputs.get(q.name)) if (b) { b.classList.remove("right", "wrong", "carried"); b.classList.add(mark); }
      if (!r.ok) for (const [c, k] of r.edges || []) { const e = edgeGroup(c, k); if (e) e.classList.add("suspect"); }
    }
    const right = QUESTIONS.filter((q) => results[q.name].ok).length;
    document.getElementById("score").textContent = right + " of " + QUESTIONS.length + " right";
    unlock();
    return state();
  }
  document.getElementById("check").addEventListener("click", check);

  // ------------------------------------------------------------------------------ the stepper
  let step = null; // null: locked (no attempt yet); else the steps shown, 0..STEPS.length
  function unlock() {
    if (step !== null) return;
    step = 0;
    document.getElementById("locked").hidden = true;
    for (const id of ["first", "prev", "next", "last"]) document.getElementById(id).disabled = false;
    drawStep();
  }
  function stepText(k) {
    if (k === 0) return "Step 0 of " + STEPS.length + ": backward() starts: " + DATA.output + ".grad = 1, every other grad 0.";
    const s = STEPS[k - 1];
    const name = NODES[s.node].name;
    const lines = ["Step " + k + " of " + STEPS.length + ": " + name + ", its grad " + fmt(s.upstream) + " is final"];
    if (s.adds.length === 0) lines.push("its grad is 0: nothing is sent");
    for (const a of s.adds) {
      const into = NODES[a.target].name;
      lines.push(into + ".grad += " + fmt(a.local) + " * " + fmt(s.upstream) + " = " + fmt(a.amount) +
                 "  (" + fmt(a.before) + " -> " + fmt(a.after) + ")");
    }
    return lines.join("\n");
  }
  function drawStep() {
    for (const group of svg.querySelectorAll("g.current")) group.classList.remove("current");
    if (step > 0) {
      const s = STEPS[step - 1];
      for (const key of ["v" + s.node, "o" + s.node]) { const g = groups.get(key); if (g) g.classList.add("current"); }
    }
    document.getElementById("step-text").textContent = stepText(step);
  }
  function goTo(k) { if (step === null) return; step = Math.max(0, Math.min(STEPS.length, k)); drawStep(); }
  document.getElementById("first").addEventListener("click", () => goTo(0));
  document.getElementById("prev").addEventListener("click", () => goTo(step - 1));
  document.getElementById("next").addEventListener("click", () => goTo(step + 1));
  document.getElementById("last").addEventListener("click", () => goTo(STEPS.length));
  document.getElementById("zoom").addEventListener("click", (event) => {
    const actual = document.getElementById("drawing").classList.toggle("actual");
    event.target.textContent = actual ? "fit to width" : "actual size";
  });

  // ---------------------------------------------------------------------- the scripting API
  function state() {
    const answers = typed();
    return {
      questions: QUESTIONS.map((q) => {
        const r = results ? results[q.name] : null;
        return { name: q.name, answer: q.name in answers ? answers[q.name] : null,
                 ok: r ? r.ok : null, diagnosis: r ? r.diagnosis : null, message: r ? r.message : null,
                 problem: problems[q.name] || null, suspect: r ? (r.edges || []).map((e) => e.slice()) : [] };
      }),
      checked: attempts, score,
      step: step === null ? null : { index: step, total: STEPS.length, text: stepText(step) },
    };
  }
  window.micrograd = {
    state,
    answer(name, value) { // types value (a number or text) into the question's boxes
      const boxes = inputs.get(String(name));
      if (!boxes) throw new Error("no question named " + JSON.stringify(name));
      for (const b of boxes) if (b) b.value = value === null || value === undefined ? "" : String(value);
      return state();
    },
    check,
    grade, // the grader itself: grade({name: number}) -> {score, results}
    step(k) {
      if (step === null) throw new Error("the backward pass unlocks after a check");
      if (!Number.isInteger(k) || k < 0 || k > STEPS.length) throw new Error("step(k): k must be an integer from 0 to " + STEPS.length);
      goTo(k);
      return state();
    },
  };

  document.getElementById("title").textContent = DATA.title;
  document.getElementById("note").textContent = "Find d" + DATA.output + "/d(node) for each box, in the order (1), (2), ...; " +
    "hover a node or an edge for its rule; check grades every answer and tells which chain-rule step is off.";
  document.body.setAttribute("data-ready", String(performance.now()));
})();
