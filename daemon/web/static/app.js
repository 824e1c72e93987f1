// sitewatch's page: polls the JSON API (no framework, no build step). The live view asks for a fresh
// JPEG once a second per camera while the tab is visible; the server draws at most two a second.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
};
const enc = encodeURIComponent;
let cameras = [];

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function ruleLine(rule) {
  let state = rule.on ? ["on", `ALERT (${rule.active})`] : ["off", "clear"];
  if (!rule.enabled) state = ["paused", "off"];
  else if (rule.snoozed) state = ["paused", "snoozed"];
  if (rule.counts) state = ["off", Object.entries(rule.counts).map(([k, v]) => `${k} ${v}`).join(" · ")];
  return el("li", {}, el("span", {}, `${rule.name} `, el("span", { class: "muted" }, rule.kind)),
    el("span", { class: `pill ${state[0]}` }, state[1]));
}

function renderCameras() {
  const grid = $("#cameras");
  for (const cam of cameras) {
    let card = grid.querySelector(`[data-camera="${CSS.escape(cam.name)}"]`);
    if (!card) {
      card = el("div", { class: "camera", "data-camera": cam.name },
        el("img", { alt: `live view of ${cam.name}` }), el("div", { class: "meta" }));
      grid.append(card);
    }
    const meta = card.querySelector(".meta");
    meta.replaceChildren(
      el("h3", {}, cam.name, el("span", { class: `badge ${cam.state}` }, cam.state)),
      el("div", { class: "muted" }, `${cam.fps.toFixed(1)} fps · ${cam.frames} frames · ${cam.dropped} dropped`),
      el("ul", { class: "rules" }, ...cam.rules.map(ruleLine)));
  }
  const select = $("#ed-camera");
  if (select.options.length !== cameras.length) {
    select.replaceChildren(...cameras.map((c) => el("option", { value: c.name }, c.name)));
  }
}

function refreshFrames() {
  if (document.hidden) return;
  for (const img of document.querySelectorAll(".camera img")) {
    const name = img.parentElement.dataset.camera;
    img.src = `/api/cameras/${enc(name)}/frame.jpg?t=${Date.now()}`;
  }
}

function play(alertId) {
  const video = $("#player-video");
  video.src = `/api/clips/${alertId}.mp4`;
  $("#player").showModal();
}

async function renderAlerts() {
  const events = await getJSON("/api/events?limit=200");
  const ended = new Set(events.filter((e) => e.type === "end").map((e) => e.alert_id));
  const starts = events.filter((e) => e.type === "start").slice(0, 50);
  const rows = starts.map((e) => el("tr", { "data-alert": e.alert_id },
    el("td", {}, new Date(e.started_at).toLocaleTimeString()),
    el("td", {}, e.camera), el("td", {}, e.rule.name),
    el("td", {}, e.track_id ? `${e.label} #${e.track_id}` : (e.label || "")),
    el("td", {}, ended.has(e.alert_id) ? "ended" : "active"),
    el("td", {}, e.snapshot ? el("a", { href: `/api/snapshots/${e.alert_id}.jpg`, target: "_blank" },
      el("img", { src: `/api/snapshots/${e.alert_id}.jpg`, alt: "snapshot", loading: "lazy" })) : ""),
    el("td", {}, e.clip ? el("button", { onclick: () => play(e.alert_id) }, "play") : "")));
  $("#alerts tbody").replaceChildren(...rows);
  $("#no-alerts").hidden = rows.length > 0;
}

async function refresh() {
  try {
    cameras = await getJSON("/api/cameras");
    renderCameras();
    await renderAlerts();
    $("#status").textContent = `${cameras.length} camera(s) · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("#status").textContent = `cannot reach the daemon: ${err.message}`;
  }
}

// --- the zone and line editor: points are kept as fractions of the frame (units = "normalized") ----
const editor = { points: [], image: null };

function drawEditor() {
  const canvas = $("#ed-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (editor.image) ctx.drawImage(editor.image, 0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#ffb000"; ctx.fillStyle = "#ffb000"; ctx.lineWidth = 2;
  ctx.beginPath();
  editor.points.forEach(([x, y], i) => {
    const px = x * canvas.width, py = y * canvas.height;
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  if ($("#ed-kind").value === "zones" && editor.points.length > 2) ctx.closePath();
  ctx.stroke();
  for (const [x, y] of editor.points) ctx.fillRect(x * canvas.width - 3, y * canvas.height - 3, 6, 6);
  const kind = $("#ed-kind").value;
  const name = $("#ed-name").value.trim() || "unnamed";
  const pts = editor.points.map(([x, y]) => `[${x.toFixed(3)}, ${y.toFixed(3)}]`).join(", ");
  const need = kind === "zones" ? 3 : 2;
  $("#ed-toml").textContent = editor.points.length < need
    ? `# click ${need - editor.points.length} more point(s)`
    : `# under the [[cameras]] entry of ${$("#ed-camera").value}\n[cameras.${kind}.${name}]\npoints = [${pts}]\n`;
}

$("#ed-canvas").addEventListener("click", (ev) => {
  const canvas = ev.currentTarget;
  const rect = canvas.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width));
  const y = Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height));
  if ($("#ed-kind").value === "lines" && editor.points.length >= 2) editor.points = [];
  editor.points.push([x, y]);
  drawEditor();
});
$("#ed-grab").addEventListener("click", () => {
  const image = new Image();
  image.onload = () => {
    const canvas = $("#ed-canvas");
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    editor.image = image; drawEditor();
  };
  image.src = `/api/cameras/${enc($("#ed-camera").value)}/frame.jpg?t=${Date.now()}`;
});
$("#ed-undo").addEventListener("click", () => { editor.points.pop(); drawEditor(); });
$("#ed-clear").addEventListener("click", () => { editor.points = []; drawEditor(); });
for (const id of ["#ed-kind", "#ed-name", "#ed-camera"]) $(id).addEventListener("input", drawEditor);

refresh().then(refreshFrames);
setInterval(refresh, 2000);
setInterval(refreshFrames, 1000);
