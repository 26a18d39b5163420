"use strict";
// Plays an HLS playlist with hls.js to the end; reports errors, where `ended` fired, and (with
// capture=1) the Web Audio recording, as check.js does.
(async () => {
  const out = { supported: false, errors: [], ended_at: null, hls_version: null };
  const done = () => {
    const json = JSON.stringify(out);
    document.getElementById("result").textContent = json;
    fetch(`/result?${encodeURIComponent(json)}`).catch(() => {});
  };
  try {
    const params = new URLSearchParams(location.search);
    const audio = document.getElementById("audio");
    out.supported = window.Hls !== undefined && Hls.isSupported();
    out.hls_version = window.Hls ? Hls.version : null;
    if (!out.supported) throw new Error("hls.js is not supported here");
    const hls = new Hls({ enableWorker: false });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) out.errors.push(`hls.js: ${data.type} ${data.details}`);
    });
    audio.addEventListener("error", () => out.errors.push(`media error ${audio.error && audio.error.code}`));
    const parsed = new Promise((r) => hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => r(data)));
    hls.loadSource(params.get("playlist"));
    hls.attachMedia(audio);
    const manifest = await parsed;
    out.levels = manifest.levels.length;
    const recording = params.get("capture") === "1" ? await startCapture(audio) : null;
    const ended = new Promise((r) => audio.addEventListener("ended", r, { once: true }));
    await audio.play();
    await Promise.race([ended, new Promise((_, e) => setTimeout(() => e(new Error("playback did not end")), 60000))]);
    out.ended_at = audio.currentTime;
    out.duration_s = audio.duration;
    if (recording) {
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
