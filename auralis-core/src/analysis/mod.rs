//! Track analysis: the measurements the mastering decisions are made from, once per track.
//!
//! Loudness (BS.1770 integrated loudness, loudness range and true peak) comes from
//! [`crate::dsp::loudness`] (the gating and block grid of libebur128, checked against the `ebur128`
//! crate). Spectral balance comes from `realfft`.
//!
//! To be cheap enough to come before the first chunk, a long track is measured on a sparse,
//! deterministic sample: by default ([`Sampling`]) 8 excerpts of 3 s spread evenly over the
//! track (a track up to 30 s is measured whole). The excerpts are measured at
//! the source rate, with one loudness meter each; the gating of integrated loudness and loudness
//! range then runs over the blocks of all excerpts together, which is
//! what a full measurement does with the blocks it has. Measured on the corpus, the sampled
//! integrated loudness stays within 1 LU of the full measurement (a test checks every file).
//! The true peak is the largest peak of the sampled audio, so it can miss a peak between
//! excerpts: the limiter never relies on it.
//!
//! An analysis serializes (serde) and can be stored and passed back in to skip this step.

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use crate::decode::Source;
use crate::dsp::loudness::{self, Measurement};
use crate::error::DecodeError;
use crate::resample::Resampling;
use crate::units::output_frames;
use measure::{Accumulator, ExcerptMeasure, Spectrum};

mod measure;

/// How much of a track the analysis measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Tracks up to this long (seconds) are measured whole.
    pub full_up_to_s: f64,
    /// Excerpts measured in a longer track.
    pub excerpts: u64,
    /// Length of each excerpt in seconds (at least 3: loudness range needs 3 s windows).
    pub excerpt_s: f64,
}

impl Default for Sampling {
    /// Whole up to 30 s; otherwise 8 excerpts of 3 s (24 s, a tenth of a 4-minute track).
    fn default() -> Self {
        Sampling {
            full_up_to_s: 30.0,
            excerpts: 8,
            excerpt_s: 3.0,
        }
    }
}

/// Loudness reported for silence (below the absolute gate).
pub const SILENCE_LUFS: f64 = -120.0;
/// Upper edges of the five preset bands, in Hz (the last band runs to Nyquist).
pub const BAND_EDGES_HZ: [f64; 4] = [200.0, 800.0, 3_000.0, 8_000.0];

const FFT_LEN: usize = 4096;

/// What the mastering decisions are made from. All levels in dB; loudness in LUFS/LU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackAnalysis {
    /// BS.1770 integrated loudness ([`SILENCE_LUFS`] when nothing passes the gates).
    pub integrated_lufs: f64,
    /// EBU Tech 3342 loudness range.
    pub loudness_range_lu: f64,
    /// Largest true peak (4× oversampled, see [`crate::dsp::loudness`]) of the measured audio, in dBTP.
    pub true_peak_dbtp: f64,
    /// Largest sample peak, in dBFS.
    pub sample_peak_dbfs: f64,
    /// RMS level over all channels, in dBFS.
    pub rms_dbfs: f64,
    /// Sample peak minus RMS.
    pub crest_db: f64,
    /// Energy of each preset band (<200, 200-800, 800-3k, 3k-8k, >8k Hz) relative to the total.
    pub band_db: [f64; 5],
    /// Slope of the octave-band spectrum, 63 Hz to 16 kHz, in dB per octave (pink noise: -3).
    pub tilt_db_per_octave: f64,
    /// Correlation of left and right (1: mono, 0: unrelated, -1: anti-phase).
    pub stereo_correlation: f64,
    /// Side level relative to mid level, as a ratio (0: mono).
    pub stereo_width: f64,
    /// Spread of 400 ms levels: 95th minus 10th percentile of the non-silent blocks, in dB.
    pub dynamic_range_db: f64,
    /// Seconds of audio measured.
    pub analyzed_s: f64,
}

impl TrackAnalysis {
    /// Whether the track is silence as far as loudness goes (nothing above the -70 LUFS gate).
    pub fn is_silent(&self) -> bool {
        self.integrated_lufs <= -70.0
    }
}

/// Which frames are measured: `(start, end)` ranges at the source rate.
pub fn excerpts(frames: u64, sample_rate: u32, sampling: &Sampling) -> Vec<(u64, u64)> {
    let rate = f64::from(sample_rate);
    let len = (sampling.excerpt_s * rate).round() as u64;
    if frames as f64 <= sampling.full_up_to_s * rate || len * sampling.excerpts >= frames {
        return vec![(0, frames)];
    }
    let n = sampling.excerpts;
    (0..n)
        .map(|i| {
            let centre = ((2 * i + 1) as f64 / (2 * n) as f64 * frames as f64).round() as u64;
            let start = centre.saturating_sub(len / 2).min(frames - len);
            (start, start + len)
        })
        .collect()
}

/// Measures a source with the default [`Sampling`] on up to `threads` threads (0: the
/// available cores). The result does not depend on `threads`.
pub fn analyze(source: &Source, threads: usize) -> Result<TrackAnalysis, DecodeError> {
    analyze_with(source, &Sampling::default(), threads)
}

/// Measures a source with the given sampling on up to `threads` threads (0: the available
/// cores).
pub fn analyze_with(
    source: &Source,
    sampling: &Sampling,
    threads: usize,
) -> Result<TrackAnalysis, DecodeError> {
    let info = source.info();
    Ok(analyze_excerpts(
        &read_excerpts(source, sampling, threads)?,
        analysis_rate(info.sample_rate),
        info.channels as usize,
        threads,
    ))
}

/// The rate excerpts are analyzed at: the source rate up to 48 kHz, 48 kHz above it.
///
/// Hi-res sources are resampled to the rate the engine plays and masters at: what lies above
/// 24 kHz is not in the output, the mastering chain runs at 48 kHz, and measuring at 96 or
/// 192 kHz cost 2 to 4 times the time and memory for nothing (the `ebur128` loudness-range
/// meter this once used held 3 s of f64 audio per excerpt: 9.2 MB at 192 kHz stereo, for each
/// of 8 excerpts).
pub fn analysis_rate(source_rate: u32) -> u32 {
    source_rate.min(crate::OUTPUT_RATE_HZ)
}

/// Reads the [`excerpts`] of a source (interleaved, at [`analysis_rate`]: sources above
/// 48 kHz are resampled as the renderer resamples them) on up to `threads` threads (0: the
/// available cores), each with its own decoder. Range reads are exact whatever the reader read
/// before, so the samples do not depend on `threads`.
pub fn read_excerpts(
    source: &Source,
    sampling: &Sampling,
    threads: usize,
) -> Result<Vec<Vec<f32>>, DecodeError> {
    read_each(source, sampling, threads, |samples| samples)
}

/// [`read_excerpts`] and [`analyze_excerpts`] in one pass: each excerpt is measured by the task
/// that read it, while its samples are still in cache, with no wait for the other excerpts in
/// between (what a track's first open does). The same excerpts and the same analysis.
pub fn read_and_analyze(
    source: &Source,
    sampling: &Sampling,
    threads: usize,
) -> Result<(Vec<Vec<f32>>, TrackAnalysis), DecodeError> {
    let info = source.info();
    let (rate, channels) = (analysis_rate(info.sample_rate), info.channels as usize);
    let spectrum = Spectrum::new();
    let measured = read_each(source, sampling, threads, |samples| {
        let measure = ExcerptMeasure::of(&samples, rate, channels, &spectrum);
        (samples, measure)
    })?;
    let mut accumulator = Accumulator::new(rate, channels);
    let mut excerpts = Vec::with_capacity(measured.len());
    for (samples, measure) in measured {
        accumulator.add(measure);
        excerpts.push(samples);
    }
    Ok((excerpts, accumulator.finish()))
}

/// Reads each excerpt (see [`read_excerpts`]) and hands it to `then` in the same task; the
/// results in excerpt order.
fn read_each<R: Send>(
    source: &Source,
    sampling: &Sampling,
    threads: usize,
    then: impl Fn(Vec<f32>) -> R + Sync,
) -> Result<Vec<R>, DecodeError> {
    let info = source.info();
    let ranges = excerpts(info.frames, info.sample_rate, sampling);
    let resampling = (analysis_rate(info.sample_rate) != info.sample_rate)
        .then(|| Resampling::new(info.sample_rate, info.channels as usize))
        .flatten();
    crate::parallel::map_indexed(
        ranges.len(),
        crate::parallel::resolve(threads),
        || source.reader().ok(),
        |reader, i| {
            if reader.is_none() {
                // Opening failed in `init`: again, for the error.
                *reader = Some(source.reader()?);
            }
            let reader = reader.as_mut().expect("opened above");
            let (start, end) = ranges[i];
            let samples = if let Some(resampling) = &resampling {
                let rate = info.sample_rate;
                let (start, end) = (output_frames(start, rate), output_frames(end, rate));
                crate::resample::read_resampled(reader, resampling, info.frames, start, end)?
            } else {
                let mut samples =
                    Vec::with_capacity((end - start) as usize * info.channels as usize);
                reader.read(start, end, |block| samples.extend_from_slice(block))?;
                samples
            };
            Ok(then(samples))
        },
    )
    .into_iter()
    .collect()
}

/// Measures excerpts already read (see [`read_excerpts`]) on up to `threads` threads (0: the
/// available cores): each excerpt is measured on its own, the measurements are then combined
/// in excerpt order, so the result does not depend on `threads`.
pub fn analyze_excerpts(
    excerpts: &[Vec<f32>],
    sample_rate: u32,
    channels: usize,
    threads: usize,
) -> TrackAnalysis {
    let spectrum = Spectrum::new();
    let parts = crate::parallel::map_indexed(
        excerpts.len(),
        crate::parallel::resolve(threads),
        || (),
        |(), i| ExcerptMeasure::of(&excerpts[i], sample_rate, channels, &spectrum),
    );
    let mut accumulator = Accumulator::new(sample_rate, channels);
    for part in parts {
        accumulator.add(part);
    }
    accumulator.finish()
}

/// Integrated loudness of excerpts measured together, as the analysis measures it, each
/// metered on up to `threads` threads (0: the available cores; the result does not depend on
/// it).
pub fn integrated_loudness(
    excerpts: &[Vec<f32>],
    sample_rate: u32,
    channels: usize,
    threads: usize,
) -> f64 {
    let measurements = crate::parallel::map_indexed(
        excerpts.len(),
        crate::parallel::resolve(threads),
        || (),
        |(), i| Measurement::of(&excerpts[i], sample_rate, channels, false),
    );
    integrated_lufs(&measurements)
}

/// The integrated loudness of measurements taken together, [`SILENCE_LUFS`] at the least (for
/// silence too).
pub fn integrated_lufs(measurements: &[Measurement]) -> f64 {
    loudness::integrated(measurements)
        .filter(|l| l.is_finite())
        .unwrap_or(SILENCE_LUFS)
        .max(SILENCE_LUFS)
}

/// Measures interleaved samples already in memory (one excerpt).
pub fn analyze_samples(samples: &[f32], sample_rate: u32, channels: usize) -> TrackAnalysis {
    let mut accumulator = Accumulator::new(sample_rate, channels);
    accumulator.add(ExcerptMeasure::of(
        samples,
        sample_rate,
        channels,
        &Spectrum::new(),
    ));
    accumulator.finish()
}

#[cfg(test)]
mod tests {
    use super::measure::db;
    use super::*;

    #[test]
    fn long_tracks_are_sampled_evenly_and_short_ones_whole() {
        let sampling = Sampling::default();
        assert_eq!(
            excerpts(44_100 * 30, 44_100, &sampling),
            vec![(0, 44_100 * 30)]
        );
        let frames = 44_100 * 240;
        let segs = excerpts(frames, 44_100, &sampling);
        assert_eq!(segs.len(), 8);
        assert!(segs.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(segs.iter().all(|s| s.1 - s.0 == 132_300 && s.1 <= frames));
    }

    #[test]
    fn pink_like_tilt_and_white_noise_bands() {
        // White noise: flat spectrum, so +3 dB per octave of band energy.
        let mut state = 1u64;
        let noise: Vec<f32> = (0..48_000 * 10)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
            })
            .collect();
        let a = analyze_samples(&noise, 48_000, 1);
        assert!(
            (a.tilt_db_per_octave - 3.0).abs() < 0.3,
            "{}",
            a.tilt_db_per_octave
        );
        // The top band (8-24 kHz) holds 2/3 of white noise's energy.
        assert!(
            (a.band_db[4] - db(16.0 / 24.0)).abs() < 0.2,
            "{:?}",
            a.band_db
        );
        assert_eq!(a.stereo_correlation, 1.0);
        assert_eq!(a.stereo_width, 0.0);
    }

    #[test]
    fn silence_is_reported_as_silent_with_finite_numbers() {
        let a = analyze_samples(&vec![0.0; 48_000 * 2 * 5], 48_000, 2);
        assert!(a.is_silent());
        let json = serde_json::to_string(&a).unwrap();
        let back: TrackAnalysis = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
