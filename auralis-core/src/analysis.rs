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
use crate::resample::{output_frames, Resampling};

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

/// True peak in dBTP measured by oversampling `factor`× with rubato's FFT resampler: a finer
/// meter than ebur128's 4× one (which can read 0.44 dB low near 19 kHz), for checking a
/// limiter's ceiling. Allocates the oversampled signal. Test support (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub fn true_peak_oversampled_dbtp(samples: &[f32], channels: usize, rate: u32, factor: u32) -> f64 {
    use rubato::{Fft, FixedSync, Resampler};
    let frames = samples.len() / channels;
    let adapter = audioadapter_buffers::direct::InterleavedSlice::new(samples, channels, frames)
        .expect("whole frames");
    let mut up = Fft::<f32>::new(
        rate as usize,
        (rate * factor) as usize,
        1024,
        channels,
        FixedSync::Both,
    )
    .expect("integer ratio");
    let out = up
        .process_all(&adapter, frames, None)
        .expect("sized by rubato")
        .take_data();
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    20.0 * f64::from(peak).max(1e-12).log10()
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

fn db(power_ratio: f64) -> f64 {
    10.0 * power_ratio.max(1e-12).log10()
}

/// The windowed FFT the spectrum is measured with (shared by the threads of one analysis).
struct Spectrum {
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    window: Vec<f32>,
}

impl Spectrum {
    fn new() -> Self {
        Spectrum {
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN),
            window: (0..FFT_LEN)
                .map(|i| {
                    (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FFT_LEN as f64).cos()) as f32
                })
                .collect(),
        }
    }
}

/// The sums, peaks and spectrum a measurement is made of: per excerpt, then for all of them.
struct Sums {
    sum_sq: f64,
    sum_lr: f64,
    sum_ll: f64,
    sum_rr: f64,
    sum_mid: f64,
    sum_side: f64,
    sample_peak: f32,
    samples: u64,
    block_levels: Vec<f64>,
    spectrum: Vec<f64>,
}

impl Sums {
    fn new(samples: u64) -> Self {
        Sums {
            sum_sq: 0.0,
            sum_lr: 0.0,
            sum_ll: 0.0,
            sum_rr: 0.0,
            sum_mid: 0.0,
            sum_side: 0.0,
            sample_peak: 0.0,
            samples,
            block_levels: Vec::new(),
            spectrum: vec![0.0; FFT_LEN / 2 + 1],
        }
    }

    /// Adds a later excerpt's sums.
    fn add(&mut self, m: Sums) {
        self.sum_sq += m.sum_sq;
        self.sum_lr += m.sum_lr;
        self.sum_ll += m.sum_ll;
        self.sum_rr += m.sum_rr;
        self.sum_mid += m.sum_mid;
        self.sum_side += m.sum_side;
        self.sample_peak = self.sample_peak.max(m.sample_peak);
        self.samples += m.samples;
        self.block_levels.extend(m.block_levels);
        for (acc, p) in self.spectrum.iter_mut().zip(&m.spectrum) {
            *acc += p;
        }
    }
}

/// What one excerpt contributes: measured on its own, combined in excerpt order.
struct ExcerptMeasure {
    loudness: Measurement,
    sums: Sums,
}

impl ExcerptMeasure {
    fn of(samples: &[f32], rate: u32, ch: usize, spectrum: &Spectrum) -> Self {
        let mut m = Sums::new(samples.len() as u64);
        for frame in samples.chunks_exact(ch) {
            let (l, r) = (f64::from(frame[0]), f64::from(frame[ch - 1]));
            m.sum_ll += l * l;
            m.sum_rr += r * r;
            m.sum_lr += l * r;
            let (mid, side) = ((l + r) * 0.5, (l - r) * 0.5);
            m.sum_mid += mid * mid;
            m.sum_side += side * side;
        }
        for &x in samples {
            m.sum_sq += f64::from(x) * f64::from(x);
            m.sample_peak = m.sample_peak.max(x.abs());
        }

        let block = (rate as usize * 4 / 10) * ch;
        for chunk in samples.chunks_exact(block) {
            let ms = chunk
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                / chunk.len() as f64;
            m.block_levels.push(db(ms));
        }

        let mut input = spectrum.fft.make_input_vec();
        let mut output = spectrum.fft.make_output_vec();
        for frames in samples.chunks_exact(FFT_LEN * ch) {
            for (i, x) in input.iter_mut().enumerate() {
                let frame = &frames[i * ch..(i + 1) * ch];
                let mid = frame.iter().sum::<f32>() / ch as f32;
                *x = mid * spectrum.window[i];
            }
            spectrum
                .fft
                .process(&mut input, &mut output)
                .expect("buffers from the plan");
            for (acc, c) in m.spectrum.iter_mut().zip(&output) {
                *acc += f64::from(c.norm_sqr());
            }
        }
        ExcerptMeasure {
            loudness: Measurement::of(samples, rate, ch, true),
            sums: m,
        }
    }
}

/// Combines the excerpts' measurements, in excerpt order.
struct Accumulator {
    rate: u32,
    channels: usize,
    loudness: Vec<Measurement>,
    sums: Sums,
}

impl Accumulator {
    fn new(rate: u32, channels: usize) -> Self {
        Accumulator {
            rate,
            channels,
            loudness: Vec::new(),
            sums: Sums::new(0),
        }
    }

    fn add(&mut self, m: ExcerptMeasure) {
        self.loudness.push(m.loudness);
        self.sums.add(m.sums);
    }

    fn finish(self) -> TrackAnalysis {
        let ch = self.channels;
        let integrated = integrated_lufs(&self.loudness);
        let lra = Some(loudness::range(&self.loudness))
            .filter(|l| l.is_finite())
            .unwrap_or(0.0);
        let true_peak = self
            .loudness
            .iter()
            .map(|m| f64::from(m.true_peak()))
            .fold(0.0f64, f64::max);
        let rms = db(self.sums.sum_sq / self.sums.samples.max(1) as f64);
        let peak = 20.0 * f64::from(self.sums.sample_peak).max(1e-6).log10();

        let bin_hz = f64::from(self.rate) / FFT_LEN as f64;
        let total: f64 = self.sums.spectrum.iter().skip(1).sum();
        let mut bands = [0.0f64; 5];
        for (i, p) in self.sums.spectrum.iter().enumerate().skip(1) {
            let f = i as f64 * bin_hz;
            let band = BAND_EDGES_HZ.iter().position(|&edge| f < edge).unwrap_or(4);
            bands[band] += p;
        }
        let band_db = bands.map(|b| if total > 0.0 { db(b / total) } else { -120.0 });
        // Octave bands centred on 62.5 Hz .. 16 kHz; regression of level on octave number.
        let octaves: Vec<(f64, f64)> = (0..9)
            .filter_map(|k| {
                let centre = 62.5 * 2f64.powi(k);
                let (lo, hi) = (
                    centre / std::f64::consts::SQRT_2,
                    centre * std::f64::consts::SQRT_2,
                );
                if hi > f64::from(self.rate) / 2.0 {
                    return None;
                }
                let energy: f64 = (1..self.sums.spectrum.len())
                    .filter(|&i| (lo..hi).contains(&(i as f64 * bin_hz)))
                    .map(|i| self.sums.spectrum[i])
                    .sum();
                (energy > 0.0 && total > 0.0).then(|| (f64::from(k), db(energy / total)))
            })
            .collect();
        let tilt = slope(&octaves);

        let correlation = if ch == 1 {
            1.0
        } else {
            let denom = (self.sums.sum_ll * self.sums.sum_rr).sqrt();
            if denom > 0.0 {
                self.sums.sum_lr / denom
            } else {
                1.0
            }
        };
        let width = if ch == 1 || self.sums.sum_mid <= 0.0 {
            0.0
        } else {
            (self.sums.sum_side / self.sums.sum_mid).sqrt()
        };

        let mut levels: Vec<f64> = self
            .sums
            .block_levels
            .into_iter()
            .filter(|&l| l > -70.0)
            .collect();
        levels.sort_by(f64::total_cmp);
        let pick = |q: f64| levels[((levels.len() - 1) as f64 * q).round() as usize];
        let dynamic_range = if levels.is_empty() {
            0.0
        } else {
            pick(0.95) - pick(0.10)
        };

        TrackAnalysis {
            integrated_lufs: integrated,
            loudness_range_lu: lra,
            true_peak_dbtp: 20.0 * true_peak.max(1e-6).log10(),
            sample_peak_dbfs: peak,
            rms_dbfs: rms,
            crest_db: (peak - rms).max(0.0),
            band_db,
            tilt_db_per_octave: tilt,
            stereo_correlation: correlation,
            stereo_width: width,
            dynamic_range_db: dynamic_range,
            analyzed_s: (self.sums.samples / ch as u64) as f64 / f64::from(self.rate),
        }
    }
}

/// Least-squares slope of y on x (0 with fewer than two points).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
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
