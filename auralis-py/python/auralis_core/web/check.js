"use strict";
// Appends chunk files in the requested order, records the buffered ranges after each append,
// then plays the whole stream at 16x and records where `ended` fired.
// Parameters: dir (a render output), order (chunk indices), dirs (optional: per chunk index, the
// render output to take that chunk from, e.g. the same track at another bitrate), capture=1
// (play at normal speed and record through Web Audio), normal=1 (play at normal speed, audible,
// for a recording made outside the page: at the sound server), mms=1 (ManagedMediaSource
// instead of MediaSource: remote playback off, chunks appended once it starts streaming),
// naive=DIR,DIR (tracks appended one after the other with timestampOffset, see below).
(async () => {
  const out = { supported: false, appends: [], errors: [], ended_at: null, duration_s: null, advanced: false };
  const done = () => {
    const json = JSON.stringify(out);
    document.getElementById("result").textContent = json;
    // Report to the server that served the page (the automated test waits for this).
    fetch(`/result?${encodeURIComponent(json)}`).catch(() => {});
  };
  try {
    const params = new URLSearchParams(location.search);
    const dir = params.get("dir");
    const manifest = await (await fetch(`${dir}/manifest.json`)).json();
    out.duration_s = manifest.duration_s;
    // The manifest's type, or its other spelling (Safari wants codecs="Opus" for MP4, WebKitGTK
    // and Chromium "opus").
    const managed = params.get("mms") === "1";
    const MSE = managed ? window.ManagedMediaSource : window.MediaSource;
    out.mse = managed ? "ManagedMediaSource" : "MediaSource";
    if (!MSE) throw new Error(`${out.mse} is absent`);
    const spellings = [manifest.mime, manifest.mime.replace('"opus"', '"Opus"')];
    const mime = spellings.find((m) => MSE.isTypeSupported(m));
    out.supported = mime !== undefined;
    out.mime = mime || null;
    if (!mime) throw new Error(`${manifest.mime} is not supported`);
    const dirs = (params.get("dirs") || "").split(",").filter((x) => x !== "");
    const dirOf = (index) => dirs[index] || dir;
    const order = (params.get("order") || "").split(",").filter((x) => x !== "").map(Number);
    const audio = document.getElementById("audio");
    audio.addEventListener("error", () => out.errors.push(`media error ${audio.error && audio.error.code}`));
    const ms = new MSE();
    if (managed) {
      // ManagedMediaSource opens only without remote playback; it says when to fetch.
      audio.disableRemotePlayback = true;
      out.streaming_events = [];
      ms.addEventListener("startstreaming", () => out.streaming_events.push("start"));
      ms.addEventListener("endstreaming", () => out.streaming_events.push("end"));
    }
    audio.src = URL.createObjectURL(ms);
    await new Promise((r) => ms.addEventListener("sourceopen", r, { once: true }));
    if (managed && !ms.streaming) {
      await Promise.race([
        new Promise((r) => ms.addEventListener("startstreaming", r, { once: true })),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
    }
    if (managed) out.streaming_at_first_append = ms.streaming;
    ms.duration = manifest.duration_s;
    const sb = ms.addSourceBuffer(mime);
    const appended = () => new Promise((r, e) => {
      sb.addEventListener("updateend", r, { once: true });
      sb.addEventListener("error", () => e(new Error("append failed")), { once: true });
    });
    // MP4 chunk files are media segments: the init segment goes first (format 1 manifests are
    // WebM chunk files, which carry it).
    if (manifest.chunk_files_include_init === false) {
      sb.appendBuffer(await (await fetch(`${dir}/${manifest.init.file}`)).arrayBuffer());
      await appended();
    }
    // naive=DIR,DIR,...: the naive way to play tracks back to back, for comparison with a
    // queue: each track's own render (chunks timestamped from 0), appended after the previous
    // track with timestampOffset = where it starts, its end cut with appendWindowEnd.
    const naive = (params.get("naive") || "").split(",").filter((x) => x !== "");
    let offset = 0;
    for (const trackDir of naive) {
      const m = await (await fetch(`${trackDir}/manifest.json`)).json();
      sb.timestampOffset = offset;
      sb.appendWindowEnd = offset + m.duration_s;
      for (const c of m.chunks) {
        sb.appendBuffer(await (await fetch(`${trackDir}/${c.file || c.webm}`)).arrayBuffer());
        await new Promise((r, e) => {
          sb.addEventListener("updateend", r, { once: true });
          sb.addEventListener("error", () => e(new Error(`append of ${trackDir} chunk ${c.index} failed`)), { once: true });
        });
      }
      offset += m.duration_s;
      const ranges = [];
      for (let i = 0; i < sb.buffered.length; i++) ranges.push([sb.buffered.start(i), sb.buffered.end(i)]);
      out.appends.push({ track: trackDir, ranges });
    }
    for (const index of order) {
      const chunk = manifest.chunks[index];
      const bytes = await (await fetch(`${dirOf(index)}/${chunk.file || chunk.webm}`)).arrayBuffer();
      sb.appendWindowEnd = index === manifest.total_chunks - 1 ? manifest.duration_s : Infinity;
      sb.appendBuffer(bytes);
      await new Promise((r, e) => {
        sb.addEventListener("updateend", r, { once: true });
        sb.addEventListener("error", () => e(new Error(`append of chunk ${index} failed`)), { once: true });
      });
      const ranges = [];
      for (let i = 0; i < sb.buffered.length; i++) ranges.push([sb.buffered.start(i), sb.buffered.end(i)]);
      out.appends.push({ index, ranges });
    }
    ms.endOfStream();
    // capture=1: play at normal speed through Web Audio and record the output; otherwise play
    // muted at 16x (timing checks only).
    const capture = params.get("capture") === "1";
    let recording = null;
    if (capture) {
      recording = await startCapture(audio);
    } else if (params.get("normal") === "1") {
      audio.muted = false;
      audio.playbackRate = 1;
    } else {
      audio.muted = true;
      audio.playbackRate = 16;
    }
    const ended = new Promise((r) => audio.addEventListener("ended", r, { once: true }));
    const timeout = new Promise((_, e) => setTimeout(() => e(new Error("playback did not end")), 60000));
    await audio.play();
    const t0 = audio.currentTime;
    setTimeout(() => { out.advanced = audio.currentTime > t0; }, 200);
    await Promise.race([ended, timeout]);
    out.advanced = true;
    out.ended_at = audio.currentTime;
    if (recording) {
      // Let the last buffers through, then send the interleaved recording to the server.
      await new Promise((r) => setTimeout(r, 1500));
      const all = await recording.stop();
      await fetch("/capture", { method: "POST", body: all.buffer });
      out.captured_frames = all.length / 2;
    }
  } catch (e) {
    out.errors.push(String(e));
  }
  done();
})();
