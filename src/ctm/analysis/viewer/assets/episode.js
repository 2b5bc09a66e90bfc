// The episode viewer: plays recorded episodes of agents exploring a maze, step by step. Each
// step shows where the agent stands, what it sees, what it has seen so far, where the memory
// entries it reads were written, what it chooses and how sure it is. The episodes were played
// by PyTorch (`ctm viz RUN --html`); the page runs no model, so it opens anywhere, offline.
"use strict";

const E = window.CTM_EPISODES;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const RADIUS = 2;  // the agent sees (2 · RADIUS + 1)² pixels around itself
const CELL = 20;
const COLOURS = ["rgb(230,0,0)", "rgb(150,0,200)", "rgb(255,130,0)", "rgb(0,120,200)"];
const viewer = { ready: false, error: null, episode: 0, agent: 0, step: 1, playing: false,
                 position: null, reads: [], chosen: null };
window.ctmEpisodes = viewer;
let timer = null;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function start() {
  try {
    $("title").textContent = E.title;
    E.episodes.forEach((e, i) => $("episode").add(new Option(e.title, String(i))));
    $("episode").addEventListener("change", () => select(Number($("episode").value), 0));
    $("agent").addEventListener("change", () => select(viewer.episode, Number($("agent").value)));
    $("agent-box").style.display = E.agents > 1 ? "" : "none";
    $("step").addEventListener("input", () => show(Number($("step").value)));
    $("prev").addEventListener("click", () => show(viewer.step - 1));
    $("next").addEventListener("click", () => show(viewer.step + 1));
    $("play").addEventListener("click", togglePlay);
    document.addEventListener("keydown", (event) => {
      if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") return;  // own keys
      if (event.key === "ArrowLeft") show(viewer.step - 1);
      if (event.key === "ArrowRight") show(viewer.step + 1);
    });
    if (!E.has_activity) $("neurons-box").style.display = "none";
    select(0, 0);
    $("status").textContent = E.summary;
    viewer.ready = true;
  } catch (error) {
    viewer.error = String(error);
    $("status").textContent = "could not start: " + error;
  }
}

function episode() { return E.episodes[viewer.episode]; }
function agent() { return episode().agents[viewer.agent]; }

function select(index, who) {
  viewer.episode = index;
  viewer.agent = who;
  const picker = $("agent");
  picker.innerHTML = "";
  episode().agents.forEach((a, k) => picker.add(new Option(
    `${k + 1}${a.solved ? " (arrived)" : ""}`, String(k))));
  picker.value = String(who);
  $("step").max = String(episode().steps + 1);  // the last position: after the last step
  show(1);
}

// Step t (1-based) is the moment before the agent's t-th move: it stands at at[t - 1], sees
// the pixels around it, reads its memory and chooses. Step steps + 1 is where it ended.
function show(t) {
  const e = episode();
  t = Math.max(1, Math.min(e.steps + 1, t));
  viewer.step = t;
  $("step").value = String(t);
  const a = agent();
  const acting = t <= e.steps;
  viewer.position = a.at[t - 1];
  viewer.reads = acting && a.reads.length ? a.reads[t - 1] : [];
  viewer.chosen = acting ? E.actions[a.actions[t - 1]] : null;
  $("step-label").textContent = acting ? `${t} of ${e.steps}` : `the end (${e.steps} steps)`;
  drawMaze(e, a, t);
  drawView(e, a.at[t - 1]);
  drawAction(a, t);
  drawMemory(a, t);
  drawCurve(a, t);
  if (E.has_activity) drawNeurons(a, t);
}

function isOpen(e, y, x) {
  return y >= 0 && x >= 0 && y < e.maze.length && x < e.maze[0].length && e.maze[y][x] === ".";
}

function drawMaze(e, a, t) {
  const svg = $("maze");
  svg.innerHTML = "";
  const h = e.maze.length, w = e.maze[0].length;
  svg.setAttribute("viewBox", `0 0 ${w * CELL} ${h * CELL}`);
  const seen = new Set();
  for (let s = 0; s < t; s++) {
    const [y, x] = a.at[s];
    for (let dy = -RADIUS; dy <= RADIUS; dy++)
      for (let dx = -RADIUS; dx <= RADIUS; dx++) seen.add(`${y + dy},${x + dx}`);
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const known = seen.has(`${y},${x}`);
      el("rect", { x: x * CELL, y: y * CELL, width: CELL, height: CELL,
                   fill: isOpen(e, y, x) ? (known ? "#fff" : "#c8c8c8")
                                         : (known ? "#222" : "#777"),
                   class: known ? "seen" : "unseen" }, svg);
    }
  }
  const centre = ([y, x]) => [x * CELL + CELL / 2, y * CELL + CELL / 2];
  el("rect", { x: e.goal[1] * CELL + 2, y: e.goal[0] * CELL + 2, width: CELL - 4,
               height: CELL - 4, fill: "rgb(0,200,0)", id: "goal" }, svg);
  el("rect", { x: e.start[1] * CELL + 3, y: e.start[0] * CELL + 3, width: CELL - 6,
               height: CELL - 6, fill: "none", stroke: "#888", "stroke-width": 2 }, svg);
  const path = a.at.slice(0, t).map((p) => centre(p).join(",")).join(" ");
  el("polyline", { points: path, fill: "none", stroke: "rgb(90,130,255)", "stroke-width": 4,
                   "stroke-linejoin": "round", "stroke-opacity": 0.8, id: "path" }, svg);
  e.agents.forEach((other, k) => {
    if (k === viewer.agent) return;
    const [cx, cy] = centre(other.at[Math.min(t - 1, other.at.length - 1)]);
    el("circle", { cx, cy, r: CELL * 0.28, fill: COLOURS[k % COLOURS.length],
                   "fill-opacity": 0.6, class: "other" }, svg);
  });
  const [y, x] = a.at[t - 1];
  el("rect", { x: (x - RADIUS) * CELL, y: (y - RADIUS) * CELL, width: (2 * RADIUS + 1) * CELL,
               height: (2 * RADIUS + 1) * CELL, fill: "none", stroke: "rgb(255,200,0)",
               "stroke-width": 3 }, svg);
  const [cx, cy] = centre([y, x]);
  el("circle", { cx, cy, r: CELL * 0.36, fill: COLOURS[viewer.agent % COLOURS.length],
                 id: "walker" }, svg);
  for (const [ry, rx, weight] of viewer.reads) {
    const [px, py] = centre([ry, rx]);
    el("circle", { cx: px, cy: py, r: Math.max(2, CELL * 0.9 * Math.sqrt(weight)),
                   fill: "none", stroke: "magenta", "stroke-width": 2, class: "read" }, svg);
  }
}

function drawView(e, [y, x]) {
  const svg = $("view");
  svg.innerHTML = "";
  const size = 100 / (2 * RADIUS + 1);
  for (let dy = -RADIUS; dy <= RADIUS; dy++) {
    for (let dx = -RADIUS; dx <= RADIUS; dx++) {
      const goal = y + dy === e.goal[0] && x + dx === e.goal[1];
      el("rect", { x: (dx + RADIUS) * size, y: (dy + RADIUS) * size, width: size,
                   height: size, stroke: "#bbb", "stroke-width": 0.5,
                   fill: goal ? "rgb(0,200,0)" : isOpen(e, y + dy, x + dx) ? "#fff" : "#222",
                   class: "view-cell" }, svg);
    }
  }
  el("circle", { cx: 50, cy: 50, r: size * 0.3, fill: COLOURS[viewer.agent % COLOURS.length] },
     svg);
  const a = agent(), t = viewer.step;
  $("last-move").textContent = t === 1 ? "no move yet"
    : `last move: ${E.actions[a.actions[t - 2]]}${a.blocked[t - 2] ? " (blocked by a wall)" : ""}`;
}

function drawAction(a, t) {
  const svg = $("action");
  svg.innerHTML = "";
  const acting = t <= episode().steps;
  const probs = acting ? a.probabilities[t - 1] : E.actions.map(() => 0);
  const width = 200 / E.actions.length;
  probs.forEach((p, k) => {
    const chosen = acting && a.actions[t - 1] === k;
    el("rect", { x: k * width + 6, y: 70 - 65 * p, width: width - 12, height: 65 * p,
                 fill: chosen ? "#1f5fbf" : "#9bb8e6" }, svg);
    const label = el("text", { x: k * width + width / 2, y: 84, "text-anchor": "middle",
                               "font-size": 10 }, svg);
    label.textContent = `${E.actions[k]} ${(100 * p).toFixed(0)}%`;
  });
  const arrived = a.solved && t - 1 >= a.walked;
  $("chosen").textContent = !acting ? (a.solved ? "no more: it arrived" : "no more: out of steps")
    : arrived ? `${E.actions[a.actions[t - 1]]} (it has arrived and waits)`
    : E.actions[a.actions[t - 1]];
  $("ticks").textContent = acting ? a.certainty[t - 1].map((c) => c.toFixed(3)).join(" → ") : "—";
}

function drawMemory(a, t) {
  const list = $("reads");
  list.innerHTML = "";
  if (E.memory === "none") {
    $("memory").textContent = "no explicit memory: what it carries from step to step is its own "
      + "thinking (its state) only";
    return;
  }
  const age = t <= episode().steps && a.read_age.length ? a.read_age[t - 1] : undefined;
  if (age === undefined) {
    $("memory").textContent = "the episode is over";
  } else if (age === null) {
    $("memory").textContent = "the memory is empty: nothing has been written yet";
  } else {
    $("memory").textContent = `reads entries written ${age.toFixed(1)} steps back on average `
      + `(${E.memory} memory of ${E.slots} entries); where they were written, most weight first:`;
  }
  for (const [y, x, weight] of viewer.reads.slice(0, 6)) {
    const item = document.createElement("li");
    item.textContent = `row ${y}, column ${x}: ${(100 * weight).toFixed(1)}%`;
    list.appendChild(item);
  }
}

function drawCurve(a, t) {
  const svg = $("curve");
  svg.innerHTML = "";
  const last = a.certainty.map((ticks) => ticks[ticks.length - 1]);
  const n = Math.max(2, last.length);
  const px = (s) => 20 + 370 * s / (n - 1), py = (c) => 145 - 130 * c;
  el("line", { x1: 20, x2: 390, y1: py(0), y2: py(0), stroke: "#ccc" }, svg);
  el("line", { x1: 20, x2: 390, y1: py(1), y2: py(1), stroke: "#ccc" }, svg);
  el("polyline", { points: last.map((c, s) => `${px(s)},${py(c)}`).join(" "), fill: "none",
                   stroke: "#1f5fbf", "stroke-width": 1.5 }, svg);
  const at = px(Math.min(t - 1, n - 1));
  el("line", { x1: at, x2: at, y1: 10, y2: 150, stroke: "red", id: "now" }, svg);
}

function drawNeurons(a, t) {
  const svg = $("neurons");
  svg.innerHTML = "";
  const rows = a.activity.length ? a.activity[0].length : 0;
  const steps = a.activity.length;
  if (!rows) return;
  const w = 380 / steps, h = 150 / rows;
  for (let n = 0; n < rows; n++) {
    const values = a.activity.map((v) => v[n]);
    const lo = Math.min(...values), hi = Math.max(...values);
    values.forEach((v, s) => {
      const u = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      el("rect", { x: 10 + s * w, y: 5 + n * h, width: w + 0.3, height: h + 0.3,
                   fill: `rgb(${Math.round(255 * u)},${Math.round(90 + 60 * (1 - Math.abs(2 * u - 1)))},${Math.round(255 * (1 - u))})` },
         svg);
    });
  }
  const at = 10 + (Math.min(t, steps) - 0.5) * w;
  el("line", { x1: at, x2: at, y1: 0, y2: 160, stroke: "#000", "stroke-width": 1.5 }, svg);
}

function togglePlay() {
  if (timer !== null) {
    clearInterval(timer);
    timer = null;
    viewer.playing = false;
    $("play").textContent = "play";
    return;
  }
  if (viewer.step > episode().steps) show(1);
  viewer.playing = true;
  $("play").textContent = "pause";
  timer = setInterval(() => {
    if (viewer.step > episode().steps) { togglePlay(); return; }
    show(viewer.step + 1);
  }, 200);
}

start();
