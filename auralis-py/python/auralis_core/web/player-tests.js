// The track page's automated checks (index.html?api=…&test=MODE), loaded by player.js only
// when ?test= is given, with capture.js (the Web Audio tap): each drives the page as
// auralis-py/tests/test_browser.py and test_sound_server.py ask and posts what it saw to the
// test's /report (and its recording to /report/capture). They use the page's own functions and
// state (player.js: page, audio, params, loadTrack; ui.js), never a path of their own.
"use strict";

// Runs the check ?test= names ("state" is run by player.js once the page loaded or failed).
async function runTest(mode, api) {
  if (mode === "1") await autotest(page.controls, page.settings);
  else if (mode === "switches") await switchTest(page.controls, page.settings);
  else if (mode === "listener") await listenerTest(api);
  else if (mode === "stall") await stallTest();
  else throw new Error(`unknown test mode '${mode}'`);
}

// The automated check: record from the start at normal speed, switch preset during chunk 0
// (heard at the play head), play into chunk 1, then seek into the last chunk and play to the
// end; report the appends, the switch (where it was asked, where it is heard, how long it took),
// errors and the recording to the server.
async function autotest(controls, settings) {
  const report = { switched_to: params.get("switch_to") || "bright", errors: window.player.errors };
  // A check that hangs says where: after 90 s the page posts what it saw so far.
  const hung = setTimeout(() => postHung(report), 90000);
  report.step = "capture";
  const recording = await startCapture(audio);
  await audio.play();
  const until = (t) => new Promise((resolve) => {
    const check = () => (audio.currentTime >= t || audio.ended ? resolve() : setTimeout(check, 20));
    check();
  });
  const meta = window.player.meta;
  report.step = "play to 0.4 chunk";
  await until(meta.chunk * 0.4);
  report.step = "switch";
  const switched = await controls.setPreset(report.switched_to);
  report.switch = switched;
  // When the play head reaches the switch: what the listener hears from there is the new preset.
  report.step = "play to the switch";
  if (switched) {
    while (audio.currentTime < switched.at && !audio.ended) await new Promise((r) => setTimeout(r, 2));
    // Click to the new preset's audio, on the page's clock and in media time.
    report.switch.heard_ms = performance.now() - switched.clicked_wall;
    report.switch.media_ms = (switched.at - switched.clicked_at) * 1000;
    // The label names the preset heard: the old one at the click, the new one from the switch.
    report.switch.label_at_click = controls.heardAt(switched.clicked_at).preset;
    report.switch.label_after = controls.heardAt(switched.at + 0.01).preset;
  }
  report.step = "play to 1.6 chunks";
  await until(meta.chunk * 1.6);
  report.recorded_until = audio.currentTime;
  const captured = await recording.stop();
  audio.muted = true;
  audio.playbackRate = 4;
  const seekTo = Math.max(0, meta.duration - meta.chunk * 0.5);
  audio.currentTime = seekTo;
  report.step = "seek to the end";
  const ended = new Promise((r) => audio.addEventListener("ended", r, { once: true }));
  await Promise.race([ended, new Promise((r) => setTimeout(r, 30000))]);
  report.ended = window.player.ended;
  report.ended_at = audio.currentTime;
  // An eviction of chunk 0 (as ManagedMediaSource does under memory pressure), then a seek
  // into it: the player must notice and fetch it again.
  report.step = "evict";
  const before = window.player.appended.length;
  await controls.evict(0);
  audio.currentTime = meta.chunk * 0.25;
  const refetched = () => window.player.appended.slice(before).some((a) => a.index === 0);
  const deadline = performance.now() + 10000;
  while (!refetched() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  report.evicted = window.player.evicted;
  report.refetched = refetched();
  report.mime = window.player.mime;
  report.mse = window.player.mse;
  report.appended = window.player.appended;
  report.captured_frames = captured.length / 2;
  clearTimeout(hung);
  await fetch("/report/capture", { method: "POST", body: captured.buffer });
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// Posts `report` with where the check hung and the page's state then (the test fails on it).
async function postHung(report) {
  const ranges = [];
  for (let i = 0; i < audio.buffered.length; i++) ranges.push([audio.buffered.start(i), audio.buffered.end(i)]);
  const state = { current_time: audio.currentTime, paused: audio.paused, ended: audio.ended, ready_state: audio.readyState, buffered: ranges, media_error: audio.error && audio.error.code };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...report, hung: report.step, state, appended: window.player.appended, log: document.getElementById("log").textContent }) });
}

// The switch check: record from the start at normal speed and switch presets `n` times at
// random points (?n=, ?seed=), cycling through ?presets= (each switch at least 1.2 s after the
// last one is heard); report every switch and the recording to the server.
async function switchTest(controls, settings) {
  const presets = (params.get("presets") || "bright,warm,punchy,adaptive").split(",");
  const n = Number(params.get("n") || 10);
  let seed = Number(params.get("seed") || 1);
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const report = { switches: [], errors: window.player.errors, step: "capture" };
  // A check that hangs says where: after 100 s the page posts what it saw so far.
  const hung = setTimeout(() => postHung(report), 100000);
  // ?capture=0: no Web Audio tap (WebKitGTK's is no faithful recorder: its test records at the
  // sound server instead).
  const recording = params.get("capture") === "0"
    ? { stop: async () => new Float32Array(0) }
    : await startCapture(audio);
  await audio.play();
  const until = (t) => new Promise((resolve) => {
    const check = () => (audio.currentTime >= t || audio.ended ? resolve() : setTimeout(check, 2));
    check();
  });
  // &clicks=t1,t2,...: click at these play-head times instead (the same clicks again).
  const clicks = params.get("clicks") ? params.get("clicks").split(",").map(Number) : null;
  let t = 0.6;
  for (let i = 0; i < n; i++) {
    t = clicks ? clicks[i] : t + 0.3 + 0.9 * random();
    report.step = `play to click ${i} at ${t.toFixed(3)} s`;
    await until(t);
    report.step = `switch ${i}`;
    const sw = await controls.setPreset(presets[i % presets.length]);
    if (!sw) { report.switches.push(null); continue; }
    report.step = `play to switch ${i} at ${sw.at.toFixed(3)} s`;
    await until(sw.at);
    sw.heard_ms = performance.now() - sw.clicked_wall;
    sw.media_ms = (sw.at - sw.clicked_at) * 1000;
    sw.label_at_click = controls.heardAt(sw.clicked_at).preset;
    sw.label_after = controls.heardAt(sw.at + 0.01).preset;
    report.switches.push(sw);
    t = sw.at + 0.4;
  }
  report.step = "play on";
  await until(t + 0.5);
  report.recorded_until = audio.currentTime;
  report.step = "stop the recording";
  const captured = await recording.stop();
  audio.pause();
  clearTimeout(hung);
  report.mime = window.player.mime;
  await fetch("/report/capture", { method: "POST", body: captured.buffer });
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// ?test=listener: what a listener does, by the keys and buttons (muted, at ?rate=): space to
// play; → seeks 5 s on, a click at 80 % of the bar seeks past what is buffered, ← seeks back;
// space pauses and plays again; shift+→ goes to the next track, which plays to its end and
// on into the one after it (auto-advance). Reports what the page showed at each step.
async function listenerTest(api) {
  const report = { steps: [], errors: window.player.errors };
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (ok, ms) => { const end = performance.now() + ms; while (!ok() && performance.now() < end) await wait(20); return ok(); };
  const key = (k, shift = false) => document.dispatchEvent(new KeyboardEvent("keydown", { key: k, shiftKey: shift, bubbles: true }));
  const shown = (what, from = null) => report.steps.push({
    what, from, t: audio.currentTime, paused: audio.paused, track: page.settings.track,
    title: document.getElementById("title").textContent, subtitle: document.getElementById("subtitle").textContent,
    position: document.getElementById("position").textContent, duration: document.getElementById("duration").textContent,
    state: document.getElementById("state").textContent, button: document.getElementById("playpause").textContent,
    session: navigator.mediaSession && navigator.mediaSession.metadata ? navigator.mediaSession.metadata.title : null,
  });
  audio.muted = true;
  const rate = Number(params.get("rate") || 1);
  await until(() => audio.readyState >= 2, 20000);
  shown("loaded");
  key(" ");
  await until(() => !audio.paused && audio.currentTime > 0.3, 10000);
  audio.playbackRate = rate;
  shown("space");
  // Each seek is reported where it landed (at its seeked event) beside where it started, so
  // that playing on cannot pass for a seek.
  const seekBy = async (what, act) => {
    const landed = new Promise((r) => audio.addEventListener("seeked", r, { once: true }));
    const from = audio.currentTime;
    act();
    await Promise.race([landed, wait(20000)]);
    shown(what, from);
  };
  await seekBy("right", () => key("ArrowRight"));
  const target = 0.8 * audio.duration;
  report.target_buffered_before = [...Array(audio.buffered.length).keys()]
    .some((r) => audio.buffered.start(r) <= target && target < audio.buffered.end(r));
  const rect = bar.getBoundingClientRect();
  await seekBy("seek past the buffer", () => bar.dispatchEvent(new MouseEvent("click", { clientX: rect.left + 0.8 * rect.width, clientY: rect.top + 2, bubbles: true })));
  await until(() => audio.currentTime > target + 0.2, 20000);
  await seekBy("left", () => key("ArrowLeft"));
  key(" ");
  await until(() => audio.paused, 5000);
  await wait(300);
  shown("space again");
  key(" ");
  await until(() => !audio.paused, 5000);
  await wait(300);
  shown("space a third time");
  const first = page.settings.track;
  key("ArrowRight", true);
  await until(() => page.settings.track !== first && window.player.appended.some((a) => a.track === page.settings.track) && !audio.paused, 20000);
  audio.muted = true;
  audio.playbackRate = rate;
  shown("shift+right");
  await until(() => page.controls && page.controls.meta && window.player.figures && window.player.figures.after, 30000);
  const second = page.settings.track;
  await until(() => page.settings.track !== second && !audio.paused && audio.currentTime > 0.2, 60000);
  audio.playbackRate = rate;
  shown("auto-advance");
  report.states = window.player.states;
  report.stalls = window.player.stalls;
  report.tracks = window.player.tracks;
  report.session = window.player.session;
  report.figures = window.player.figures;
  report.figures_line = document.getElementById("figures").textContent;
  report.appended = window.player.appended;
  report.library = [...document.querySelectorAll("#library tbody tr")].map((r) => [...r.cells].map((c) => c.textContent));
  report.current_row = [...document.querySelectorAll("#library tbody tr")].findIndex((r) => r.classList.contains("current"));
  report.log_hidden = !document.getElementById("developer").open;
  audio.pause();
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// ?test=stall: the stall watchdog at work. The page's clock is stopped while playing (the
// element's playbackRate set to 0 behind the player's back: not paused, the position buffered,
// no event, as WebKitGTK stalled after a seek), and stays stopped until the player seeks; the
// watchdog must notice, say so, and recover. Reports the states and stalls.
async function stallTest() {
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  audio.muted = true;
  await audio.play();
  while (audio.currentTime < 1.5) await wait(20);
  // A stuck pipeline: the clock stops; only a seek (what the watchdog does) starts it again.
  audio.playbackRate = 0;
  audio.addEventListener("seeking", () => { audio.playbackRate = 1; }, { once: true });
  const stoppedAt = audio.currentTime;
  const stopped = performance.now();
  while (window.player.stalls.length === 0 && performance.now() - stopped < 10000) await wait(20);
  while (audio.currentTime < stoppedAt + 1 && performance.now() - stopped < 15000) await wait(20);
  const report = {
    errors: window.player.errors, stalls: window.player.stalls, states: window.player.states,
    stopped_at: stoppedAt, resumed_to: audio.currentTime, detected_ms: window.player.stalls.length ? window.player.stalls[0].wall - stopped : null,
    state_after: document.getElementById("state").textContent,
  };
  audio.pause();
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

// ?test=state: reports what the page did once its first chunk is appended or it failed: the
// appends, errors, warnings and the error line the listener sees.
async function reportState() {
  const deadline = performance.now() + 20000;
  while (!window.player.appended.length && !window.player.errors.length && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const report = { ...window.player, error_line: document.getElementById("error").textContent };
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

