// vqual's page: upload files to /v1/score one at a time and show each result. Plain JS, no dependencies.
"use strict";

const LEVEL_COLOURS = {excellent: "#1a8f4c", good: "#5aa83c", fair: "#c79a12", poor: "#d4691c", bad: "#c4302b"};
const REASONS = {
  not_media: "This file is not an image or a video that vqual can read.",
  too_large: "This file is too large for this server.",
  too_many_files: "Too many files in one go.",
  too_small: "This picture is too small to judge.",
  truncated: "This file is cut short (truncated).",
  corrupt: "This file is damaged.",
  empty: "This file is empty.",
  unsupported_codec: "This video uses a codec that cannot be decoded here.",
  no_frames: "This video has no frames.",
  queue_full: "The server is busy; trying again.",
  timeout: "Scoring took too long and was stopped.",
  unauthorized: "This server needs a token: type it above and drop the file again.",
  cannot_explain: "This server's model cannot explain its results.",
  network: "The server could not be reached.",
};
const $ = (sel, el = document) => el.querySelector(sel);
let queue = Promise.resolve();
let serving = null;

function fmt(x, d = 2) { return Number(x).toFixed(d); }

function bars(el, entries, colour) {
  el.textContent = "";
  for (const [name, value] of entries) {
    const row = document.createElement("div");
    row.className = "bar";
    row.setAttribute("role", "img");
    row.setAttribute("aria-label", `${name}: ${Math.round(value * 100)} percent`);
    row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="val"></span>';
    $(".label", row).textContent = name;
    $(".fill", row).style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
    if (colour) $(".fill", row).style.background = colour(name);
    $(".val", row).textContent = `${Math.round(value * 100)}%`;
    el.appendChild(row);
  }
}

// Go to second `second` (starting at `t` s): the preview seeks there when this browser can play the video, and the
// timeline point and worst-second button of that second are marked either way.
function seek(card, video, t, second) {
  for (const el of card.querySelectorAll(".timeline [data-second], .worst [data-second]")) {
    const on = el.dataset.second === String(second);
    el.classList.toggle("current", on);
    if (el.tagName === "BUTTON") el.setAttribute("aria-pressed", String(on));
  }
  video.currentTime = t;  // harmless on a video that cannot play
  if (!video.hidden) video.focus();
}

// Show the uploaded video in the preview, or say in words that this browser cannot play it (a codec it lacks, such as
// HEVC in many builds), instead of leaving a dead player: the scores and the timeline do not need the preview.
function preview(card, video, file) {
  const url = URL.createObjectURL(file);
  const cannot = () => {
    if (card.dataset.preview === "unplayable") return;
    card.dataset.preview = "unplayable";
    video.hidden = true;
    URL.revokeObjectURL(url);
    const note = $(".preview-note", card);
    note.hidden = false;
    note.textContent = "This browser cannot play this video, so there is no preview; the scores and the timeline " +
      "below still hold, and picking a worst second marks it there.";
  };
  video.addEventListener("error", cannot, {once: true});
  video.addEventListener("loadedmetadata", () => {
    if (!video.videoWidth) cannot();  // the container opened but no picture can be decoded
    else card.dataset.preview = "playable";
  }, {once: true});
  // Always try: canPlayType cannot settle it (it says "maybe" to any video/mp4 whatever its codec, and "" to types
  // some builds still play), so the video's own error event, or a picture of no size, is the answer.
  video.src = url;
}

function timeline(el, result, video) {
  const W = 640, H = 180, L = 34, R = 10, T = 10, B = 26;
  const pts = result.timeline || [];
  const lo = result.scale.min, hi = result.scale.max;
  const end = Math.max(result.duration || 0, ...pts.map(p => p.end), 1);
  const x = t => L + (W - L - R) * t / end;
  const y = s => T + (H - T - B) * (1 - (s - lo) / (hi - lo));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `score per second over ${pts.length} seconds`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  for (let s = Math.ceil(lo); s <= hi; s++) {
    add("line", {x1: L, x2: W - R, y1: y(s), y2: y(s), stroke: "#e3e7ee"});
    add("text", {x: L - 6, y: y(s) + 4, "text-anchor": "end", "font-size": 11, fill: "#5d6878"}, String(s));
  }
  add("text", {x: W - R, y: H - 6, "text-anchor": "end", "font-size": 11, fill: "#5d6878"}, `${fmt(end, 1)} s`);
  add("text", {x: L, y: H - 6, "font-size": 11, fill: "#5d6878"}, "0 s");
  if (pts.length) {
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x((p.start + p.end) / 2)},${y(p.score)}`).join(" ");
    add("path", {d, fill: "none", stroke: "#2457c5", "stroke-width": 2});
  }
  const worst = new Set((result.worst || []).map(m => m.second));
  for (const p of pts) {
    const bad = worst.has(p.second);
    const c = add("circle", {cx: x((p.start + p.end) / 2), cy: y(p.score), r: bad ? 6 : 3.5,
      fill: bad ? "#c4302b" : "#2457c5", class: "pt" + (bad ? " worst-pt" : ""), tabindex: bad ? 0 : -1,
      "data-second": p.second});
    const title = document.createElementNS(ns, "title");
    title.textContent = `second ${p.second}: ${fmt(p.score)} (${p.level})`;
    c.appendChild(title);
    const go = () => seek(el.closest(".card"), video, p.start, p.second);
    c.addEventListener("click", go);
    c.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
  }
  el.textContent = "";
  el.appendChild(svg);
}

function showResult(card, file, doc) {
  const r = doc.results[0];
  const body = $(".body", card);
  body.hidden = false;
  const s5 = $(".score-5", card);
  s5.textContent = fmt(r.score);
  s5.dataset.score = String(r.score);
  $(".score-100", card).textContent = fmt(r.score_100, 0);
  const level = $(".level", card);
  level.textContent = r.level;
  level.style.background = LEVEL_COLOURS[r.level] || "#5d6878";
  bars($(".probs", card), Object.entries(r.level_probs), name => LEVEL_COLOURS[name]);
  bars($(".attrs", card), Object.entries(r.attributes).sort((a, b) => b[1] - a[1]));
  if (r.kind === "video") {
    $(".video-part", card).hidden = false;
    const video = $(".preview", card);
    preview(card, video, file);
    timeline($(".timeline", card), r, video);
    const worst = $(".worst", card);
    worst.textContent = "";
    for (const m of r.worst || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "seek";
      b.dataset.second = m.second;
      b.textContent = `${fmt(m.start, 1)} s (${fmt(m.score)})`;
      b.setAttribute("aria-label", `play from ${fmt(m.start, 1)} seconds, score ${fmt(m.score)}`);
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", () => seek(card, video, m.start, m.second));
      worst.appendChild(b);
    }
  }
  if (r.explanation) {
    $(".explain-part", card).hidden = false;
    $(".explanation", card).textContent = r.explanation;
  }
}

function showError(card, reason, message) {
  const el = $(".error", card);
  el.hidden = false;
  el.dataset.reason = reason;
  el.textContent = `${REASONS[reason] || "This file could not be scored."} (${message})`;
  $(".state", card).textContent = "failed";
  if (reason === "unauthorized") $("#token-row").hidden = false;
}

function send(card, file) {
  return new Promise(resolve => {
    const params = new URLSearchParams();
    if ($("#opt-timeline").checked) params.set("timeline", "1");
    if ($("#opt-explain").checked) params.set("explain", "1");
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `v1/score?${params}`);
    const token = $("#token").value;
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    const bar = $(".upload", card), state = $(".state", card);
    xhr.upload.onprogress = e => {
      if (e.lengthComputable) { bar.value = e.loaded / e.total; state.textContent = `uploading ${Math.round(100 * e.loaded / e.total)}%`; }
    };
    xhr.upload.onload = () => { bar.value = 1; state.textContent = "scoring"; };
    xhr.onerror = () => { showError(card, "network", "no answer"); resolve(); };
    xhr.onload = () => {
      let doc = null;
      try { doc = JSON.parse(xhr.responseText); } catch (e) { doc = null; }
      if (xhr.status === 429) {
        const wait = 1000 * Number(xhr.getResponseHeader("Retry-After") || 1);
        state.textContent = "server busy, waiting";
        setTimeout(() => send(card, file).then(resolve), wait);
        return;
      }
      if (doc && doc.results && doc.results.length) {
        state.textContent = `scored in ${fmt(doc.results[0].provenance.elapsed_ms / 1000, 2)} s`;
        card.dataset.done = "1";
        showResult(card, file, doc);
      } else if (doc && doc.error) {
        showError(card, doc.error.reason, doc.error.message);
      } else {
        showError(card, "internal", `HTTP ${xhr.status}`);
      }
      if (doc) {
        const a = $(".download", card);
        a.href = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], {type: "application/json"}));
        a.download = `${file.name}.vqual.json`;
        a.hidden = false;
      }
      card.dataset.finished = "1";
      resolve();
    };
    xhr.send(form);
  });
}

function add(files) {
  for (const file of files) {
    const card = $("#card").content.firstElementChild.cloneNode(true);
    $(".name", card).textContent = file.name;
    $("#results").prepend(card);
    queue = queue.then(() => send(card, file));
  }
}

function setUp() {
  const drop = $("#drop"), input = $("#files");
  $("#pick").addEventListener("click", e => { e.stopPropagation(); input.click(); });
  drop.addEventListener("click", () => input.click());
  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, e => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => { e.preventDefault(); add(e.dataTransfer.files); });
  fetch("v1/models").then(r => {
    if (r.status === 401) { $("#token-row").hidden = false; return null; }
    return r.json();
  }).then(doc => {
    if (!doc || !doc.serving) return;
    serving = doc.serving;
    $("#serving").textContent = `Model ${serving.model} ${serving.model_version}` +
      (serving.calibrated ? ", calibrated to your scale" : "");
    if (!serving.can_explain) {
      $("#opt-explain").disabled = true;
      $("#explain-note").textContent = "(not with this model)";
    }
  }).catch(() => {});
}

setUp();
