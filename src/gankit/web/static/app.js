// gankit serve: the run list, and for a run its curves, epoch grids, generation, interpolation and
// nearest training images. Plain JavaScript; every request goes to this server.
"use strict";
const $ = (id) => document.getElementById(id);
let current = null;

function api(path) { return "/api/run/" + encodeURI(current.name) + path; }

function fmt(x) { return x === null || x === undefined ? "" : Number(x).toPrecision(4); }

function showError(message) { $("error").textContent = message || ""; }

async function loadImage(img, url) {
  // Fetch first, so a 400 shows its message instead of a broken image.
  const response = await fetch(url);
  if (!response.ok) { showError((await response.json()).error); return; }
  showError("");
  img.src = URL.createObjectURL(await response.blob());
  img.dataset.url = url;
}

function classQuery() {
  return !current.conditional || $("class").value === "" ? "" : "&class=" + $("class").value;
}

function drawCurves(curves) {
  const svg = $("curves");
  svg.innerHTML = "";
  const steps = curves.step, series = [["loss_d", "#c33"], ["loss_g", "#33c"]];
  const values = series.flatMap(([k]) => curves[k]).filter((v) => v !== null && isFinite(v));
  if (!steps.length || !values.length) return;
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)], [y0, y1] = [Math.min(...values), Math.max(...values)];
  const X = (x) => 40 + 370 * (x - x0) / Math.max(x1 - x0, 1e-9), Y = (y) => 200 - 185 * (y - y0) / Math.max(y1 - y0, 1e-9);
  const ns = "http://www.w3.org/2000/svg";
  series.forEach(([key, colour], i) => {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", steps.map((s, j) => X(s) + "," + Y(curves[key][j])).join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", colour);
    svg.appendChild(line);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 330); label.setAttribute("y", 20 + 14 * i); label.setAttribute("fill", colour);
    label.textContent = key; svg.appendChild(label);
  });
  [[y1, 18], [y0, 203]].forEach(([v, y]) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 2); t.setAttribute("y", y); t.setAttribute("font-size", "10"); t.textContent = fmt(v);
    svg.appendChild(t);
  });
}

function showEpoch() {
  const i = Number($("epoch").value), name = current.grids[i];
  if (!name) { $("epoch-label").textContent = "none yet"; return; }
  $("epoch-label").textContent = name.replace(".png", "").replace("_", " ");
  $("epoch-grid").src = "/files/" + encodeURI(current.name) + "/samples/" + name;
}

function generate(seed) {
  $("seed").textContent = seed;
  $("seed-input").value = seed;
  return loadImage($("generated"), api("/generate.png?n=16&seed=" + seed + classQuery()));
}

function interpolate() {
  const alpha = Number($("alpha").value) / 100;
  $("alpha-label").textContent = alpha.toFixed(2);
  return loadImage($("interpolated"), api("/interpolate.png?n=8&from=" + $("seed-a").value + "&to=" +
    $("seed-b").value + "&alpha=" + alpha + classQuery()));
}

async function openRun(summary, row) {
  document.querySelectorAll("#runs tr.selected").forEach((r) => r.classList.remove("selected"));
  row.classList.add("selected");
  $("sweep").hidden = true;
  const response = await fetch("/api/run/" + encodeURI(summary.name) + "/details");
  current = await response.json();
  $("run").hidden = false;
  $("run-title").textContent = current.name + " — " + current.model + " on " + current.data;
  drawCurves(current.curves);
  $("epoch").max = Math.max(current.grids.length - 1, 0);
  $("epoch").value = $("epoch").max;
  showEpoch();
  $("class-picker").hidden = !current.conditional;
  $("class").innerHTML = '<option value="">all</option>' + current.class_ids.map((id, i) =>
    '<option value="' + id + '">' + current.class_names[i] + "</option>").join("");
  $("neighbours").removeAttribute("src");
  await generate(Number($("seed-input").value) || 0);
  await interpolate();
}

function openSweep(sweep) {
  $("run").hidden = true;
  $("sweep").hidden = false;
  $("sweep-title").textContent = sweep.name + (sweep.title ? " — " + sweep.title : "");
  $("report").src = sweep.report ? "/files/" + encodeURI(sweep.name) + "/report.html" : "about:blank";
}

async function start() {
  const listing = await (await fetch("/api/runs")).json();
  $("root").textContent = listing.root;
  const body = document.querySelector("#runs tbody");
  listing.runs.forEach((summary) => {
    const row = document.createElement("tr");
    const metrics = Object.entries(summary.metrics).slice(0, 3).map(([k, v]) => k + " " + fmt(v)).join(", ");
    [summary.name, summary.model, summary.data, summary.epochs, summary.step, fmt(summary.loss_d),
     fmt(summary.loss_g), metrics].forEach((text) => {
      const cell = document.createElement("td"); cell.textContent = text; row.appendChild(cell);
    });
    row.addEventListener("click", () => openRun(summary, row));
    body.appendChild(row);
  });
  if (!listing.sweeps.length) $("sweeps").innerHTML = "<li>none (gankit sweep makes them)</li>";
  if (!listing.runs.length) body.innerHTML = '<tr><td colspan="8">no runs under this folder yet</td></tr>';
  listing.sweeps.forEach((sweep) => {
    const item = document.createElement("li"), link = document.createElement("a");
    link.href = "#"; link.textContent = sweep.name + (sweep.title ? " — " + sweep.title : "");
    link.addEventListener("click", (e) => { e.preventDefault(); openSweep(sweep); });
    item.appendChild(link); $("sweeps").appendChild(item);
  });
}

$("epoch").addEventListener("input", showEpoch);
$("generate").addEventListener("click", () => generate(Math.floor(Math.random() * 2147483647)));
$("seed-input").addEventListener("change", () => generate(Number($("seed-input").value)));
$("class").addEventListener("change", () => { generate(Number($("seed-input").value)); interpolate(); });
$("alpha").addEventListener("input", interpolate);
["seed-a", "seed-b"].forEach((id) => $(id).addEventListener("change", interpolate));
$("neighbours-button").addEventListener("click", () =>
  loadImage($("neighbours"), api("/neighbours.png?n=4&seed=" + ($("seed-input").value || 0) + classQuery())));
start();
