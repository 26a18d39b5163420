"use strict";
// Records what an <audio> element plays, through Web Audio, as interleaved stereo float32 at
// 48 kHz (used by the automated browser tests to check joins and preset switches by ear).
// startCapture(audio) resolves to { stop() -> Float32Array } once recording runs.
async function startCapture(audio) {
  const ctx = new AudioContext({ sampleRate: 48000 });
  const source = ctx.createMediaElementSource(audio);
  const recorder = ctx.createScriptProcessor(4096, 2, 2);
  const blocks = [];
  recorder.onaudioprocess = (e) => {
    const l = e.inputBuffer.getChannelData(0);
    const r = e.inputBuffer.getChannelData(1);
    const block = new Float32Array(l.length * 2);
    for (let i = 0; i < l.length; i++) { block[2 * i] = l[i]; block[2 * i + 1] = r[i]; }
    blocks.push(block);
  };
  source.connect(recorder);
  recorder.connect(ctx.destination);
  await ctx.resume();
  return {
    stop() {
      recorder.onaudioprocess = null;
      const total = blocks.reduce((n, b) => n + b.length, 0);
      const all = new Float32Array(total);
      let at = 0;
      for (const b of blocks) { all.set(b, at); at += b.length; }
      return all;
    },
  };
}
