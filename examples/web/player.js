// Minimal MSE player for the render example's output. Appends chunk files (init segment +
// media segment, absolute timestamps) to one SourceBuffer: in order while playing, and the
// chunk under the play head first after a seek. No timestampOffset is needed.
"use strict";

const params = new URLSearchParams(location.search);
const dir = (params.get("dir") || ".").replace(/\/$/, "");
const audio = document.getElementById("audio");
const bar = document.getElementById("bar");
const log = (msg) => { document.getElementById("log").textContent += msg + "\n"; };
// State the automated browser test reads.
window.player = { appended: [], errors: [], ended: false, manifest: null };

async function main() {
  const manifest = await (await fetch(`${dir}/manifest.json`)).json();
  window.player.manifest = manifest;
  if (!MediaSource.isTypeSupported(manifest.mime)) {
    throw new Error(`${manifest.mime} is not supported by this browser`);
  }
  const mediaSource = new MediaSource();
  audio.src = URL.createObjectURL(mediaSource);
  await new Promise((resolve) => mediaSource.addEventListener("sourceopen", resolve, { once: true }));
  mediaSource.duration = manifest.duration_s;
  const buffer = mediaSource.addSourceBuffer(manifest.mime);
  const pending = new Set(manifest.chunks.map((c) => c.index));
  let busy = false;

  const chunkAt = (t) => Math.min(manifest.total_chunks - 1, Math.floor(t / manifest.chunk_seconds));
  const nextIndex = () => {
    // The chunk under the play head first, then the following ones, then any left.
    const here = chunkAt(audio.currentTime);
    for (let i = here; i < manifest.total_chunks; i++) if (pending.has(i)) return i;
    return pending.size ? Math.min(...pending) : null;
  };

  async function appendNext() {
    if (busy) return;
    const index = nextIndex();
    if (index === null) {
      if (mediaSource.readyState === "open" && !buffer.updating) mediaSource.endOfStream();
      return;
    }
    busy = true;
    pending.delete(index);
    const chunk = manifest.chunks[index];
    const bytes = await (await fetch(`${dir}/${chunk.webm}`)).arrayBuffer();
    // The last chunk's final packet is padded: cut playback at the exact end of the track.
    buffer.appendWindowEnd = index === manifest.total_chunks - 1 ? manifest.duration_s : Infinity;
    buffer.appendBuffer(bytes);
    await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
    const ranges = [];
    for (let i = 0; i < buffer.buffered.length; i++) ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
    window.player.appended.push({ index, ranges });
    log(`chunk ${index} appended; buffered ${ranges.map(([a, b]) => `${a.toFixed(3)}-${b.toFixed(3)}`).join(", ")}`);
    busy = false;
    drawBuffered(ranges);
    appendNext();
  }

  function drawBuffered(ranges) {
    bar.querySelectorAll(".buffered").forEach((e) => e.remove());
    for (const [a, b] of ranges) {
      const el = document.createElement("div");
      el.className = "buffered";
      el.style.left = `${(100 * a) / manifest.duration_s}%`;
      el.style.width = `${(100 * (b - a)) / manifest.duration_s}%`;
      bar.prepend(el);
    }
  }

  audio.addEventListener("timeupdate", () => {
    bar.querySelector(".played").style.width = `${(100 * audio.currentTime) / manifest.duration_s}%`;
    document.getElementById("status").textContent =
      `${audio.currentTime.toFixed(2)} / ${manifest.duration_s.toFixed(2)} s, preset ${manifest.preset}`;
  });
  audio.addEventListener("seeking", () => appendNext());
  audio.addEventListener("ended", () => { window.player.ended = true; log(`ended at ${audio.currentTime.toFixed(3)} s`); });
  audio.addEventListener("error", () => window.player.errors.push(String(audio.error && audio.error.message)));
  bar.addEventListener("click", (e) => {
    const rect = bar.getBoundingClientRect();
    audio.currentTime = ((e.clientX - rect.left) / rect.width) * manifest.duration_s;
  });
  appendNext();
}

main().catch((e) => { window.player.errors.push(String(e)); log(`error: ${e}`); });
