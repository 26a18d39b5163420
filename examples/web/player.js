// Minimal MSE player, for two sources:
//   ?dir=PATH       a directory written by the `render` example (manifest.json + chunk files);
//   ?api=/api       the streaming server (examples/python/server.py): a track list, a preset
//                   selector, the init segment once, then media segments per chunk.
// Chunks carry absolute timestamps, so they are appended to one SourceBuffer in any order
// without timestampOffset: in order while playing (at most AHEAD chunks past the play head),
// the chunk under the play head first after a seek. A preset change takes effect at the next
// chunk boundary: what is buffered past it is removed and re-appended with the new preset, the
// first chunk as a transition chunk (it crossfades from the old preset, so the switch has no
// click). With ?test=1 (API mode) the page runs the automated check: play, switch, seek,
// report (see auralis-py/tests/test_browser.py).
"use strict";

const params = new URLSearchParams(location.search);
const audio = document.getElementById("audio");
const bar = document.getElementById("bar");
const log = (msg) => { document.getElementById("log").textContent += msg + "\n"; };
const AHEAD = 2;
// State the automated browser tests read.
window.player = { appended: [], errors: [], ended: false, meta: null };

// Where chunks come from: { meta, initUrl (or null), chunkUrl(index, settings, from) }.
async function openSource(settings) {
  const api = params.get("api");
  if (api) {
    const q = `preset=${encodeURIComponent(settings.preset)}&intensity=${settings.intensity}`;
    const base = `${api}/stream/${encodeURIComponent(settings.track)}`;
    const m = await (await fetch(`${base}/metadata?${q}`)).json();
    if (m.total_chunks === undefined) throw new Error(`metadata: ${JSON.stringify(m)}`);
    return {
      meta: { duration: m.duration, chunk: m.chunk_duration, total: m.total_chunks, mime: m.mime },
      initUrl: `${base}/init?${q}`,
      chunkUrl: (i, s, from) => {
        let url = `${base}/chunk/${i}?preset=${encodeURIComponent(s.preset)}&intensity=${s.intensity}`;
        if (from) url += `&transition_from=${encodeURIComponent(`${from.preset}:${from.intensity}`)}`;
        return url;
      },
    };
  }
  const dir = (params.get("dir") || ".").replace(/\/$/, "");
  const m = await (await fetch(`${dir}/manifest.json`)).json();
  return {
    meta: { duration: m.duration_s, chunk: m.chunk_seconds, total: m.total_chunks, mime: m.mime, preset: m.preset },
    initUrl: null, // chunk files carry the init segment
    chunkUrl: (i) => `${dir}/${m.chunks[i].webm}`,
  };
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return response.arrayBuffer();
}

async function play(settings) {
  const source = await openSource(settings);
  const meta = source.meta;
  window.player.meta = meta;
  if (!MediaSource.isTypeSupported(meta.mime)) throw new Error(`${meta.mime} is not supported by this browser`);
  const mediaSource = new MediaSource();
  audio.src = URL.createObjectURL(mediaSource);
  await new Promise((resolve) => mediaSource.addEventListener("sourceopen", resolve, { once: true }));
  mediaSource.duration = meta.duration;
  const buffer = mediaSource.addSourceBuffer(meta.mime);
  const done = () => new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", () => reject(new Error("SourceBuffer error")), { once: true });
  });
  if (source.initUrl) {
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

  async function appendNext() {
    if (busy) return;
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
      const bytes = await fetchBytes(source.chunkUrl(index, current, from));
      if (!same(current, settings)) return; // the preset changed while fetching: fetch again
      // The last chunk's final packet is padded: cut playback at the exact end of the track.
      buffer.appendWindowEnd = index === meta.total - 1 ? meta.duration : Infinity;
      buffer.appendBuffer(bytes);
      await done();
      bufferedWith.set(index, current);
      const ranges = [];
      for (let i = 0; i < buffer.buffered.length; i++) ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
      window.player.appended.push({ index, preset: current.preset, from: from && from.preset, ranges });
      log(`chunk ${index} (${current.preset}${from ? ` from ${from.preset}` : ""}) appended; buffered ${ranges.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)}`).join(", ")}`);
      drawBuffered(ranges);
    } catch (e) {
      window.player.errors.push(String(e));
      log(`error: ${e}`);
      return;
    } finally {
      busy = false;
    }
    appendNext();
  }

  // Switch settings at the next chunk boundary: drop what is buffered after it.
  async function setPreset(preset, intensity = settings.intensity) {
    const old = { ...settings };
    settings.preset = preset;
    settings.intensity = intensity;
    const boundary = (chunkAt(audio.currentTime) + 1) * meta.chunk;
    log(`preset ${old.preset} -> ${preset} from ${boundary.toFixed(2)} s`);
    while (busy || buffer.updating) await new Promise((r) => setTimeout(r, 10));
    if (boundary < meta.duration) {
      buffer.remove(boundary, meta.duration);
      await done();
      for (const i of [...bufferedWith.keys()]) if (i * meta.chunk >= boundary) bufferedWith.delete(i);
    }
    appendNext();
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

  audio.addEventListener("timeupdate", () => {
    bar.querySelector(".played").style.width = `${(100 * audio.currentTime) / meta.duration}%`;
    document.getElementById("status").textContent =
      `${audio.currentTime.toFixed(2)} / ${meta.duration.toFixed(2)} s, preset ${settings.preset}`;
    appendNext();
  });
  audio.addEventListener("seeking", () => appendNext());
  audio.addEventListener("ended", () => { window.player.ended = true; log(`ended at ${audio.currentTime.toFixed(3)} s`); });
  audio.addEventListener("error", () => window.player.errors.push(`media error ${audio.error && audio.error.code}: ${audio.error && audio.error.message}`));
  bar.addEventListener("click", (e) => {
    const rect = bar.getBoundingClientRect();
    audio.currentTime = ((e.clientX - rect.left) / rect.width) * meta.duration;
  });
  appendNext();
  return { setPreset, chunkAt };
}

async function main() {
  const api = params.get("api");
  const settings = { track: params.get("track"), preset: params.get("preset") || "adaptive", intensity: Number(params.get("intensity") || 1) };
  const presetSelect = document.getElementById("preset");
  const trackSelect = document.getElementById("track");
  if (api) {
    document.getElementById("controls").hidden = false;
    const tracks = await (await fetch(`${api}/tracks`)).json();
    for (const t of tracks) trackSelect.add(new Option(t.name, t.id, false, t.id === settings.track));
    settings.track = settings.track || (tracks[0] && tracks[0].id);
    trackSelect.value = settings.track;
    presetSelect.value = settings.preset;
    trackSelect.addEventListener("change", () => {
      const next = new URLSearchParams(location.search);
      next.set("track", trackSelect.value);
      next.set("preset", presetSelect.value);
      location.search = next.toString();
    });
  }
  const controls = await play(settings);
  presetSelect.addEventListener("change", () => controls.setPreset(presetSelect.value));
  if (api && params.get("test") === "1") await autotest(controls, settings);
}

// The automated check: record from the start at normal speed, switch preset during chunk 0
// (it takes effect at the first boundary), play into chunk 1, then seek into the last chunk and
// play to the end; report the appends, errors and the recording to the server.
async function autotest(controls, settings) {
  const report = { switched_to: params.get("switch_to") || "bright", errors: window.player.errors };
  const recording = await startCapture(audio);
  await audio.play();
  const until = (t) => new Promise((resolve) => {
    const check = () => (audio.currentTime >= t || audio.ended ? resolve() : setTimeout(check, 20));
    check();
  });
  const meta = window.player.meta;
  await until(meta.chunk * 0.4);
  await controls.setPreset(report.switched_to);
  await until(meta.chunk * 1.6);
  report.recorded_until = audio.currentTime;
  const captured = await recording.stop();
  audio.muted = true;
  audio.playbackRate = 4;
  const seekTo = Math.max(0, meta.duration - meta.chunk * 0.5);
  audio.currentTime = seekTo;
  const ended = new Promise((r) => audio.addEventListener("ended", r, { once: true }));
  await Promise.race([ended, new Promise((r) => setTimeout(r, 30000))]);
  report.ended = window.player.ended;
  report.ended_at = audio.currentTime;
  report.appended = window.player.appended;
  report.captured_frames = captured.length / 2;
  await fetch("/report/capture", { method: "POST", body: captured.buffer });
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
}

main().catch((e) => { window.player.errors.push(String(e)); log(`error: ${e}`); });
