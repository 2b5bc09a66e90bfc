// The CTM thought viewer: runs the exported model in the page (onnxruntime-web, WebAssembly)
// or replays precomputed outputs (static pages), and draws one tick at a time. Everything it
// needs is in the folder: the runtime, the model and the examples are scripts, so the page
// works from a web server and from the file system alike.
"use strict";

const D = window.CTM_DATA;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const viewer = { ready: false, tick: 1, threshold: 0.8, exitReads: "mean", example: 0,
                 input: null, out: null, runs: 0, lastRunMs: null, error: null };
window.ctmViewer = viewer;
let session = null;
let timer = null;

function bytes(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

async function start() {
  try {
    if (!D.static) {
      ort.env.wasm.numThreads = 1;  // no cross-origin isolation from a file or a plain server
      ort.env.wasm.wasmBinary = bytes(window.CTM_ORT_WASM);
      ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(
        new Blob([window.CTM_ORT_GLUE], { type: "text/javascript" })) };
      session = await ort.InferenceSession.create(bytes(window.CTM_MODEL),
                                                  { executionProviders: ["wasm"] });
    }
    $("title").textContent = D.title;
    const picker = $("example");
    D.examples.forEach((e, i) => picker.add(new Option(e.title, String(i))));
    picker.addEventListener("change", () => select(Number(picker.value)));
    $("tick").max = String(D.ticks);
    $("tick").addEventListener("input", () => setTick(Number($("tick").value)));
    $("threshold").addEventListener("input", () => setThreshold(Number($("threshold").value)));
    // with one output the least certain is the mean: nothing to choose
    $("exit-reads-label").hidden = D.groups[0] < 2;
    $("exit-reads").addEventListener("change", () => {
      viewer.exitReads = $("exit-reads").value;
      setThreshold(viewer.threshold);
    });
    $("play").addEventListener("click", togglePlay);
    $("edit-help").textContent = D.static ? "static page: precomputed examples only"
      : D.kind === "bits" ? "click a bit to flip it; the model thinks again"
      : D.kind === "image" ? "draw on the image (drag); the model thinks again on release"
      : D.kind === "maze" ? "click a cell to add or remove a wall; drag the start (red) or goal (green)"
      : D.kind === "sudoku" ? "click a cell to change its given digit (empty, 1, 2, …); the model thinks again" : "";
    await select(0);
    $("status").textContent = D.static ? "static page: outputs precomputed by PyTorch"
      : "running in this page with onnxruntime-web (WebAssembly)";
    viewer.ready = true;
  } catch (error) {
    viewer.error = String(error);
    $("status").textContent = "could not start: " + error;
  }
}

async function select(index) {
  viewer.example = index;
  if (D.kind === "maze") {
    viewer.maze = JSON.parse(JSON.stringify(D.examples[index].maze));
    viewer.journey = [];  // positions walked by earlier applications (teleports)
    viewer.hops = 0;
    viewer.hopNote = "";
    viewer.input = mazeInput();
  } else if (D.kind === "sudoku") {
    viewer.grid = D.examples[index].grid.map((row) => row.slice());
    viewer.edited = false;
    viewer.input = sudokuInput();
  } else {
    viewer.input = D.examples[index].input.flat(Infinity);
  }
  await think(D.examples[index].outputs);
}

// --- mazes: the image is rebuilt from the maze as ctm.tasks.maze.image_tensor builds it --------

const MOVES = [[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]];  // U D L R W

function mazeInput() {
  const [, height, width] = D.input_shape;
  const m = viewer.maze;
  const input = new Array(3 * height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    let rgb = m.open[y][x] ? [1, 1, 1] : [-1, -1, -1];
    if (y === m.start[0] && x === m.start[1]) rgb = [1, -1, -1];
    else if (y === m.goal[0] && x === m.goal[1]) rgb = [-1, 1, -1];
    for (let c = 0; c < 3; c++) input[c * height * width + y * width + x] = rgb[c];
  }
  return input;
}

// Walk the moves from the start as ctm.tasks.maze.data.follow does.
function follow(moves) {
  const m = viewer.maze;
  const [height, width] = [m.open.length, m.open[0].length];
  let at = m.start.slice();
  const path = [at.slice()];
  for (let k = 0; k < moves.length; k++) {
    if (at[0] === m.goal[0] && at[1] === m.goal[1]) return { solved: true, path, used: k };
    const next = [at[0] + MOVES[moves[k]][0], at[1] + MOVES[moves[k]][1]];
    if (next[0] < 0 || next[1] < 0 || next[0] >= height || next[1] >= width || !m.open[next[0]][next[1]])
      return { solved: false, path, used: k, blocked: next };
    at = next;
    path.push(at.slice());
  }
  return { solved: at[0] === m.goal[0] && at[1] === m.goal[1], path, used: moves.length };
}

// Teleport, as `ctm eval` re-applies the model to mazes larger than its route: the start moves
// to where the most certain tick's route ends (before any wall), and the model thinks again.
// Returns whether the start moved.
async function teleport() {
  const walk = follow(predictionAt(viewer.mostCertain));
  const end = walk.path[walk.path.length - 1];
  const m = viewer.maze;
  if (walk.solved || (end[0] === m.start[0] && end[1] === m.start[1])) return false;
  viewer.journey.push(...walk.path.slice(0, -1));
  m.start = end.slice();
  viewer.hops += 1;
  viewer.input = mazeInput();
  await think(null);
  return true;
}

// Teleport until the most certain route reaches the goal, stops moving, or `limit` hops.
async function autoSolve(limit = 20) {
  let moved = true;
  while (moved && viewer.hops < limit && !follow(predictionAt(viewer.mostCertain)).solved) {
    moved = await teleport();
  }
  const done = follow(predictionAt(viewer.mostCertain)).solved;
  viewer.hopNote = done ? `reaches the goal after ${viewer.hops} teleport(s)`
    : `stuck after ${viewer.hops} teleport(s): the route ${moved ? "is still short of the goal" : "no longer moves"}`;
  setTick(viewer.tick);
  return done;
}

async function editMaze(y, x, what) {
  const m = viewer.maze;
  const isStart = y === m.start[0] && x === m.start[1];
  const isGoal = y === m.goal[0] && x === m.goal[1];
  if (what === "wall") {
    if (isStart || isGoal) return;
    m.open[y][x] = !m.open[y][x];
  } else {
    if (!m.open[y][x] || isStart || isGoal) return;  // an endpoint goes on an open cell
    m[what] = [y, x];
  }
  viewer.input = mazeInput();
  await think(null);
}

// --- sudoku: the cell tokens are rebuilt from the grid as ctm.tasks.sudoku.tokens builds them --

function sudokuInput() {
  const g = viewer.grid, n = g.length, width = 4 * n + 1;
  const [boxRows, boxCols] = D.box;
  const input = new Array(n * n * width).fill(0);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    const base = (r * n + c) * width;
    const box = Math.floor(r / boxRows) * (n / boxCols) + Math.floor(c / boxCols);
    input[base + g[r][c]] = 1;  // digit, 0 for empty
    input[base + n + 1 + r] = 1;
    input[base + 2 * n + 1 + c] = 1;
    input[base + 3 * n + 1 + box] = 1;
  }
  return input;
}

// The grid with the model's digits in the empty cells, which cells repeat a digit of their
// row, column or box, and (for a puzzle as generated, not edited) which are right.
function sudokuFill(picks) {
  const g = viewer.grid, n = g.length, [boxRows, boxCols] = D.box;
  const filled = g.map((row, r) => row.map((v, c) => v || picks[r * n + c] + 1));
  const repeats = (r, c) => {
    const v = filled[r][c];
    for (let k = 0; k < n; k++) {
      if ((k !== c && filled[r][k] === v) || (k !== r && filled[k][c] === v)) return true;
    }
    const [r0, c0] = [r - r % boxRows, c - c % boxCols];
    for (let y = r0; y < r0 + boxRows; y++) for (let x = c0; x < c0 + boxCols; x++) {
      if ((y !== r || x !== c) && filled[y][x] === v) return true;
    }
    return false;
  };
  const clash = filled.map((row, r) => row.map((_, c) => repeats(r, c)));
  const solution = viewer.edited ? null : D.examples[viewer.example].solution;
  let empty = 0, right = 0, clashes = 0, any = false;
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    any = any || clash[r][c];
    if (g[r][c]) continue;
    empty += 1;
    if (solution && filled[r][c] === solution[r][c]) right += 1;
    if (clash[r][c]) clashes += 1;
  }
  // no digit twice in any unit: a valid completion, so the solution of the givens shown
  return { filled, clash, solution, empty, clashes, right: solution ? right : null, solved: !any };
}

async function editSudoku(r, c) {
  viewer.grid[r][c] = (viewer.grid[r][c] + 1) % (viewer.grid.length + 1);
  viewer.edited = true;
  viewer.input = sudokuInput();
  await think(null);
}

// Run the model on viewer.input (or take precomputed outputs), then draw.
async function think(precomputed) {
  if (precomputed) {
    viewer.out = precomputed;
  } else {
    const x = new ort.Tensor("float32", Float32Array.from(viewer.input), [1, ...D.input_shape]);
    const started = performance.now();
    const result = await session.run({ x });
    viewer.lastRunMs = performance.now() - started;
    viewer.runs += 1;
    viewer.out = {};
    for (const name of D.outputs) viewer.out[name] = Array.from(result[name].data);
    $("latency").textContent = `last thought: ${viewer.lastRunMs.toFixed(1)} ms for ${D.ticks} ` +
      `ticks (${(viewer.lastRunMs / D.ticks).toFixed(2)} ms per tick) in this browser`;
  }
  viewer.mostCertain = argmax(viewer.out.certainty) + 1;
  viewer.leastCertainty = leastCertainty();  // once a thought: every tick and threshold reads it
  setTick(viewer.tick > D.ticks ? D.ticks : viewer.tick);
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// The prediction at tick t (1-based): the most likely class of each output group.
function predictionAt(t) {
  const [groups, classes] = D.groups;
  const row = viewer.out.logits.slice((t - 1) * groups * classes, t * groups * classes);
  const picks = [];
  for (let g = 0; g < groups; g++) picks.push(argmax(row.slice(g * classes, (g + 1) * classes)));
  return picks;
}

// Per tick, the certainty of the least certain output group: 1 - its entropy / log(classes),
// as ctm.model.least_certainty computes it (`ctm eval --halt-certainty least`).
function leastCertainty() {
  const [groups, classes] = D.groups;
  const logits = viewer.out.logits;
  const least = [];
  for (let t = 0; t < D.ticks; t++) {
    let lowest = 1;
    for (let g = 0; g < groups; g++) {
      const start = (t * groups + g) * classes;
      const row = logits.slice(start, start + classes);
      const top = Math.max(...row);
      const weights = row.map((v) => Math.exp(v - top));
      const total = weights.reduce((a, b) => a + b, 0);
      let entropy = 0;
      for (const w of weights) if (w > 0) entropy -= (w / total) * Math.log(w / total);
      lowest = Math.min(lowest, 1 - entropy / Math.log(classes));
    }
    least.push(lowest);
  }
  return least;
}

function exitTick() {
  const c = viewer.exitReads === "least" ? viewer.leastCertainty : viewer.out.certainty;
  for (let t = 0; t < c.length; t++) if (c[t] >= viewer.threshold) return t + 1;
  return null;
}

function describe(picks) {
  if (D.kind === "bits") return picks.map((p) => (p ? "1" : "0")).join("");
  if (D.kind === "maze") {
    const walk = follow(picks);
    if (walk.used === 0) {
      return walk.solved ? "is already at the goal"
        : `does not move: its first move, ${D.class_names[picks[0]]}, runs into a wall`;
    }
    const moves = picks.slice(0, walk.used).map((p) => D.class_names[p]).join("");
    return `${walk.solved ? "reaches the goal" : "does not reach the goal"} in ${walk.used} moves: ${moves}`;
  }
  if (D.kind === "sudoku") {
    const f = sudokuFill(picks);
    if (f.solved) return `solved: ${f.empty} empty cells filled, no digit repeated`;
    return `${f.clashes} of ${f.empty} filled cells repeat a digit` +
      (f.right === null ? "" : `; ${f.right} of ${f.empty} right`);
  }
  return picks.map((p) => D.class_names[p] ?? String(p)).join(" ");
}

function setTick(t) {
  viewer.tick = t;
  $("tick").value = String(t);
  $("tick-label").textContent = `${t} of ${D.ticks}`;
  const picks = predictionAt(t);
  viewer.moves = picks;
  viewer.prediction = describe(picks);
  if (D.kind === "maze") {
    const walk = follow(picks);
    viewer.solved = walk.solved;
    viewer.route = walk.path;
  }
  if (D.kind === "sudoku") {
    viewer.fill = sudokuFill(picks);  // drawn below
    viewer.solved = viewer.fill.solved;
  }
  viewer.certainty = viewer.out.certainty[t - 1];
  $("prediction").textContent = viewer.prediction;
  $("certainty").textContent = viewer.certainty.toFixed(4);
  setThreshold(viewer.threshold, true);
  drawInput(picks);
  drawCurve();
  drawTraces();
  drawSync();
}

function setThreshold(value, quiet) {
  viewer.threshold = value;
  $("threshold").value = String(value);
  $("threshold-label").textContent = value.toFixed(2);
  const k = exitTick();
  viewer.exitTick = k;
  $("exit").textContent = k === null
    ? `never reaches certainty ${value.toFixed(2)}: it would think all ${D.ticks} ticks`
    : `early exit at ${value.toFixed(2)} stops at tick ${k} of ${D.ticks}, answering ` +
      describe(predictionAt(k));
  if (!quiet) drawCurve();
}

function togglePlay() {
  if (timer) { clearInterval(timer); timer = null; $("play").textContent = "play"; return; }
  $("play").textContent = "pause";
  timer = setInterval(() => setTick(viewer.tick >= D.ticks ? 1 : viewer.tick + 1), 250);
}

// Attention of each head at this tick over the input's tokens: (heads, tokens).
function attentionAt(t) {
  if (!viewer.out.attention) return null;
  const n = D.tokens[0] * D.tokens[1];
  const start = (t - 1) * D.heads * n;
  const rows = [];
  for (let h = 0; h < D.heads; h++) rows.push(viewer.out.attention.slice(start + h * n, start + (h + 1) * n));
  return rows;
}

function heat(value) {  // 0..1 -> a warm colour with that opacity
  return `rgba(255, 120, 0, ${Math.min(1, Math.max(0, value)).toFixed(3)})`;
}

function drawInput(picks) {
  const box = $("input");
  box.replaceChildren();
  const attention = attentionAt(viewer.tick);
  if (D.kind === "bits") {
    const mean = attention ? attention[0].map((_, i) => attention.reduce((s, r) => s + r[i], 0) / attention.length) : null;
    const top = mean ? Math.max(...mean) : 1;
    const row = document.createElement("div");
    row.className = "bits";
    viewer.input.forEach((v, i) => {
      const cell = document.createElement("div");
      cell.className = "bit";
      cell.dataset.index = String(i);
      cell.textContent = v > 0 ? "+" : "−";
      if (mean) cell.style.background = heat(mean[i] / top);
      if (!D.static) cell.addEventListener("click", () => flip(i));
      row.append(cell);
    });
    // right against the true cumulative parity of the bits as they are now (edited or not)
    let odd = 0;
    viewer.correct = picks.map((p, i) => { odd ^= viewer.input[i] < 0 ? 1 : 0; return p === odd; });
    const out = document.createElement("div");
    out.className = "bits";
    picks.forEach((p, i) => {
      const cell = document.createElement("div");
      cell.className = "bit";
      cell.textContent = p ? "1" : "0";
      cell.classList.add(viewer.correct[i] ? "right" : "wrong");
      out.append(cell);
    });
    box.append("input (shaded: attention, mean over heads)", row);
    (attention || []).forEach((weights, h) => {
      const head = document.createElement("div");
      head.className = "bits";
      const most = Math.max(...weights);
      weights.forEach((w) => {
        const cell = document.createElement("div");
        cell.className = "bit head";
        cell.style.background = heat(w / most);
        head.append(cell);
      });
      box.append(`head ${h + 1}`, head);
    });
    box.append("output per position (green: right)", out);
    return;
  }
  if (D.kind === "maze") {
    drawMaze(box, attention);
    return;
  }
  if (D.kind === "sudoku") {
    drawSudoku(box, attention);
    return;
  }
  if (D.kind === "image") {
    const [channels, height, width] = D.input_shape;
    const scale = Math.max(1, Math.floor(160 / Math.max(height, width)));
    const panels = [null, ...(attention || [])];
    panels.forEach((weights, h) => {
      const canvas = document.createElement("canvas");
      canvas.width = width; canvas.height = height;
      canvas.style.width = `${width * scale}px`; canvas.style.height = `${height * scale}px`;
      canvas.title = h === 0 ? "input (drag to draw)" : `head ${h}`;
      const ctx = canvas.getContext("2d");
      const image = ctx.createImageData(width, height);
      const top = weights ? Math.max(...weights) : 1;
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
        let grey = 0;
        for (let c = 0; c < channels; c++) grey += viewer.input[c * height * width + y * width + x];
        grey = Math.round(255 * (grey / channels + 1) / 2);
        let [r, g, b] = [grey, grey, grey];
        if (weights) {
          const ty = Math.floor(y * D.tokens[0] / height), tx = Math.floor(x * D.tokens[1] / width);
          const a = weights[ty * D.tokens[1] + tx] / top;
          r = Math.round(r * (1 - a) + 255 * a); g = Math.round(g * (1 - a) + 120 * a); b = Math.round(b * (1 - a));
        }
        const k = 4 * (y * width + x);
        image.data[k] = r; image.data[k + 1] = g; image.data[k + 2] = b; image.data[k + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
      if (h === 0 && !D.static) enableDrawing(canvas, scale, width, height, channels);
      box.append(canvas);
    });
    if (!D.static) {
      const clear = document.createElement("button");
      clear.type = "button";
      clear.id = "clear";
      clear.textContent = "clear (draw your own)";
      clear.addEventListener("click", async () => { viewer.input = viewer.input.map(() => -1); await think(null); });
      box.append(document.createElement("br"), clear);
    }
  }
}

function drawMaze(box, attention) {
  const m = viewer.maze;
  const [height, width] = [m.open.length, m.open[0].length];
  const scale = Math.max(4, Math.floor(300 / Math.max(height, width)));
  const canvas = document.createElement("canvas");
  canvas.id = "maze";
  canvas.width = width * scale; canvas.height = height * scale;
  const ctx = canvas.getContext("2d");
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    ctx.fillStyle = m.open[y][x] ? "#fff" : "#111";
    ctx.fillRect(x * scale, y * scale, scale, scale);
  }
  ctx.fillStyle = "rgba(120, 120, 160, 0.45)";  // walked before the last teleport
  viewer.journey.forEach(([y, x]) => ctx.fillRect(x * scale, y * scale, scale, scale));
  ctx.fillStyle = "rgba(60, 120, 255, 0.45)";
  viewer.route.forEach(([y, x]) => ctx.fillRect(x * scale, y * scale, scale, scale));
  ctx.strokeStyle = "#1f5fbf"; ctx.lineWidth = Math.max(2, scale / 5);
  ctx.beginPath();
  viewer.route.forEach(([y, x], k) => {
    const [cx, cy] = [(x + 0.5) * scale, (y + 0.5) * scale];
    if (k === 0) ctx.moveTo(cx, cy); else ctx.lineTo(cx, cy);
  });
  ctx.stroke();
  const walk = follow(viewer.moves);
  if (walk.blocked) {  // where the route runs into a wall
    ctx.strokeStyle = "#d00"; ctx.lineWidth = 2;
    const [y, x] = walk.blocked;
    ctx.strokeRect(x * scale + 2, y * scale + 2, scale - 4, scale - 4);
  }
  ctx.fillStyle = "#e00"; ctx.fillRect(m.start[1] * scale, m.start[0] * scale, scale, scale);
  ctx.fillStyle = "#0b0"; ctx.fillRect(m.goal[1] * scale, m.goal[0] * scale, scale, scale);
  if (!D.static) {
    let dragging = null;
    const cell = (event) => {
      const rect = canvas.getBoundingClientRect();
      return [Math.floor((event.clientY - rect.top) / rect.height * height),
              Math.floor((event.clientX - rect.left) / rect.width * width)];
    };
    canvas.addEventListener("pointerdown", (event) => {
      const [y, x] = cell(event);
      dragging = y === m.start[0] && x === m.start[1] ? "start"
        : y === m.goal[0] && x === m.goal[1] ? "goal" : null;
      if (!dragging) editMaze(y, x, "wall");
    });
    canvas.addEventListener("pointerup", (event) => {
      if (!dragging) return;
      const [y, x] = cell(event);
      const what = dragging;
      dragging = null;
      editMaze(y, x, what);
    });
  }
  const heads = document.createElement("div");
  (attention || []).forEach((weights, h) => {
    const small = document.createElement("canvas");
    const s = Math.max(2, Math.floor(scale / 2));
    small.width = width * s; small.height = height * s;
    small.title = `head ${h + 1}`;
    const c = small.getContext("2d");
    const top = Math.max(...weights);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      c.fillStyle = m.open[y][x] ? "#fff" : "#333";
      c.fillRect(x * s, y * s, s, s);
      const ty = Math.floor(y * D.tokens[0] / height), tx = Math.floor(x * D.tokens[1] / width);
      c.fillStyle = heat(weights[ty * D.tokens[1] + tx] / top);
      c.fillRect(x * s, y * s, s, s);
    }
    heads.append(small);
  });
  box.append(canvas, document.createElement("br"));
  if (!D.static) {
    const hop = document.createElement("button");
    hop.type = "button"; hop.id = "teleport"; hop.textContent = "teleport";
    hop.title = "start again from where the most certain route ends";
    hop.addEventListener("click", async () => { viewer.hopNote = ""; await teleport(); });
    const solve = document.createElement("button");
    solve.type = "button"; solve.id = "auto-solve"; solve.textContent = "auto-solve";
    solve.title = "teleport until the route reaches the goal";
    solve.addEventListener("click", () => autoSolve());
    const note = document.createElement("span");
    note.id = "hops";
    note.textContent = ` ${viewer.hops} teleport(s) so far (grey: walked before)` +
      (viewer.hopNote ? `; ${viewer.hopNote}` : "");
    box.append(hop, solve, note, document.createElement("br"));
  }
  box.append("attention of each head:", heads);
}

function drawSudoku(box, attention) {
  const g = viewer.grid, n = g.length, [boxRows, boxCols] = D.box;
  const f = viewer.fill;
  const mean = attention
    ? attention[0].map((_, i) => attention.reduce((s, row) => s + row[i], 0) / attention.length) : null;
  const top = mean ? Math.max(...mean) : 1;
  const grid = document.createElement("div");
  grid.className = "sudoku";
  grid.id = "sudoku";
  grid.style.gridTemplateColumns = `repeat(${n}, 2rem)`;
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    const cell = document.createElement("div");
    cell.className = "cell";
    cell.dataset.cell = String(r * n + c);
    cell.textContent = String(f.filled[r][c]);
    if (g[r][c]) cell.classList.add("given");
    else if (f.solution) cell.classList.add(f.filled[r][c] === f.solution[r][c] ? "right" : "wrong");
    else if (f.clash[r][c]) cell.classList.add("wrong");
    if (c % boxCols === boxCols - 1 && c < n - 1) cell.classList.add("box-right");
    if (r % boxRows === boxRows - 1 && r < n - 1) cell.classList.add("box-bottom");
    if (mean) cell.style.background = heat(0.6 * mean[r * n + c] / top);  // digits stay legible
    if (!D.static) cell.addEventListener("click", () => editSudoku(r, c));
    grid.append(cell);
  }
  const key = viewer.edited ? "red: repeats a digit of its row, column or box"
    : "green/red: right/wrong";
  box.append(`bold: givens; the model's digits at this tick (${key})` +
             (mean ? "; shaded: attention, mean over heads" : ""), grid);
}

async function flip(i) {
  viewer.input[i] = -viewer.input[i];
  await think(null);
}

function enableDrawing(canvas, scale, width, height, channels) {
  let drawing = false;
  const paint = (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = Math.floor((event.clientX - rect.left) / rect.width * width);
    const y = Math.floor((event.clientY - rect.top) / rect.height * height);
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    for (let c = 0; c < channels; c++) viewer.input[c * height * width + y * width + x] = 1;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(x, y, 1, 1);
  };
  canvas.addEventListener("pointerdown", (e) => { drawing = true; paint(e); });
  canvas.addEventListener("pointermove", (e) => { if (drawing) paint(e); });
  canvas.addEventListener("pointerup", async () => { drawing = false; await think(null); });
  void scale;
}

function svgLine(svg, points, colour, width = 1.5, dash = "") {
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", colour);
  line.setAttribute("stroke-width", String(width));
  if (dash) line.setAttribute("stroke-dasharray", dash);
  svg.append(line);
}

function xOf(t, w) { return 10 + (w - 20) * (D.ticks === 1 ? 0.5 : (t - 1) / (D.ticks - 1)); }

function drawCurve() {
  const svg = $("curve");
  svg.replaceChildren();
  const [w, h] = [400, 160];
  const y = (v) => h - 10 - (h - 20) * v;
  svgLine(svg, viewer.out.certainty.map((c, i) => [xOf(i + 1, w), y(c)]), "#1f5fbf", 2);
  if (D.groups[0] > 1) {
    svgLine(svg, viewer.leastCertainty.map((c, i) => [xOf(i + 1, w), y(c)]), "#e08000", 1.5);
  }
  svgLine(svg, [[10, y(viewer.threshold)], [w - 10, y(viewer.threshold)]], "#888", 1, "4 3");
  svgLine(svg, [[xOf(viewer.tick, w), 5], [xOf(viewer.tick, w), h - 5]], "#d00", 1);
  const dot = document.createElementNS(SVG, "circle");
  dot.setAttribute("cx", String(xOf(viewer.mostCertain, w)));
  dot.setAttribute("cy", String(y(viewer.out.certainty[viewer.mostCertain - 1])));
  dot.setAttribute("r", "4");
  dot.setAttribute("fill", "#1f5fbf");
  dot.id = "most-certain";
  svg.append(dot);
}

function drawTraces() {
  const svg = $("traces");
  svg.replaceChildren();
  const post = viewer.out.post_activations;
  if (!post) return;
  const d = post.length / D.ticks;
  const shown = Math.min(8, d);
  const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  for (let n = 0; n < shown; n++) {
    const neuron = Math.floor(n * d / shown);
    const values = [];
    for (let t = 0; t < D.ticks; t++) values.push(post[t * d + neuron]);
    const lo = Math.min(...values), hi = Math.max(...values), band = 140 / shown;
    svgLine(svg, values.map((v, t) => [xOf(t + 1, 400),
      10 + band * n + band * 0.9 * (hi > lo ? (hi - v) / (hi - lo) : 0.5)]), colours[n], 1.2);
  }
  svgLine(svg, [[xOf(viewer.tick, 400), 5], [xOf(viewer.tick, 400), 155]], "#d00", 1);
}

function drawSync() {
  const svg = $("sync");
  svg.replaceChildren();
  const sync = viewer.out.sync_out;
  if (!sync) return;
  const p = sync.length / D.ticks;
  const shown = Math.min(48, p);
  const row = sync.slice((viewer.tick - 1) * p, (viewer.tick - 1) * p + shown);
  const top = Math.max(1e-6, ...row.map(Math.abs));
  const width = 380 / shown;
  row.forEach((v, i) => {
    const bar = document.createElementNS(SVG, "rect");
    const height = 50 * Math.abs(v) / top;
    bar.setAttribute("x", String(10 + i * width));
    bar.setAttribute("y", String(v >= 0 ? 60 - height : 60));
    bar.setAttribute("width", String(Math.max(1, width - 1)));
    bar.setAttribute("height", String(height));
    bar.setAttribute("fill", v >= 0 ? "#2ca02c" : "#d62728");
    svg.append(bar);
  });
}

viewer.setTick = setTick;
viewer.setThreshold = setThreshold;
viewer.select = select;
viewer.flip = flip;
viewer.editMaze = editMaze;
viewer.teleport = teleport;
viewer.describe = describe;
viewer.autoSolve = autoSolve;
viewer.editSudoku = editSudoku;
viewer.think = () => think(null);
start();
