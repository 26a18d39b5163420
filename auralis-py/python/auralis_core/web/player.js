// Minimal MSE player, for two sources:
//   ?dir=PATH       a directory written by the `render` example (manifest.json + chunk files);
//   ?api=/api       the streaming server (examples/python/server.py): a track list, a preset
//                   selector, the init segment once, then media segments per chunk.
// Chunks carry absolute timestamps, so they are appended to one SourceBuffer in any order
// without timestampOffset: in order while playing (at most AHEAD chunks past the play head),
// the chunk under the play head first after a seek. A preset change is heard at the play head:
// the page picks a frame F on the 20 ms packet grid just past the play head plus the time a
// switch request has been taking, asks the server for the rest of F's chunk as a transition
// (it crossfades from the old preset at F, so the switch has no click), removes what is
// buffered from F on and appends it unit by unit as it arrives; the next chunks come in the
// new preset. The status line names the preset being heard, which changes at F, not at the
// click. Where the chunk at F is not buffered yet, the switch falls back to that chunk's start.
// With ?test=MODE (API mode) the page loads player-tests.js and runs one of the checks of
// auralis-py/tests/test_browser.py (play, switch, seek, report and the others there).
//
// The listener's page (API mode): the library with titles and durations from the tags, now
// playing (title, artist, album, position, duration), previous, next and auto-advance at a
// track's end, Media Session (lock screen, hardware keys), the keyboard (ui.js), a state line
// (buffering, stalled), the before → after figures of the mastering, one readable error line;
// the developer log behind a toggle. A track is changed in the page, without a reload.
//
// Every browser: the page takes the first type MSE accepts of WebM Opus, MP4 "Opus" (Safari)
// and MP4 "opus" (Chromium, Firefox, WebKitGTK) (?prefer=mp4 tries MP4 first), and asks the
// server for that container. Without MediaSource (iPhone Safari) it uses ManagedMediaSource:
// remote playback off, fetching only between the startstreaming and endstreaming events; and
// with neither, a native HLS player gets the server's playlist. Whatever the browser evicted
// from the buffer (ManagedMediaSource does under memory pressure) is fetched again when the play
// head needs it. The bitrate of each chunk follows the measured download rate (64 kbit/s below
// 1 Mbit/s or with Save-Data, 128 kbit/s otherwise; ?bitrate= fixes it): the init segment does
// not depend on it, so a switch at a chunk boundary is gapless.
"use strict";

const params = new URLSearchParams(location.search);
const audio = document.getElementById("audio");
const bar = document.getElementById("bar");
const log = (msg) => { document.getElementById("log").textContent += msg + "\n"; };
// One readable line for the listener (the developer log keeps the details).
const showError = (msg) => { const el = document.getElementById("error"); if (el) el.textContent = msg; };
const AHEAD = 2;
// State the automated browser tests read.
window.player = { appended: [], errors: [], ended: false, meta: null, evicted: [], bitrates: [], switches: [],
  states: [], stalls: [], tracks: [], session: null };
const RATE = 48000;
const PACKET = 960;

// The MSE implementation: MediaSource where there is one (?mms=1 prefers ManagedMediaSource,
// for testing it where both exist), else ManagedMediaSource (iPhone Safari), else none.
const MSE = (params.get("mms") === "1" && window.ManagedMediaSource) || window.MediaSource || window.ManagedMediaSource || null;

// The first of `candidates` ({container, mime}) this browser's MSE accepts, in order (MP4
// first with ?prefer=mp4).
function pickType(candidates) {
  const order = params.get("prefer") === "mp4"
    ? [...candidates.filter((c) => c.container === "mp4"), ...candidates.filter((c) => c.container !== "mp4")]
    : candidates;
  return order.find((c) => MSE && MSE.isTypeSupported(c.mime)) || null;
}

// The two spellings of a type: Safari wants codecs="Opus" for MP4, Chromium and WebKitGTK "opus".
const spellings = (container, mime) => [{ container, mime }, { container, mime: mime.replace('"opus"', '"Opus"') }];

// Where chunks come from: { meta, initUrl, chunkUrl(index, settings, from, bitrate),
// chunkFilesHaveInit }.
async function openSource(settings) {
  const api = params.get("api");
  if (api) {
    const q = `preset=${encodeURIComponent(settings.preset)}&intensity=${settings.intensity}`;
    const base = `${api}/stream/${encodeURIComponent(settings.track)}`;
    const answer = await fetch(`${base}/metadata?${q}`);
    if (!answer.ok) throw new Error(await errorLine(answer));
    const m = await answer.json();
    const type = pickType(m.mimes || spellings("webm", m.mime));
    if (!type) return { meta: metaOf(m.duration, m.chunk_duration, m.total_chunks, null), hls: `${base}/playlist.m3u8?${q}` };
    // The file's content version makes the URLs name their content: cacheable for good.
    const c = `container=${type.container}` + (m.version ? `&v=${encodeURIComponent(m.version)}` : "");
    return {
      meta: metaOf(m.duration, m.chunk_duration, m.total_chunks, type),
      initUrl: `${base}/init?${q}&${c}`,
      chunkFilesHaveInit: false,
      chunkUrl: (i, s, from, bitrate) => {
        let url = `${base}/chunk/${i}?preset=${encodeURIComponent(s.preset)}&intensity=${s.intensity}&${c}&bitrate=${bitrate}`;
        if (from) url += `&transition_from=${encodeURIComponent(`${from.preset}:${from.intensity}`)}`;
        return url;
      },
      // The rest of the chunk holding frame `at` as a transition from `from` (a switch at the
      // play head).
      switchUrl: (at, s, from, bitrate) =>
        `${base}/switch/${at}?preset=${encodeURIComponent(s.preset)}&intensity=${s.intensity}&${c}&bitrate=${bitrate}` +
        `&transition_from=${encodeURIComponent(`${from.preset}:${from.intensity}`)}`,
    };
  }
  const dir = (params.get("dir") || ".").replace(/\/$/, "");
  const m = await (await fetch(`${dir}/manifest.json`)).json();
  const type = pickType(spellings(m.container || "webm", m.mime));
  if (!type) return { meta: metaOf(m.duration_s, m.chunk_seconds, m.total_chunks, null), hls: m.hls ? `${dir}/${m.hls}` : null };
  return {
    meta: { ...metaOf(m.duration_s, m.chunk_seconds, m.total_chunks, type), preset: m.preset },
    initUrl: m.init ? `${dir}/${m.init.file}` : null,
    // Format 1 manifests (WebM only) have no such key: their chunk files carry the init segment.
    chunkFilesHaveInit: m.chunk_files_include_init !== false,
    chunkUrl: (i) => `${dir}/${m.chunks[i].file || m.chunks[i].webm}`,
    fixedBitrate: true,
  };
}

function metaOf(duration, chunk, total, type) {
  return { duration, chunk, total, mime: type && type.mime, container: type && type.container };
}

async function fetchBytes(url) {
  const started = performance.now();
  const response = await fetch(url);
  if (!response.ok) throw new Error(await errorLine(response));
  const bytes = await response.arrayBuffer();
  // The download rate, from downloads large enough to measure one (a 175-byte init segment
  // measures the request's latency, not the link: it once sent the first chunk at 64 kbit/s).
  if (bytes.byteLength >= 32 * 1024) {
    fetchBytes.lastRateBps = (bytes.byteLength * 8) / Math.max(1e-3, (performance.now() - started) / 1000);
  }
  return bytes;
}

// The bitrate of the next chunk, from the last download's rate (bit/s).
function chooseBitrate() {
  const fixed = Number(params.get("bitrate"));
  if (fixed > 0) return fixed;
  if (navigator.connection && navigator.connection.saveData) return 64000;
  const rate = fetchBytes.lastRateBps;
  return rate !== undefined && rate < 1_000_000 ? 64000 : 128000;
}

// Plays `settings.track` through a new MediaSource; returns its controls. `close()` ends it (a
// track change): its listeners go, and what it was fetching is dropped.
async function play(settings) {
  const session = new AbortController();
  const on = { signal: session.signal };
  let closed = false;
  const source = await openSource(settings);
  const meta = source.meta;
  window.player.meta = meta;
  if (!meta.mime) {
    // No MSE type: a native HLS player (older iPhones) plays the server's playlist.
    if (source.hls && audio.canPlayType("application/vnd.apple.mpegurl")) {
      log("no MSE type supported: playing the HLS playlist natively");
      audio.src = source.hls;
      return { setPreset: () => {}, chunkAt: () => 0, heardAt: () => null, recover: () => {}, close: () => {} };
    }
    throw new Error("this browser plays none of WebM Opus and MP4 Opus through MSE");
  }
  const managed = window.ManagedMediaSource !== undefined && MSE === window.ManagedMediaSource;
  window.player.mime = meta.mime;
  window.player.mse = managed ? "ManagedMediaSource" : "MediaSource";
  const mediaSource = new MSE();
  // ManagedMediaSource opens only without remote playback (or with an AirPlay alternative),
  // and says when to fetch: between startstreaming and endstreaming.
  let streaming = !managed;
  if (managed) {
    audio.disableRemotePlayback = true;
    mediaSource.addEventListener("startstreaming", () => { streaming = true; log("startstreaming"); appendNext(); });
    mediaSource.addEventListener("endstreaming", () => { streaming = false; log("endstreaming"); });
  }
  audio.src = URL.createObjectURL(mediaSource);
  await new Promise((resolve) => mediaSource.addEventListener("sourceopen", resolve, { once: true }));
  mediaSource.duration = meta.duration;
  const buffer = mediaSource.addSourceBuffer(meta.mime);
  const done = () => new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", () => reject(new Error("SourceBuffer error")), { once: true });
  });
  if (source.initUrl && !source.chunkFilesHaveInit) {
    buffer.appendBuffer(await fetchBytes(source.initUrl));
    await done();
  }
  // Which settings each buffered chunk was appended with.
  const bufferedWith = new Map();
  let busy = false;
  const chunkAt = (t) => Math.min(meta.total - 1, Math.floor(t / meta.chunk));
  const nextIndex = () => {
    const here = chunkAt(audio.currentTime);
    for (let i = here; i < meta.total && i <= here + AHEAD; i++) if (!bufferedWith.has(i)) return i;
    return null;
  };
  const same = (a, b) => a && b && a.preset === b.preset && a.intensity === b.intensity;

  // Forgets the chunks the browser evicted (no longer covered by a buffered range), so that they
  // are fetched again when the play head needs them.
  function forgetEvicted() {
    if (buffer.updating) return;
    const covered = (a, b) => {
      for (let r = 0; r < buffer.buffered.length; r++) {
        if (buffer.buffered.start(r) <= a + 0.01 && buffer.buffered.end(r) >= b - 0.01) return true;
      }
      return false;
    };
    for (const i of [...bufferedWith.keys()]) {
      if (!covered(i * meta.chunk, Math.min((i + 1) * meta.chunk, meta.duration))) {
        bufferedWith.delete(i);
        window.player.evicted.push(i);
        log(`chunk ${i} was evicted: it will be fetched again when needed`);
      }
    }
  }
  if (managed) buffer.addEventListener("bufferedchange", forgetEvicted);

  async function appendNext() {
    if (closed || busy || !streaming) return;
    forgetEvicted();
    const index = nextIndex();
    if (index === null) {
      // The end of the track is buffered and nothing is needed before it: let playback end
      // there (a later seek or append reopens the MediaSource by itself).
      if (bufferedWith.has(meta.total - 1) && mediaSource.readyState === "open" && !buffer.updating) {
        mediaSource.endOfStream();
      }
      return;
    }
    busy = true;
    try {
      const current = { ...settings };
      // After a chunk of other settings, this one starts as their audio (a transition chunk).
      const before = bufferedWith.get(index - 1);
      const from = before && !same(before, current) ? before : null;
      const bitrate = source.fixedBitrate ? null : chooseBitrate();
      const bytes = await fetchBytes(source.chunkUrl(index, current, from, bitrate));
      if (closed) return; // another track since
      if (!same(current, settings)) return; // the preset changed while fetching: fetch again
      // The last chunk's final packet is padded: cut playback at the exact end of the track.
      buffer.appendWindowEnd = index === meta.total - 1 ? meta.duration : Infinity;
      buffer.appendBuffer(bytes);
      await done();
      bufferedWith.set(index, { ...current, bitrate });
      const ranges = [];
      for (let i = 0; i < buffer.buffered.length; i++) ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
      window.player.appended.push({ track: settings.track, index, preset: current.preset, intensity: current.intensity, from: from && from.preset, bitrate, ranges });
      log(`chunk ${index} (${current.preset}${from ? ` from ${from.preset}` : ""}${bitrate ? `, ${bitrate / 1000} kbit/s` : ""}) appended; buffered ${ranges.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)}`).join(", ")}`);
      drawBuffered(ranges);
    } catch (e) {
      if (closed) return;
      window.player.errors.push(String(e));
      log(`error: ${e}`);
      showError(e.message || String(e));
      return;
    } finally {
      busy = false;
    }
    appendNext();
  }

  // How long a switch request has taken, click to its first unit appended (s), with a margin:
  // the next switch starts at least this far past the play head. Starts at a guess, then
  // follows what was measured.
  let switchLead = 0.15;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // The preset heard at time `t`: the settings of the chunk there, or of its part before a
  // switch inside it.
  const heardAt = (t) => {
    const w = bufferedWith.get(chunkAt(t));
    if (!w) return null;
    return w.switchedAt !== undefined && t < w.switchedAt ? w.before : w;
  };

  // Switch settings at the play head (see the top of this file).
  async function setPreset(preset, intensity = settings.intensity) {
    const old = { ...settings };
    const clicked = performance.now();
    const clickedAt = audio.currentTime;
    settings.preset = preset;
    settings.intensity = intensity;
    while (busy || buffer.updating) await sleep(5);
    if (closed) return null;
    busy = true;
    let switched = null;
    try {
      const lead = audio.paused ? 0 : Math.max(readAhead(params, audio.playbackRate), switchLead);
      const at = Math.ceil(((audio.currentTime + lead) * RATE) / PACKET) * PACKET;
      const index = chunkAt(at / RATE);
      const there = bufferedWith.get(index);
      const heard = heardAt(at / RATE);
      if (source.switchUrl && at / RATE < meta.duration - 0.1 && there && heard && same(heard, old) && !same(old, settings)) {
        // Drop what is buffered from the switch on (before the browser reads it), then append
        // the switch as it arrives.
        buffer.remove(at / RATE, meta.duration);
        await done();
        for (const i of [...bufferedWith.keys()]) if (i > index) bufferedWith.delete(i);
        // The rest of the chunk at the chunk's own bitrate: the decoder then runs through the
        // switch as through a chunk join (a new bitrate there raised the coding error around
        // the switch by up to 3.4 dB for ~50 ms).
        const bitrate = there.bitrate === undefined ? chooseBitrate() : there.bitrate;
        const url = source.switchUrl(at, settings, old, bitrate);
        const response = await fetch(url);
        if (!response.ok) throw new Error(await errorLine(response));
        const reader = response.body.getReader();
        let piece = await reader.read();
        const firstByte = performance.now();
        buffer.appendWindowEnd = index === meta.total - 1 ? meta.duration : Infinity;
        let appendedFirst = null;
        while (!piece.done) {
          buffer.appendBuffer(piece.value);
          await done();
          if (appendedFirst === null) appendedFirst = performance.now();
          piece = await reader.read();
        }
        bufferedWith.set(index, { ...settings, bitrate, switchedAt: at / RATE, before: old });
        atTime(audio, at / RATE, showPosition);
        switchLead = Math.min(1.0, Math.max(0.08, ((appendedFirst - clicked) / 1000) * 1.5 + 0.03));
        switched = {
          from: old.preset, to: preset, clicked_at: clickedAt, clicked_wall: clicked, at: at / RATE, index, url,
          cache: response.headers.get("x-cache"),
          first_byte_ms: firstByte - clicked, first_appended_ms: appendedFirst - clicked,
        };
        window.player.switches.push(switched);
        log(`preset ${old.preset} -> ${preset} at ${(at / RATE).toFixed(3)} s (clicked at ${clickedAt.toFixed(3)} s; ` +
          `first unit appended after ${switched.first_appended_ms.toFixed(0)} ms, ${switched.cache})`);
      }
    } catch (e) {
      window.player.errors.push(String(e));
      log(`error: ${e}`);
    } finally {
      busy = false;
    }
    if (switched === null) {
      // The chunk at the play head is not buffered (or the source cannot switch inside one):
      // from the next chunk boundary on, as before.
      const boundary = (chunkAt(audio.currentTime) + 1) * meta.chunk;
      log(`preset ${old.preset} -> ${preset} from ${boundary.toFixed(2)} s`);
      while (busy || buffer.updating) await sleep(10);
      if (boundary < meta.duration) {
        buffer.remove(boundary, meta.duration);
        await done();
        for (const i of [...bufferedWith.keys()]) if (i * meta.chunk >= boundary) bufferedWith.delete(i);
      }
    }
    appendNext();
    return switched;
  }

  function drawBuffered(ranges) {
    bar.querySelectorAll(".buffered").forEach((e) => e.remove());
    for (const [a, b] of ranges) {
      const el = document.createElement("div");
      el.className = "buffered";
      el.style.left = `${(100 * a) / meta.duration}%`;
      el.style.width = `${(100 * (b - a)) / meta.duration}%`;
      bar.prepend(el);
    }
  }

  const showPosition = () => {
    bar.querySelector(".played").style.width = `${(100 * audio.currentTime) / meta.duration}%`;
    document.getElementById("position").textContent = fmtTime(audio.currentTime);
    document.getElementById("duration").textContent = fmtTime(meta.duration);
    // The preset named is the one being heard (it changes when the audio does).
    const heard = heardAt(audio.currentTime);
    document.getElementById("status").textContent = `playing ${(heard || settings).preset}` +
      (settings.intensity !== 1 ? ` at intensity ${settings.intensity}` : "");
  };
  showPosition();
  audio.addEventListener("timeupdate", () => { showPosition(); appendNext(); }, on);
  audio.addEventListener("seeking", () => { showPosition(); appendNext(); }, on);
  audio.addEventListener("ended", () => { window.player.ended = true; log(`ended at ${audio.currentTime.toFixed(3)} s`); }, on);
  audio.addEventListener("error", () => {
    const line = `media error ${audio.error && audio.error.code}: ${audio.error && audio.error.message}`;
    window.player.errors.push(line);
    showError(`the browser could not play this stream (${line})`);
  }, on);
  bar.addEventListener("click", (e) => {
    const rect = bar.getBoundingClientRect();
    audio.currentTime = ((e.clientX - rect.left) / rect.width) * meta.duration;
  }, on);
  // What a browser's eviction does, on demand (the automated check): removes chunk `index`'s
  // range from the buffer.
  async function evict(index) {
    while (busy || buffer.updating) await new Promise((r) => setTimeout(r, 10));
    buffer.remove(index * meta.chunk, Math.min((index + 1) * meta.chunk, meta.duration));
    await done();
  }

  // The stall watchdog's remedy (ui.js's watchStalls): seek to where the clock stopped; the
  // second time in a row there, also drop the chunk there and append it again.
  async function recover(t, attempt) {
    if (closed) return;
    window.player.stalls.push({ at: t, attempt, wall: performance.now() });
    log(`stalled at ${t.toFixed(3)} s (attempt ${attempt}): ${attempt >= 2 ? "re-appending the chunk and seeking" : "seeking"} there`);
    if (attempt >= 2) {
      const index = chunkAt(t);
      while (busy || buffer.updating) await sleep(10);
      if (closed) return;
      buffer.remove(index * meta.chunk, Math.min((index + 1) * meta.chunk, meta.duration));
      await done();
      bufferedWith.delete(index);
      appendNext();
    }
    audio.currentTime = t;
  }

  function close() {
    closed = true;
    session.abort();
  }

  appendNext();
  return { setPreset, chunkAt, evict, heardAt, recover, close, meta };
}

// The listener's page: what plays and the library around it (see the top of this file).
const page = { library: [], index: -1, controls: null, settings: null, figures: 0 };

function showNowPlaying(track) {
  document.getElementById("title").textContent = track ? track.title : "–";
  document.getElementById("subtitle").textContent = track ? [track.artist, track.album].filter(Boolean).join(" — ") : "";
  document.title = track ? `${track.title} · Auralis player` : "Auralis player";
  document.querySelectorAll("#library tbody tr").forEach((row, i) => row.classList.toggle("current", i === page.index));
  document.getElementById("prev").disabled = page.index <= 0;
  document.getElementById("next").disabled = page.index < 0 || page.index >= page.library.length - 1;
}

function drawLibrary(onPick) {
  const body = document.querySelector("#library tbody");
  body.innerHTML = "";
  page.library.forEach((t, i) => {
    const row = body.insertRow();
    row.insertCell().textContent = t.track ?? i + 1;
    row.cells[0].className = "num";
    row.insertCell().textContent = t.title;
    row.insertCell().textContent = t.artist || "";
    row.insertCell().textContent = t.album || "";
    const length = row.insertCell();
    length.className = "num";
    length.textContent = t.duration === null || t.duration === undefined ? "" : fmtTime(t.duration);
    row.title = `play ${t.title}`;
    row.addEventListener("click", () => onPick(i));
  });
  document.getElementById("library").hidden = false;
}

// The before → after figures of the mastering playing (the target until the server has
// measured the output, which costs about an analysis: asked once the first chunk is in).
async function showFigures(api, settings) {
  const ticket = ++page.figures;
  const el = document.getElementById("figures");
  el.textContent = "";
  const q = `preset=${encodeURIComponent(settings.preset)}&intensity=${settings.intensity}`;
  try {
    const r = await fetch(`${api}/stream/${encodeURIComponent(settings.track)}/mastering?${q}`);
    if (!r.ok || ticket !== page.figures) return;
    const f = await r.json();
    if (ticket !== page.figures) return;
    el.textContent = `${settings.preset}: ${figuresLine(f.before, f.target, f.after)}`;
    window.player.figures = { preset: settings.preset, ...f };
  } catch (e) {
    log(`figures: ${e}`);
  }
}

// Plays library entry `i` (API mode) in the page: the old track's stream is closed, the new
// one opened with the preset and intensity in use; plays at once when `autoplay`.
async function loadTrack(api, i, autoplay) {
  if (page.controls) page.controls.close();
  audio.pause();
  page.index = i;
  const track = page.library[i];
  page.settings = { ...page.settings, track: track.id };
  window.player.ended = false;
  // The error line is about the track left (the first track keeps what the URL's check said).
  if (window.player.tracks.length) showError("");
  window.player.tracks.push({ id: track.id, title: track.title, wall: performance.now() });
  showNowPlaying(track);
  const next = new URLSearchParams(location.search);
  next.set("track", track.id);
  history.replaceState(null, "", `?${next}`);
  page.controls = await play(page.settings);
  window.player.session = startSession(api, track);
  if (autoplay) await audio.play().catch((e) => log(`play: ${e}`));
  const waitFirst = async () => {
    const started = window.player.appended.length;
    while (window.player.appended.slice(started).length === 0 && page.settings.track === track.id) await new Promise((r) => setTimeout(r, 100));
  };
  if (page.settings.track === track.id) waitFirst().then(() => { if (page.settings.track === track.id) showFigures(api, page.settings); });
}

function startSession(api, track) {
  const session = mediaSession(track, {
    play: () => audio.play(),
    pause: () => audio.pause(),
    previoustrack: () => skip(api, -1),
    nexttrack: () => skip(api, 1),
    seekbackward: () => { audio.currentTime = Math.max(0, audio.currentTime - 5); },
    seekforward: () => { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 5); },
    seekto: (d) => { audio.currentTime = d.seekTime; },
  });
  page.position = session.position;
  const m = navigator.mediaSession && navigator.mediaSession.metadata;
  return { title: m ? m.title : null, artist: m ? m.artist : null, album: m ? m.album : null, actions: session.actions };
}

// The previous (`delta` -1) or the next (+1) track of the library; the previous one restarts
// the track playing when it has played more than 3 s, as players do.
function skip(api, delta) {
  if (!api || page.index < 0) return;
  if (delta < 0 && audio.currentTime > 3) { audio.currentTime = 0; return; }
  const i = page.index + delta;
  if (i < 0 || i >= page.library.length) return;
  loadTrack(api, i, !audio.paused || audio.ended);
}

async function main() {
  const api = params.get("api");
  // An intensity that is not a number in [0, 1] (?intensity=abc) is 1, said on the page.
  let intensity = Number(params.get("intensity") ?? 1);
  if (!Number.isFinite(intensity) || intensity < 0 || intensity > 1) {
    showError(`intensity ${JSON.stringify(params.get("intensity"))} is not a number from 0 to 1: playing at 1`);
    window.player.warnings = [`intensity ${params.get("intensity")}`];
    intensity = 1;
  }
  page.settings = { track: params.get("track"), preset: params.get("preset") || "adaptive", intensity };
  const presetSelect = document.getElementById("preset");
  presetSelect.value = page.settings.preset;
  const playButton = document.getElementById("playpause");
  const playPause = () => (audio.paused ? audio.play().catch((e) => log(`play: ${e}`)) : audio.pause());
  playButton.addEventListener("click", playPause);
  const showPlaying = () => { playButton.textContent = audio.paused ? "Play" : "Pause"; };
  audio.addEventListener("play", showPlaying);
  audio.addEventListener("pause", showPlaying);
  audio.addEventListener("timeupdate", () => { if (page.position) page.position(audio); });
  const state = stateLine(audio, document.getElementById("state"), window.player.states);
  // A stall is said on the page while it is being recovered (WebKitGTK, issue 37's 2f).
  watchStalls(audio, (t, attempt) => {
    state.say(`Stalled at ${fmtTime(t)}: recovering (${attempt >= 2 ? "fetching it again" : "seeking there"})…`);
    if (page.controls) page.controls.recover(t, attempt);
  }, Number(params.get("stall_ms") || 2000));
  keyboard({
    playpause: playPause,
    seekbackward: () => { audio.currentTime = Math.max(0, audio.currentTime - 5); },
    seekforward: () => { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 5); },
    previoustrack: () => skip(api, -1),
    nexttrack: () => skip(api, 1),
  });
  document.getElementById("prev").addEventListener("click", () => skip(api, -1));
  document.getElementById("next").addEventListener("click", () => skip(api, 1));
  presetSelect.addEventListener("change", async () => {
    await page.controls.setPreset(presetSelect.value);
    if (api) showFigures(api, page.settings);
  });
  if (api) {
    const answer = await fetch(`${api}/tracks`);
    if (!answer.ok) throw new Error(await errorLine(answer));
    page.library = await answer.json();
    const pick = (i) => loadTrack(api, i, true);
    drawLibrary(pick);
    let i = page.settings.track ? page.library.findIndex((t) => t.id === page.settings.track) : 0;
    if (i < 0) {
      // Not in the library: the server says so in its own words (one line), nothing plays.
      const r = await fetch(`${api}/stream/${encodeURIComponent(page.settings.track)}/metadata`);
      throw new Error(r.ok ? `unknown track '${page.settings.track}'` : await errorLine(r));
    }
    if (!page.library.length) throw new Error("the library is empty");
    // Auto-advance: at a track's end the next one of the library plays.
    audio.addEventListener("ended", () => {
      if (params.get("test") === "1") return; // the automated check seeks around after the end
      if (page.index + 1 < page.library.length) loadTrack(api, page.index + 1, true);
    });
    await loadTrack(api, i, params.get("autoplay") === "1");
    if (testsLoaded && params.get("test") !== "state") await runTest(await testsLoaded, api);
  } else {
    document.getElementById("prev").hidden = document.getElementById("next").hidden = true;
    document.getElementById("queuelink").hidden = true;
    page.controls = await play(page.settings);
    const meta = page.controls.meta;
    showNowPlaying({ title: (params.get("dir") || "chunks").split("/").filter(Boolean).pop(), artist: meta && meta.preset ? `rendered with ${meta.preset}` : "" });
  }
}

// ?test=…: the automated checks the browser tests run (player-tests.js, with the Web Audio
// tap of capture.js), loaded only then. ?test=state reports even when the page failed.
const testsLoaded = params.get("test") ? loadScripts("capture.js", "player-tests.js").then(() => params.get("test")) : null;

main()
  .catch((e) => { window.player.errors.push(String(e)); log(`error: ${e}`); showError(e.message || String(e)); })
  .finally(async () => { if (params.get("test") === "state") { await testsLoaded; await reportState(); } });
