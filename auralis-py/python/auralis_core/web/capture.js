"use strict";
// Records what an <audio> element plays, through Web Audio, as interleaved stereo float32 at
// 48 kHz (used by the automated browser tests to check joins and preset switches by ear).
// startCapture(audio) resolves to { async stop() -> Float32Array } once recording runs.
//
// The recorder is an AudioWorklet: it copies every 128-frame render quantum on the audio
// thread and posts full blocks to the page, so a busy main thread delays the blocks but never
// loses one (a ScriptProcessor, run on the main thread, skips blocks when the page is late).
// The audio passes through unchanged, so the player still sounds while it records.
const CAPTURE_WORKLET = `
class Recorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(8192 * 2);
    this.filled = 0;
    this.stopped = false;
    this.port.onmessage = () => {
      this.port.postMessage({ last: true, samples: this.block.slice(0, this.filled * 2) });
      this.stopped = true;
    };
  }
  process(inputs, outputs) {
    const input = inputs[0];
    const frames = outputs[0][0].length;
    for (let c = 0; c < outputs[0].length; c++) {
      if (input.length > 0) outputs[0][c].set(input[Math.min(c, input.length - 1)]);
    }
    if (this.stopped) return true;
    // No input channels means silence (the element is not playing yet): record it as zeros so
    // that the recording keeps the audio clock's timing.
    const l = input.length > 0 ? input[0] : null;
    const r = input.length > 1 ? input[1] : l;
    for (let i = 0; i < frames; i++) {
      const at = 2 * (this.filled + i);
      this.block[at] = l ? l[i] : 0;
      this.block[at + 1] = r ? r[i] : 0;
    }
    this.filled += frames;
    if (this.filled * 2 + 2 * frames > this.block.length) {
      this.port.postMessage({ last: false, samples: this.block.slice(0, this.filled * 2) });
      this.filled = 0;
    }
    return true;
  }
}
registerProcessor("auralis-recorder", Recorder);
`;

async function startCapture(audio) {
  const ctx = new AudioContext({ sampleRate: 48000 });
  const url = URL.createObjectURL(new Blob([CAPTURE_WORKLET], { type: "text/javascript" }));
  await ctx.audioWorklet.addModule(url);
  URL.revokeObjectURL(url);
  const source = ctx.createMediaElementSource(audio);
  const recorder = new AudioWorkletNode(ctx, "auralis-recorder", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [2],
    channelCount: 2,
    channelCountMode: "explicit",
    channelInterpretation: "speakers",
  });
  const blocks = [];
  let finished = null;
  const done = new Promise((resolve) => { finished = resolve; });
  recorder.port.onmessage = (e) => {
    blocks.push(e.data.samples);
    if (e.data.last) finished();
  };
  source.connect(recorder);
  recorder.connect(ctx.destination);
  await ctx.resume();
  return {
    // Stops recording (the blocks posted so far, then the partial one) and returns it.
    async stop() {
      recorder.port.postMessage("stop");
      await done;
      source.disconnect();
      recorder.disconnect();
      source.connect(ctx.destination);
      const total = blocks.reduce((n, b) => n + b.length, 0);
      const all = new Float32Array(total);
      let at = 0;
      for (const b of blocks) { all.set(b, at); at += b.length; }
      return all;
    },
  };
}
