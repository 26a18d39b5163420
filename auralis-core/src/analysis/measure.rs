//! The measurements behind a track's analysis: spectra of excerpts, their band energies and
//! loudness, accumulated over the excerpts into the track's figures.

use super::*;

pub(super) fn db(power_ratio: f64) -> f64 {
    10.0 * power_ratio.max(1e-12).log10()
}

/// The windowed FFT the spectrum is measured with (shared by the threads of one analysis).
pub(super) struct Spectrum {
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    window: Vec<f32>,
}

impl Spectrum {
    pub(super) fn new() -> Self {
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
pub(super) struct Sums {
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
    pub(super) fn new(samples: u64) -> Self {
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
    pub(super) fn add(&mut self, m: Sums) {
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
pub(super) struct ExcerptMeasure {
    loudness: Measurement,
    sums: Sums,
}

impl ExcerptMeasure {
    pub(super) fn of(samples: &[f32], rate: u32, ch: usize, spectrum: &Spectrum) -> Self {
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
pub(super) struct Accumulator {
    rate: u32,
    channels: usize,
    loudness: Vec<Measurement>,
    sums: Sums,
}

impl Accumulator {
    pub(super) fn new(rate: u32, channels: usize) -> Self {
        Accumulator {
            rate,
            channels,
            loudness: Vec::new(),
            sums: Sums::new(0),
        }
    }

    pub(super) fn add(&mut self, m: ExcerptMeasure) {
        self.loudness.push(m.loudness);
        self.sums.add(m.sums);
    }

    pub(super) fn finish(self) -> TrackAnalysis {
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
pub(super) fn slope(points: &[(f64, f64)]) -> f64 {
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
