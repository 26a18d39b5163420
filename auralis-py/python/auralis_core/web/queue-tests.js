// The queue page's automated checks (queue.html?…&play=1&report=MODE), loaded by queue.js only
// when &report= is given: each drives the page as auralis-py/tests/test_browser.py asks and
// posts what it saw to the test's /report. They use the page's own functions and state
// (queue.js: state, audio, toggleAB, edit, chunkAt; ui.js), never a path of their own.
"use strict";

// Runs the check &report= names.
async function runReport(mode) {
  if (mode === "1") await autotest();
  else if (mode === "state") await reportState();
  else if (mode === "ablast") await abInLastChunk();
  else if (mode === "editlast") await editInLastChunk();
  else if (mode === "settings") await settingsWhilePlaying();
  else if (mode === "abten") await abAtRandomPoints();
  else throw new Error(`unknown report mode '${mode}'`);
}

// &report=state: posts what the page did once its first chunk is appended (or it failed).
async function reportState() {
  const deadline = performance.now() + 20000;
  while (!window.queuePlayer.appended.length && !window.queuePlayer.errors.length && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const report = { ...window.queuePlayer, items: state.items, error_line: document.getElementById("error").textContent };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// &report=editlast: a track added while the queue's last chunk plays, then to the new end;
// posts what it did.
async function editInLastChunk() {
  const last = state.meta.chunks[state.meta.chunks.length - 1];
  while (audio.currentTime < last.start + 0.1 && !audio.ended) await new Promise((r) => setTimeout(r, 10));
  const before = state.meta.duration;
  await edit(() => state.items.push(state.items[0]));
  const deadline = performance.now() + 60000;
  while (!window.queuePlayer.ended && window.queuePlayer.errors.length === 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const report = { ...window.queuePlayer, duration_before: before, ended_at: audio.currentTime, log: document.getElementById("log").textContent };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// &report=ablast: A/B pressed early in the queue's last chunk, then to the end; posts what it did.
async function abInLastChunk() {
  const last = state.meta.chunks[state.meta.chunks.length - 1];
  while (audio.currentTime < last.start + 0.1 && !audio.ended) await new Promise((r) => setTimeout(r, 10));
  const done = await toggleAB();
  while (!window.queuePlayer.ended && window.queuePlayer.errors.length === 0) await new Promise((r) => setTimeout(r, 50));
  const report = { ...window.queuePlayer, log: document.getElementById("log").textContent, switch: done, ab_label: document.getElementById("ab").textContent };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// &report=settings&change=preset|album|joins: the setting changed early in the first chunk
// (preset to bright, album gain on, joins to a 1.5 s crossfade), then to the end; posts what
// it did.
async function settingsWhilePlaying() {
  while (audio.currentTime < 0.6 && !audio.ended) await new Promise((r) => setTimeout(r, 10));
  const before = state.meta;
  const change = params.get("change");
  const set = (id, value) => {
    const el = document.getElementById(id);
    if (el.type === "checkbox") el.checked = value; else el.value = value;
    el.dispatchEvent(new Event("change"));
  };
  const changedAt = audio.currentTime;
  if (change === "preset") set("preset", "bright");
  if (change === "album") set("album", true);
  if (change === "joins") { document.getElementById("seconds").value = "1.5"; set("joins", "crossfade"); }
  while (!window.queuePlayer.ended && window.queuePlayer.errors.length === 0) await new Promise((r) => setTimeout(r, 50));
  const report = { ...window.queuePlayer, before, changed_at: changedAt, ended_at: audio.currentTime };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

async function autotest() {
  const until = (ok, ms) => new Promise((resolve) => {
    const deadline = performance.now() + ms;
    const check = () => (ok() || performance.now() > deadline ? resolve() : setTimeout(check, 20));
    check();
  });
  await until(() => audio.currentTime >= state.meta.items[1].start, 60000);
  const next = chunkAt(audio.currentTime) + 1;
  const done = await toggleAB();
  // At the play head: the chunk playing there holds the switch; else the next one crossfades.
  const switchedAt = done ? done.index : next;
  window.queuePlayer.switch = done;
  await until(() => window.queuePlayer.ended, 60000);
  const report = { ...window.queuePlayer, switched_at: switchedAt, ended_at: audio.currentTime };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// &report=abten&n=10&seed=S: A/B pressed n times at random points while the queue plays at
// normal speed, recorded through Web Audio (capture.js); each switch reports where it was
// asked, the frame it is heard from and when the play head got there. Posts the report and the
// recording.
async function abAtRandomPoints() {
  const n = Number(params.get("n") || 10);
  let seed = Number(params.get("seed") || 1);
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const captureFrom = audio.currentTime; // the queue is already playing
  // &capture=0: no Web Audio tap (WebKitGTK's test records at the sound server instead).
  const recording = params.get("capture") === "0"
    ? { stop: async () => new Float32Array(0) }
    : await startCapture(audio);
  const until = (t) => new Promise((resolve) => {
    const check = () => (audio.currentTime >= t || audio.ended ? resolve() : setTimeout(check, 2));
    check();
  });
  const switches = [];
  // &clicks=t1,t2,...: press at these play-head times instead (the same presses again).
  const clicks = params.get("clicks") ? params.get("clicks").split(",").map(Number) : null;
  let t = 0.6;
  for (let i = 0; i < n && !audio.ended; i++) {
    t = clicks ? clicks[i] : t + 0.3 + 0.9 * random();
    await until(t);
    const from = state.variant;
    const clickedWall = performance.now();
    const done = await toggleAB();
    if (!done) { switches.push(null); continue; }
    await until(done.at);
    const heardMs = performance.now() - clickedWall;
    await new Promise((r) => setTimeout(r, 20)); // the label follows within 5 ms (ui.js atTime)
    switches.push({ ...done, from, to: state.variant, heard_ms: heardMs,
      media_ms: (done.at - done.clicked_at) * 1000, label_after: document.getElementById("ab").textContent });
    t = done.at + 0.4;
  }
  await until(t + 0.5);
  const captured = await recording.stop();
  audio.pause();
  const report = { ...window.queuePlayer, switches, capture_from: captureFrom, log: document.getElementById("log").textContent, queues: Object.fromEntries(Object.entries(state.queues).map(([k, v]) => [k, v.queue_id])) };
  await fetch("/report/capture", { method: "POST", body: captured.buffer });
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}
