// The queue player (examples/python/server.py's /api/queue): builds a queue from the library,
// plays it through one SourceBuffer (the init segment once, then the queue's chunks in order,
// at most AHEAD past the play head, the chunk under the play head first after a seek), shows
// the items, the current one, what is buffered and cached, and what the mastering did. Edits
// while playing post the new queue with `replaces`: the chunks the server says are unchanged
// stay buffered, the rest is removed and fetched from the new queue. A/B plays the same queue
// with preset `none` (the timeline does not depend on the preset), heard at the play head: from
// a frame on the playing chunk's 20 ms packet grid just past the browser's read-ahead, the rest
// of that chunk crossfading from what played before (`/switch/{frame}?transition_from=`), then
// the other queue's chunks; the A/B label names what is heard. Where the chunk there is not
// buffered, from the next chunk boundary, that chunk crossfading. ?tracks=a,b,c&joins=gapless|
// SECONDS&play=1 starts one directly; with &report=MODE the page loads queue-tests.js and runs
// one of the checks of auralis-py/tests/test_browser.py (&report=1: A/B to `none` once the
// second item plays, then to the end), posting what it did to /report.
//
// Every browser: MediaSource where there is one, else ManagedMediaSource (iPhone Safari: remote
// playback off, fetching between startstreaming and endstreaming; ?mms=1 prefers it). The
// container is the first MSE accepts of WebM Opus, MP4 "Opus" (Safari) and MP4 "opus"
// (?prefer=mp4 tries MP4 first). A WebM queue shares the tracks' own chunks ("shared" layout),
// which needs a DiscardPadding honoured in mid-stream at each join: Chromium does, Firefox
// refuses it, so in Firefox (or with ?layout=continuous) the queue is "continuous", one chunk grid
// over the whole queue, as an MP4 queue always is.
"use strict";

const params = new URLSearchParams(location.search);
const api = params.get("api") || "/api";
const audio = document.getElementById("audio");
const bar = document.getElementById("bar");
const log = (msg) => { const el = document.getElementById("log"); el.textContent += msg + "\n"; el.scrollTop = el.scrollHeight; };
// One readable line for the listener (the developer log keeps the details; ui.js's errorLine
// reads a server error's).
const showError = (msg) => { document.getElementById("error").textContent = msg; };
const AHEAD = 2;
const MSE = (params.get("mms") === "1" && window.ManagedMediaSource) || window.MediaSource || window.ManagedMediaSource || null;
const managed = window.ManagedMediaSource !== undefined && MSE === window.ManagedMediaSource;
const TYPES = [
  { container: "webm", mime: 'audio/webm; codecs="opus"' },
  { container: "mp4", mime: 'audio/mp4; codecs="Opus"' },
  { container: "mp4", mime: 'audio/mp4; codecs="opus"' },
];
const type = (params.get("prefer") === "mp4" ? [...TYPES.slice(1), TYPES[0]] : TYPES)
  .find((t) => MSE && MSE.isTypeSupported(t.mime)) || null;
const layout = params.get("layout") ||
  (type && type.container === "webm" && /Firefox\//.test(navigator.userAgent) ? "continuous" : null);
// ManagedMediaSource: whether the browser wants data now.
let streaming = !managed;
// State the automated tests read.
window.queuePlayer = { appended: [], errors: [], ended: false, meta: null, states: [], stalls: [] };

const state = { after: new Map(), library: [], items: [], meta: null, variant: "preset", queues: {}, buffer: null, mediaSource: null, buffered: new Map(), busy: false, transition: null };

const fmt = fmtTime;

async function loadLibrary() {
  state.library = await (await fetch(`${api}/tracks`)).json();
  const body = document.querySelector("#library tbody");
  for (const t of state.library) {
    const row = body.insertRow();
    const add = document.createElement("button");
    add.textContent = "+";
    add.title = "add to the queue";
    add.onclick = () => edit(() => state.items.push(t.id));
    row.insertCell().append(add);
    row.insertCell().textContent = t.title;
    row.insertCell().textContent = t.artist || "";
    row.insertCell().textContent = t.album || "";
    row.insertCell().textContent = t.track ?? "";
    const length = row.insertCell();
    length.className = "num";
    length.textContent = t.duration === null || t.duration === undefined ? "" : fmt(t.duration);
  }
}

function request(preset) {
  const mode = document.getElementById("joins").value;
  const seconds = Number(document.getElementById("seconds").value);
  return {
    tracks: state.items,
    joins: mode === "gapless" ? "gapless" : seconds,
    preset,
    intensity: 1.0,
    album_gain: document.getElementById("album").checked,
    container: type.container,
    ...(layout ? { layout } : {}),
  };
}

async function post(body) {
  const r = await fetch(`${api}/queue`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await r.json();
  // Error bodies are {"error", "detail"}: the detail is the line to show.
  if (!r.ok) throw new Error(json.detail || `queue: HTTP ${r.status}`);
  return json;
}

// The queue of each variant ("preset" and "none" for A/B), posted as edits of the current ones.
async function buildQueues() {
  const preset = document.getElementById("preset").value;
  const old = state.queues;
  const [main, plain] = await Promise.all([
    post({ ...request(preset), replaces: old.preset && old.preset.queue_id }),
    post({ ...request("none"), replaces: old.none && old.none.queue_id }),
  ]);
  state.queues = { preset: main, none: plain };
  state.meta = main;
  window.queuePlayer.meta = main;
  measureAfter(main);
  return state.queues[state.variant].unchanged_chunks;
}

// What the mastering made of each item, measured by the server, one item after the other.
async function measureAfter(meta) {
  for (let i = 0; i < meta.items.length; i++) {
    const key = `${meta.queue_id}/${i}`;
    if (state.after.has(key)) continue;
    try {
      const r = await fetch(`${api}/queue/${meta.queue_id}/item/${i}/after`);
      if (!r.ok) return;
      state.after.set(key, await r.json());
      if (state.meta === meta) drawQueue();
    } catch (e) {
      return;
    }
  }
}

const active = () => state.queues[state.variant];
const chunkAt = (t) => {
  const chunks = state.meta.chunks;
  const i = chunks.findIndex((c) => t < c.end);
  return i < 0 ? chunks.length - 1 : i;
};
const itemAt = (t) => {
  let current = 0;
  state.meta.items.forEach((it, i) => { if (t >= it.start) current = i; });
  return current;
};

function drawQueue() {
  const body = document.querySelector("#queue tbody");
  body.innerHTML = "";
  const meta = state.meta;
  const here = meta && audio.currentTime !== undefined ? itemAt(audio.currentTime) : -1;
  state.items.forEach((id, i) => {
    const track = state.library.find((t) => t.id === id) || { title: id };
    const info = meta && meta.items[i];
    const row = body.insertRow();
    if (i === here && meta) row.className = "current";
    row.insertCell().textContent = i === here && meta ? "▶" : String(i + 1);
    row.insertCell().textContent = track.title + (track.artist ? ` — ${track.artist}` : "");
    row.insertCell().textContent = info ? fmt(info.duration) : "";
    const m = row.insertCell();
    m.className = "mastering";
    if (info) {
      // Before: the source's analysis; after: the mastered output measured on the same excerpts
      // (fetched per item), the target until it arrives.
      const after = state.after.get(`${meta.queue_id}/${i}`);
      m.textContent = figuresLine(info.before, info.target, after || null, info.gain_db);
    }
    const tools = row.insertCell();
    for (const [label, action] of [["↑", () => swap(i, i - 1)], ["↓", () => swap(i, i + 1)], ["×", () => state.items.splice(i, 1)]]) {
      const b = document.createElement("button");
      b.textContent = label;
      b.onclick = () => edit(action);
      tools.append(b);
    }
  });
}

function swap(i, j) {
  if (j < 0 || j >= state.items.length) return;
  [state.items[i], state.items[j]] = [state.items[j], state.items[i]];
}

function drawBar() {
  const meta = state.meta;
  if (!meta) return;
  bar.querySelectorAll(".chunk, .item").forEach((e) => e.remove());
  for (const c of meta.chunks) {
    const el = document.createElement("div");
    const got = state.buffered.get(c.index);
    el.className = "chunk" + (got ? " buffered" : "") + (got && got.origin !== "MISS" ? " cached" : "");
    el.style.left = `${(100 * c.start) / meta.duration}%`;
    el.style.width = `${(100 * (c.end - c.start)) / meta.duration}%`;
    const join = meta.items.some((it, i) => i > 0 && it.start >= c.start && it.start < c.end);
    el.title = `chunk ${c.index}${join ? " (join)" : ""}${got ? `: ${got.origin}` : ""}`;
    bar.prepend(el);
  }
  for (const it of meta.items) {
    const el = document.createElement("div");
    el.className = "item";
    el.style.left = `${(100 * it.start) / meta.duration}%`;
    el.title = it.title;
    bar.append(el);
  }
}

const updated = () => new Promise((resolve, reject) => {
  state.buffer.addEventListener("updateend", resolve, { once: true });
  state.buffer.addEventListener("error", () => reject(new Error("SourceBuffer error")), { once: true });
});

async function removeFrom(index) {
  const meta = state.meta;
  while (state.busy || state.buffer.updating) await new Promise((r) => setTimeout(r, 10));
  if (index < meta.chunks.length) {
    // `meta` may be an edit's, longer than the MediaSource: nothing is buffered past its
    // duration, and remove() refuses a start past it (a TypeError that stalled playback for
    // good). A remove from the duration removes nothing and reopens an ended MediaSource, so
    // the new duration can be set.
    const start = Math.min(meta.chunks[index].start, state.mediaSource.duration);
    state.buffer.remove(start, Infinity);
    await updated();
  }
  for (const i of [...state.buffered.keys()]) if (i >= index) state.buffered.delete(i);
}

async function appendNext() {
  const meta = state.meta;
  if (!meta || !state.buffer || state.busy || !streaming) return;
  const here = chunkAt(audio.currentTime);
  let index = null;
  for (let i = here; i < meta.chunks.length && i <= here + AHEAD; i++) if (!state.buffered.has(i)) { index = i; break; }
  if (index === null) {
    if (state.buffered.has(meta.chunks.length - 1) && state.mediaSource.readyState === "open" && !state.buffer.updating) state.mediaSource.endOfStream();
    return;
  }
  state.busy = true;
  const queue = active();
  // The first chunk after an A/B switch crossfades from the other variant.
  const t = state.transition;
  const from = t && t.index === index ? `?transition_from=${encodeURIComponent(t.from)}` : "";
  try {
    const r = await fetch(`${api}/queue/${queue.queue_id}/chunk/${index}${from}`);
    if (!r.ok) throw new Error(await errorLine(r));
    const bytes = await r.arrayBuffer();
    if (queue !== active() || meta !== state.meta) return; // switched while fetching
    // The queue's last chunk ends inside a packet: cut playback at the exact end.
    state.buffer.appendWindowEnd = index === meta.chunks.length - 1 ? meta.duration : Infinity;
    state.buffer.appendBuffer(bytes);
    await updated();
    const origin = r.headers.get("x-cache");
    state.buffered.set(index, { origin, variant: state.variant });
    window.queuePlayer.appended.push({ index, origin, variant: state.variant, transition: from !== "", queue: queue.queue_id });
    log(`chunk ${index} (${state.variant}${from ? ", crossfading from the other" : ""}, ${origin}) appended`);
    drawBar();
  } catch (e) {
    window.queuePlayer.errors.push(String(e));
    showError(e.message || String(e));
    log(`error: ${e}`);
    return;
  } finally {
    state.busy = false;
  }
  appendNext();
}

async function start() {
  if (!type) throw new Error("this browser plays none of WebM Opus and MP4 Opus through MSE");
  await buildQueues();
  const meta = state.meta;
  state.mediaSource = new MSE();
  if (managed) {
    // ManagedMediaSource opens only without remote playback, and says when to fetch.
    audio.disableRemotePlayback = true;
    state.mediaSource.addEventListener("startstreaming", () => { streaming = true; appendNext(); });
    state.mediaSource.addEventListener("endstreaming", () => { streaming = false; });
  }
  audio.src = URL.createObjectURL(state.mediaSource);
  await new Promise((r) => state.mediaSource.addEventListener("sourceopen", r, { once: true }));
  state.mediaSource.duration = meta.duration;
  log(`${managed ? "ManagedMediaSource" : "MediaSource"}, ${type.mime}, ${meta.layout} layout`);
  state.buffer = state.mediaSource.addSourceBuffer(type.mime);
  state.buffer.appendBuffer(await (await fetch(`${api}/queue/${meta.queue_id}/init`)).arrayBuffer());
  await updated();
  state.buffered.clear();
  drawQueue();
  drawBar();
  appendNext();
}

// Whether two queues' metadata lay their items and chunks at the same times (a preset or an
// album-gain change keeps the timeline; an edit of the items or the joins moves it).
function sameTimeline(a, b) {
  return a.duration === b.duration && a.chunks.length === b.chunks.length &&
    a.chunks.every((c, i) => c.start === b.chunks[i].start && c.end === b.chunks[i].end) &&
    a.items.length === b.items.length && a.items.every((it, i) => it.start === b.items[i].start);
}

// Applies `change` to the item list (or, for a change of the joins, preset or album gain, to
// nothing: the controls are read when the queue is posted); while playing, re-plans the queue
// and keeps what is the same. The chunk playing, if it changed, is replaced from the play head
// on, crossfading from what played where the timeline stayed (a preset or an album-gain
// change), joined to it as it is where it moved.
async function edit(change, label = "queue edited") {
  change();
  if (!state.buffer) { drawQueue(); return; }
  try {
    const before = { meta: state.meta, queues: state.queues };
    const unchanged = await buildQueues();
    // A crossfade still to come names the queue it fades from: after an edit that is the edited
    // queue of the same variant (the old id lies on another timeline: 422 on every request).
    if (state.transition) {
      const variant = Object.keys(state.queues).find((v) => v !== state.variant);
      state.transition = { ...state.transition, from: state.queues[variant].queue_id };
    }
    // The chunk playing changed (an edit near the end of a crossfaded or MP4 queue): its new
    // audio from the play head on, then the chunks after it.
    let from = Math.max(unchanged ?? 0, chunkAt(audio.currentTime) + 1);
    if ((unchanged ?? 0) <= chunkAt(audio.currentTime)) {
      while (state.busy || state.buffer.updating) await new Promise((r) => setTimeout(r, 5));
      const kept = sameTimeline(before.meta, state.meta) ? before.queues[state.variant].queue_id : null;
      const done = await spliceAtPlayhead(kept, state.variant, `${label} at the play head`);
      if (done) from = done.index + 1;
    }
    log(`${label}: ${unchanged} chunks unchanged, re-fetching from chunk ${from}`);
    await removeFrom(from);
    state.mediaSource.duration = Math.max(state.meta.duration, ...[...state.buffered.keys()].map((i) => state.meta.chunks[i] ? state.meta.chunks[i].end : 0));
    drawQueue();
    drawBar();
    appendNext();
  } catch (e) {
    window.queuePlayer.errors.push(String(e));
    showError(e.message || String(e));
    log(`error: ${e}`);
  }
}

const RATE = 48000;
const PACKET = 960;

// The variant heard at time `t`: that of the chunk there, or of its part before a switch in it.
const heardAt = (t) => {
  const b = state.buffered.get(chunkAt(t));
  if (!b) return null;
  return b.switchedAt !== undefined && t < b.switchedAt ? b.before : b.variant;
};

// How far past the play head a change there starts (seconds of media: the rate may be above
// 1): past what the browser has read (ui.js `readAhead`).
const playheadLead = () => (audio.paused ? 0 : readAhead(params, audio.playbackRate));

// The rest of the chunk at the play head, from the active queue, appended over what is buffered
// from a frame on its packet grid just past the browser's read-ahead. With `fromQueue` (the
// other A/B queue, on the same timeline) it crossfades from that queue there; without, the
// active queue's audio starts there as it is (an edit that changed the chunk playing).
// `before` is what is heard up to that frame. Returns what it did, or null when the frame would
// fall in the chunk's last 50 ms.
async function spliceAtPlayhead(fromQueue, before, label) {
  const meta = state.meta;
  const t = audio.currentTime + playheadLead();
  const index = chunkAt(t);
  const chunk = meta.chunks[index];
  // The chunk's packet grid: from its item's first frame (shared layout) or the queue's.
  const grid = meta.layout === "shared" ? Math.round(meta.items[chunk.item].start * RATE) : 0;
  let at = grid + Math.ceil((t * RATE - grid) / PACKET) * PACKET;
  // Never past what is buffered at the play head (after an edit the old queue may end before
  // the frame): the new audio must join the old without a hole.
  const ranges = state.buffer.buffered;
  for (let r = 0; r < ranges.length; r++) {
    if (ranges.start(r) <= audio.currentTime + 0.01 && audio.currentTime <= ranges.end(r) + 0.01 && at / RATE > ranges.end(r)) {
      at = grid + Math.floor((ranges.end(r) * RATE - grid) / PACKET) * PACKET;
    }
  }
  if (at / RATE >= chunk.end - 0.05 || at / RATE < chunk.start) return null;
  const clicked = performance.now();
  const clickedAt = audio.currentTime;
  state.busy = true;
  try {
    state.buffer.remove(Math.min(at / RATE, state.mediaSource.duration), Infinity);
    await updated();
    for (const i of [...state.buffered.keys()]) if (i >= index) state.buffered.delete(i);
    const query = fromQueue ? `?transition_from=${encodeURIComponent(fromQueue)}` : "";
    const url = `${api}/queue/${active().queue_id}/switch/${at}${query}`;
    const r = await fetch(url);
    if (!r.ok) throw new Error(await errorLine(r));
    state.buffer.appendWindowEnd = index === meta.chunks.length - 1 ? meta.duration : Infinity;
    const reader = r.body.getReader();
    let firstAppended = null;
    for (let piece = await reader.read(); !piece.done; piece = await reader.read()) {
      state.buffer.appendBuffer(piece.value);
      await updated();
      if (firstAppended === null) firstAppended = performance.now();
    }
    const origin = r.headers.get("x-cache");
    state.buffered.set(index, { origin, variant: state.variant, switchedAt: at / RATE, before });
    const done = { index, at: at / RATE, clicked_at: clickedAt, first_appended_ms: firstAppended - clicked, origin, url };
    window.queuePlayer.appended.push({ index, origin, variant: state.variant, transition: fromQueue !== null, switch_at: at / RATE, queue: active().queue_id });
    log(`${label} from ${(at / RATE).toFixed(3)} s (chunk ${index}, ${origin})`);
    return done;
  } finally {
    state.busy = false;
  }
}

// A/B at the play head: returns what it did, or null when it fell back to the next chunk.
async function switchAtPlayhead(old) {
  const t = audio.currentTime + playheadLead();
  const there = state.buffered.get(chunkAt(t));
  if (!there || heardAt(t) !== old) return null;
  return spliceAtPlayhead(state.queues[old].queue_id, old, `A/B: ${state.variant}`);
}

async function toggleAB() {
  const old = state.variant;
  state.variant = state.variant === "preset" ? "none" : "preset";
  if (!state.buffer) { showAB(); return null; }
  const clicked = performance.now();
  const clickedAt = audio.currentTime;
  while (state.busy || state.buffer.updating) await new Promise((r) => setTimeout(r, 5));
  try {
    const done = await switchAtPlayhead(old);
    if (done) {
      state.transition = null;
      appendNext();
      atTime(audio, done.at, showAB);
      return done;
    }
  } catch (e) {
    window.queuePlayer.errors.push(String(e));
    showError(e.message || String(e));
    log(`error: ${e}`);
  }
  // From the first chunk that starts past the read-ahead, that chunk crossfading from what
  // plays before it (the chunk there is not buffered, or the frame fell in its last 50 ms).
  const chunks = state.meta.chunks;
  const past = audio.currentTime + playheadLead();
  const from = chunks.findIndex((c) => c.start >= past);
  if (from < 0) { showAB(); return null; } // nothing left to switch
  log(`A/B: ${state.variant} from chunk ${from}`);
  await removeFrom(from);
  // The chunk before `from` stays as it was: `from` crossfades from its queue.
  const kept = state.buffered.get(from - 1);
  state.transition = kept && kept.variant !== state.variant ? { index: from, from: state.queues[kept.variant].queue_id } : null;
  appendNext();
  atTime(audio, chunks[from].start, showAB);
  return { index: from, at: chunks[from].start, clicked_at: clickedAt, clicked_wall: clicked, boundary: true, origin: null, first_appended_ms: null };
}

// The A/B button names what is heard (it changes when the audio does).
function showAB() {
  const heard = state.meta && state.buffer ? heardAt(audio.currentTime) || state.variant : state.variant;
  document.getElementById("ab").textContent = `A/B: ${heard}`;
}

function jump(delta) {
  if (!state.meta) return;
  const i = Math.min(state.meta.items.length - 1, Math.max(0, itemAt(audio.currentTime) + delta));
  audio.currentTime = state.meta.items[i].start + 0.001;
}

audio.addEventListener("timeupdate", () => {
  if (!state.meta) return;
  bar.querySelector(".played").style.width = `${(100 * audio.currentTime) / state.meta.duration}%`;
  const it = state.meta.items[itemAt(audio.currentTime)];
  const heard = heardAt(audio.currentTime) || state.variant;
  document.getElementById("status").textContent =
    `${fmt(audio.currentTime)} / ${fmt(state.meta.duration)}: ${it.title} (${heard})`;
  showAB();
  drawQueue();
  appendNext();
});
audio.addEventListener("seeking", () => appendNext());
audio.addEventListener("ended", () => { window.queuePlayer.ended = true; log("ended"); });
audio.addEventListener("error", () => window.queuePlayer.errors.push(`media error ${audio.error && audio.error.code}`));
bar.addEventListener("click", (e) => {
  if (!state.meta) return;
  const rect = bar.getBoundingClientRect();
  audio.currentTime = ((e.clientX - rect.left) / rect.width) * state.meta.duration;
});
document.getElementById("play").onclick = () => start().then(() => audio.play()).catch((e) => { window.queuePlayer.errors.push(String(e)); log(`error: ${e}`); showError(e.message || String(e)); });
document.getElementById("prev").onclick = () => jump(-1);
document.getElementById("next").onclick = () => jump(1);
document.getElementById("ab").onclick = () => toggleAB();
// The queue's settings, changed while it plays, apply at the play head as an edit does (they
// used to wait for Play, which started again at 0:00).
for (const id of ["joins", "seconds", "album", "preset"]) {
  document.getElementById(id).addEventListener("change", () => {
    if (state.buffer) edit(() => {}, `${id} changed`);
  });
}
const queueState = stateLine(audio, document.getElementById("state"), window.queuePlayer.states);
watchStalls(audio, (t, attempt) => {
  window.queuePlayer.stalls.push({ at: t, attempt });
  queueState.say(`Stalled at ${fmt(t)}: recovering (${attempt >= 2 ? "fetching it again" : "seeking there"})…`);
  if (attempt >= 2 && state.meta) {
    removeFrom(chunkAt(t)).then(() => { appendNext(); audio.currentTime = t; });
  } else {
    audio.currentTime = t;
  }
});
const togglePlay = () => {
  if (!state.buffer) return document.getElementById("play").click();
  return audio.paused ? audio.play() : audio.pause();
};
keyboard({
  playpause: togglePlay,
  seekbackward: () => { audio.currentTime = Math.max(0, audio.currentTime - 5); },
  seekforward: () => { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 5); },
  previoustrack: () => jump(-1),
  nexttrack: () => jump(1),
});
// Media Session: the item playing (set when it changes) and the actions.
let sessionItem = null;
let sessionPosition = () => {};
function showSession() {
  if (!state.meta) return;
  const i = itemAt(audio.currentTime);
  const key = `${state.meta.queue_id}/${i}`;
  if (key !== sessionItem) {
    sessionItem = key;
    const it = state.meta.items[i];
    const session = mediaSession(it, {
      play: () => audio.play(), pause: () => audio.pause(),
      previoustrack: () => jump(-1), nexttrack: () => jump(1),
      seekbackward: () => { audio.currentTime = Math.max(0, audio.currentTime - 5); },
      seekforward: () => { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 5); },
      seekto: (d) => { audio.currentTime = d.seekTime; },
    });
    sessionPosition = session.position;
    window.queuePlayer.session = { title: it.title, actions: session.actions };
  }
  sessionPosition(audio);
}
audio.addEventListener("timeupdate", showSession);

// &report=MODE: the automated checks the browser tests run (queue-tests.js), loaded only then.
const testsLoaded = params.get("report") ? loadScripts("capture.js", "queue-tests.js") : null;

(async () => {
  try {
    await loadLibrary();
    const preset = params.get("tracks");
    if (preset) {
      // Tracks the library does not have are left out, and said so (the rest still plays).
      const known = new Set(state.library.map((t) => t.id));
      const asked = preset.split(",").filter((id) => id !== "");
      const unknown = asked.filter((id) => !known.has(id));
      state.items = asked.filter((id) => known.has(id));
      if (unknown.length) {
        showError(`not in the library, left out: ${unknown.join(", ")}`);
        window.queuePlayer.warnings = unknown;
      }
      const joins = params.get("joins");
      if (joins && joins !== "gapless") {
        document.getElementById("joins").value = "crossfade";
        document.getElementById("seconds").value = joins;
      }
    }
    drawQueue();
    if (params.get("play") === "1" && state.items.length) {
      await start();
      audio.muted = params.get("muted") === "1";
      audio.playbackRate = Number(params.get("rate") || 1);
      await audio.play();
      if (testsLoaded) {
        await testsLoaded;
        await runReport(params.get("report"));
      }
    }
  } catch (e) {
    window.queuePlayer.errors.push(String(e));
    showError(e.message || String(e));
    log(`error: ${e}`);
  }
})();
