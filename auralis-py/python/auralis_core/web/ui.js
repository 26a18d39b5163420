// What both pages (index.html, the track player; queue.html, the queue player) do alike for the
// listener: times as m:ss, the server's error line, the before → after figures of the
// mastering, the playback state line (buffering, stalled, ...), the keyboard, Media Session
// (lock screen, hardware media keys) and the stall watchdog. No dependencies; every function is
// given what it works on.
"use strict";

// How far past the play head the browser has already read and decoded, in seconds of media at
// playback rate `rate`: what is removed from a SourceBuffer there still plays, so a switch at
// the play head starts beyond it. Chromium and WebKit 0.22 s of output. In Chromium with 0.20 s
// the browser had read one 20 ms packet past the frame at 2 of 10 switches in their first 3 s
// of playback (the old preset heard 15-35 ms into the fade, 3.4-3.8 dB above the surroundings
// at the switch); with 0.22 s, 80 switches of the track page and 40 of the queue page were clean
// (tests/test_browser.py -k ten_), and 30 in WebKitGTK, recorded at the sound server
// (tests/test_sound_server.py). Firefox keeps 2 to 2.4 s of media decoded, which a page can
// neither see nor shorten without a seek, and a seek there drops 14 ms to over 100 ms of sound:
// so Firefox switches seamlessly, later. ?readahead= (seconds of output) overrides it.
function readAhead(params, rate = 1) {
  const given = Number(params.get("readahead"));
  if (params.get("readahead") && Number.isFinite(given) && given >= 0) return given * rate;
  return /Firefox\//.test(navigator.userAgent) ? 2.6 : 0.22 * rate;
}

// Calls `fn` once the play head reaches `t` (s), looking every 5 ms: a label that names what
// is heard changes with the audio, not at the next timeupdate (4 a second in Chromium).
function atTime(audio, t, fn) {
  const check = () => (audio.currentTime >= t || audio.ended ? fn() : setTimeout(check, 5));
  check();
}

// Seconds as m:ss (h:mm:ss from an hour).
function fmtTime(s) {
  if (!Number.isFinite(s) || s < 0) return "–:––";
  const t = Math.floor(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

const fmtNumber = (x, digits = 1) => (x === null || x === undefined ? "?" : Number(x).toFixed(digits));

// A server error body is {"error", "detail"}: its detail is the line to show.
async function errorLine(response) {
  const text = await response.text();
  try { return JSON.parse(text).detail || text; } catch (e) { return text || `HTTP ${response.status}`; }
}

// The mastering in one line: the source's figures → the output's (measured), or → the target
// while the measurement runs (`after` null).
function figuresLine(before, target, after, gainDb) {
  const gain = gainDb === undefined || gainDb === null ? "" : ` (gain ${gainDb >= 0 ? "+" : ""}${fmtNumber(gainDb)} dB)`;
  if (after) {
    return `loudness ${fmtNumber(before.loudness_lufs)} → ${fmtNumber(after.loudness_lufs)} LUFS${gain}, ` +
      `range ${fmtNumber(before.range_lu)} → ${fmtNumber(after.range_lu)} LU, ` +
      `true peak ${fmtNumber(before.true_peak_dbtp)} → ${fmtNumber(after.true_peak_dbtp)} dBTP`;
  }
  return `loudness ${fmtNumber(before.loudness_lufs)} LUFS → target ${fmtNumber(target.loudness_lufs)} LUFS${gain}, ` +
    `range ${fmtNumber(before.range_lu)} LU, true peak ${fmtNumber(before.true_peak_dbtp)} dBTP → ` +
    `≤ ${fmtNumber(target.true_peak_ceiling_dbtp)} dBTP (measuring…)`;
}

// The playback state the listener reads (`el`): loading, buffering, playing, paused, seeking,
// ended, or what `stateLine.say` was told (a stall being recovered). Every change is pushed
// to `record` (the tests read it).
function stateLine(audio, el, record) {
  let current = "";
  const set = (text) => {
    if (text === current) return;
    current = text;
    el.textContent = text;
    el.dataset.state = text.split(/[ …:]/)[0].toLowerCase();
    record.push({ state: text, at: audio.currentTime, wall: performance.now() });
  };
  set("Loading…");
  audio.addEventListener("waiting", () => set("Buffering…"));
  audio.addEventListener("seeking", () => set("Seeking…"));
  audio.addEventListener("playing", () => set("Playing"));
  audio.addEventListener("seeked", () => set(audio.paused ? "Paused" : "Playing"));
  audio.addEventListener("pause", () => { if (!audio.ended) set("Paused"); });
  audio.addEventListener("ended", () => set("Ended"));
  audio.addEventListener("canplay", () => { if (audio.paused && current === "Loading…") set("Ready"); });
  return { say: set };
}

// Keys, ignored while typing in a field: space or k play/pause, ← → 5 s back and on, shift+← →
// (or p, n) the previous and the next track.
function keyboard(actions) {
  document.addEventListener("keydown", (e) => {
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) return;
    let action = null;
    if (e.key === " " || e.key === "k") action = "playpause";
    else if (e.key === "ArrowLeft") action = e.shiftKey ? "previoustrack" : "seekbackward";
    else if (e.key === "ArrowRight") action = e.shiftKey ? "nexttrack" : "seekforward";
    else if (e.key === "p") action = "previoustrack";
    else if (e.key === "n") action = "nexttrack";
    if (action && actions[action]) {
      e.preventDefault();
      actions[action]();
    }
  });
}

// Media Session: what is playing (lock screen, notification, hardware media keys) and the
// actions they may send. `actions` maps Media Session action names to functions; returns the
// names the browser took (an unsupported one throws and is left out) and a function that
// updates the position shown.
function mediaSession(info, actions) {
  const session = navigator.mediaSession;
  if (!session) return { actions: [], position: () => {} };
  if (window.MediaMetadata) {
    session.metadata = new MediaMetadata({ title: info.title || "", artist: info.artist || "", album: info.album || "" });
  }
  const taken = [];
  for (const [name, fn] of Object.entries(actions)) {
    try {
      session.setActionHandler(name, fn);
      taken.push(name);
    } catch (e) { /* not supported here */ }
  }
  const position = (audio) => {
    if (!session.setPositionState || !Number.isFinite(audio.duration) || audio.duration <= 0) return;
    try {
      session.setPositionState({ duration: audio.duration, playbackRate: audio.playbackRate || 1,
        position: Math.min(audio.currentTime, audio.duration) });
    } catch (e) { /* a duration the browser refuses (still changing) */ }
  };
  return { actions: taken, position };
}

// The stall watchdog: playing (not paused, not seeking, not ended), the position buffered
// ahead, and the clock not moving for `ms` milliseconds is a stall (WebKitGTK after a seek,
// 1 run in 4 of issue 37's report: stuck with the position buffered, no error, no event).
// `recover(t, attempt)` is called with the position and how many times in a row it has
// stalled there (re-seek first, then re-append: the page decides). Returns a function that
// stops it.
function watchStalls(audio, recover, ms = 2000) {
  let last = -1;
  let since = performance.now();
  let attempts = 0;
  let stalledAt = null;
  const aheadBuffered = (t) => {
    for (let i = 0; i < audio.buffered.length; i++) {
      if (audio.buffered.start(i) <= t + 0.01 && audio.buffered.end(i) >= Math.min(t + 0.3, audio.duration - 0.05)) return true;
    }
    return false;
  };
  const timer = setInterval(() => {
    const t = audio.currentTime;
    const now = performance.now();
    if (audio.paused || audio.ended || audio.seeking || t !== last || !aheadBuffered(t)) {
      if (t !== last && stalledAt !== null && Math.abs(t - stalledAt) > 0.05) { attempts = 0; stalledAt = null; }
      last = t;
      since = now;
      return;
    }
    if (now - since >= ms) {
      attempts = stalledAt !== null && Math.abs(t - stalledAt) < 0.05 ? attempts + 1 : 1;
      stalledAt = t;
      since = now;
      recover(t, attempts);
    }
  }, 250);
  return () => clearInterval(timer);
}

// Loads classic scripts one after the other (each sees the globals of those before it);
// resolves once the last has run.
async function loadScripts(...sources) {
  for (const src of sources) {
    await new Promise((resolve, reject) => {
      const el = document.createElement("script");
      el.src = src;
      el.onload = resolve;
      el.onerror = () => reject(new Error(`${src} did not load`));
      document.head.appendChild(el);
    });
  }
}
