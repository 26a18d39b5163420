//! The built-in demo track: a deterministic, synthesized piece of about two minutes.
//!
//! A 120 bpm A-minor progression (Am–F–C–G) for bass, pad, a plucked lead, kick, snare and
//! hi-hat, in sections of different density and level (quiet intro, verse, loud chorus, a
//! near-silent breakdown, a louder final chorus, a fading outro) so that the mastering stages
//! have dynamics to work on. It is generated at 44.1 kHz and handed to the pipeline as a 16-bit
//! WAV in memory, so the demo exercises decoding and resampling like any file. Same bytes on
//! every run and platform: the noise comes from a fixed xorshift generator, and the samples are
//! quantised from f64.

use std::f64::consts::TAU;
use std::io::Cursor;

use crate::decode::Source;
use crate::error::DecodeError;

/// Sample rate of the demo's WAV.
pub const DEMO_RATE_HZ: u32 = 44_100;
/// Bars of 2 s (120 bpm, 4/4).
const BARS: usize = 61;
const BAR_S: f64 = 2.0;

/// Section per bar range: (first bar, level in dB, which parts play: bass, pad, lead, drums).
const SECTIONS: [(usize, f64, [bool; 4]); 7] = [
    (0, -24.0, [false, true, false, false]), // intro: pad alone, quiet
    (8, -14.0, [true, true, false, true]),   // verse
    (20, -6.0, [true, true, true, true]),    // chorus, loud
    (32, -30.0, [false, true, true, false]), // breakdown, near-silent
    (40, -12.0, [true, true, false, true]),  // build
    (46, -3.0, [true, true, true, true]),    // final chorus, loudest
    (58, -10.0, [false, true, true, false]), // outro, fading
];

/// Root notes (MIDI) of the progression, one chord per bar.
const CHORDS: [[i32; 3]; 4] = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]];
/// Lead melody: eighth-note scale degrees over 2 bars (MIDI), 0 = rest.
const MELODY: [i32; 16] = [76, 0, 74, 72, 71, 72, 74, 0, 72, 71, 69, 0, 67, 69, 71, 72];

fn midi_hz(note: i32) -> f64 {
    440.0 * 2f64.powf(f64::from(note - 69) / 12.0)
}

/// Frames in the demo at 44.1 kHz.
pub fn demo_frames() -> u64 {
    (BARS as f64 * BAR_S * f64::from(DEMO_RATE_HZ)) as u64
}

/// The demo as interleaved stereo `f64` samples at [`DEMO_RATE_HZ`].
pub fn synthesize() -> Vec<f64> {
    let rate = f64::from(DEMO_RATE_HZ);
    let frames = demo_frames() as usize;
    let mut out = vec![0.0f64; frames * 2];
    let mut noise_state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = move || {
        noise_state ^= noise_state << 13;
        noise_state ^= noise_state >> 7;
        noise_state ^= noise_state << 17;
        (noise_state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let beat = BAR_S / 4.0;
    for (i, frame) in out.chunks_exact_mut(2).enumerate() {
        let t = i as f64 / rate;
        let bar = (t / BAR_S) as usize;
        let section = SECTIONS
            .iter()
            .rev()
            .find(|s| s.0 <= bar)
            .expect("bar 0 has a section");
        let next_level = SECTIONS.iter().find(|s| s.0 > bar).map_or(-40.0, |s| s.1);
        // Crossfade levels over the last bar of a section, so sections swell rather than jump.
        let bar_in_section_end = SECTIONS.iter().find(|s| s.0 > bar).map_or(BARS, |s| s.0);
        let ramp = if bar + 1 == bar_in_section_end {
            (t / BAR_S).fract()
        } else {
            0.0
        };
        let level = 10f64.powf((section.1 + (next_level - section.1) * ramp) / 20.0);
        let [bass_on, pad_on, lead_on, drums_on] = section.2;
        let chord = CHORDS[bar % 4];
        let in_bar = t - bar as f64 * BAR_S;
        let in_beat = in_bar % beat;
        let (mut left, mut right) = (0.0, 0.0);
        if pad_on {
            for (k, &note) in chord.iter().enumerate() {
                let f = midi_hz(note);
                let detune = 1.0 + 0.002 * (k as f64 - 1.0);
                let v = (TAU * f * t).sin() + 0.3 * (TAU * 2.0 * f * detune * t).sin();
                let swell = 0.6 + 0.4 * (TAU * 0.25 * t + k as f64).sin();
                left += 0.12 * v * swell * (1.0 - 0.3 * k as f64 / 2.0);
                right += 0.12 * v * swell * (0.7 + 0.3 * k as f64 / 2.0);
            }
        }
        if bass_on {
            let f = midi_hz(chord[0] - 24);
            let env = (-(in_beat) * 3.0).exp();
            let v = (TAU * f * t).sin()
                + 0.4 * (TAU * 2.0 * f * t).sin()
                + 0.15 * (TAU * 3.0 * f * t).sin();
            left += 0.35 * v * (0.5 + 0.5 * env);
            right += 0.35 * v * (0.5 + 0.5 * env);
        }
        if lead_on {
            let eighth = (t / (beat / 2.0)) as usize;
            let note = MELODY[eighth % MELODY.len()];
            if note != 0 {
                let since = t % (beat / 2.0);
                let f = midi_hz(note);
                let env = (-since * 6.0).exp();
                let v: f64 = (1..=6)
                    .map(|h| (TAU * f * h as f64 * t).sin() / (h * h) as f64)
                    .sum();
                left += 0.22 * v * env * 0.8;
                right += 0.22 * v * env * 1.0;
            }
        }
        if drums_on {
            let beat_index = (in_bar / beat) as usize;
            // Kick on 1 and 3: a sine sweeping from 120 Hz down to 45 Hz.
            if beat_index.is_multiple_of(2) {
                let f_phase =
                    45.0 * in_beat + (120.0 - 45.0) / 30.0 * (1.0 - (-30.0 * in_beat).exp());
                let v = (TAU * f_phase).sin() * (-in_beat * 8.0).exp();
                left += 0.6 * v;
                right += 0.6 * v;
            }
            let n = noise();
            // Snare on 2 and 4, hi-hat on every eighth.
            if !beat_index.is_multiple_of(2) {
                let v = (0.7 * n + 0.3 * (TAU * 190.0 * in_beat).sin()) * (-in_beat * 18.0).exp();
                left += 0.3 * v;
                right += 0.3 * v;
            }
            let since_eighth = in_bar % (beat / 2.0);
            let hat = n * (-since_eighth * 90.0).exp() * 0.08;
            left += hat * 0.7;
            right += hat;
        }
        frame[0] = left * level * 1.6;
        frame[1] = right * level * 1.6;
    }
    out
}

/// The demo as a 16-bit stereo WAV file in memory.
pub fn demo_wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: DEMO_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("writing to memory");
        for x in synthesize() {
            let q = (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
            writer.write_sample(q).expect("writing to memory");
        }
        writer.finalize().expect("writing to memory");
    }
    bytes.into_inner()
}

/// The demo, opened as a source.
pub fn demo_source() -> Result<Source, DecodeError> {
    Source::from_bytes(demo_wav(), Some("wav"))
}
