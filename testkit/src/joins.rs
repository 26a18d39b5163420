//! How audible the joins between chunks are: the error of what was heard against what should
//! have been heard, near each join, compared with the same error elsewhere.
//!
//! For decoded Opus (or audio captured from a browser) against the mastered PCM, the
//! noise-to-signal ratio of each ±50 ms window around a join is compared with the median over
//! the rest of the track, in 100 ms windows. A gapless join is no worse than the codec's usual
//! error (within a few dB); a dropout, a repeat or a click puts it 10 dB or more above.
//! Silent windows are left out.

/// Half the width of a join's window: 50 ms at 48 kHz.
pub const HALF_WINDOW_FRAMES: usize = 2_400;

/// Noise-to-signal ratio in dB of `heard` against `reference` over frames `[a, b)`, or `None`
/// where the reference is (nearly) silent.
pub fn nsr_db(
    heard: &[f32],
    reference: &[f32],
    channels: usize,
    a: usize,
    b: usize,
) -> Option<f64> {
    let (h, r) = (
        &heard[a * channels..b * channels],
        &reference[a * channels..b * channels],
    );
    let signal: f64 = r.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = h
        .iter()
        .zip(r)
        .map(|(&x, &y)| f64::from(x - y).powi(2))
        .sum();
    (signal > 1e-6 * (b - a) as f64).then(|| 10.0 * (noise.max(1e-20) / signal).log10())
}

/// How far the worst join's window lies above the median window elsewhere, in dB. `heard` and
/// `reference` are aligned interleaved 48 kHz audio of equal length; `joins` are frame positions.
pub fn worst_join_excess_db(
    heard: &[f32],
    reference: &[f32],
    channels: usize,
    joins: &[usize],
) -> f64 {
    const HALF: usize = HALF_WINDOW_FRAMES;
    let frames = reference.len().min(heard.len()) / channels;
    let near = |a: usize, b: usize| joins.iter().any(|&x| a < x + HALF && x < b + HALF);
    let mut elsewhere: Vec<f64> = (0..frames / (2 * HALF))
        .map(|w| (w * 2 * HALF, (w + 1) * 2 * HALF))
        .filter(|&(a, b)| !near(a, b))
        .filter_map(|(a, b)| nsr_db(heard, reference, channels, a, b))
        .collect();
    if elsewhere.is_empty() {
        return f64::NAN;
    }
    elsewhere.sort_by(f64::total_cmp);
    let median = elsewhere[elsewhere.len() / 2];
    joins
        .iter()
        .filter(|&&j| j >= HALF && j < frames)
        .filter_map(|&j| nsr_db(heard, reference, channels, j - HALF, (j + HALF).min(frames)))
        .map(|nsr| nsr - median)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// How far the worst join's window lies above the same window of a `baseline` decode (for
/// example one continuous encode of the whole track), in dB: the error the joins add where the
/// music itself is hard to code. `heard`, `reference` and `baseline` are aligned interleaved
/// 48 kHz audio; windows where the reference is silent are left out.
pub fn worst_join_excess_over_baseline_db(
    heard: &[f32],
    baseline: &[f32],
    reference: &[f32],
    channels: usize,
    joins: &[usize],
) -> f64 {
    const HALF: usize = HALF_WINDOW_FRAMES;
    let frames = reference.len().min(heard.len()).min(baseline.len()) / channels;
    joins
        .iter()
        .filter(|&&j| j >= HALF && j + HALF <= frames)
        .filter_map(|&j| {
            let ours = nsr_db(heard, reference, channels, j - HALF, j + HALF)?;
            let base = nsr_db(baseline, reference, channels, j - HALF, j + HALF)?;
            Some(ours - base)
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The shift in -8..=8 frames of stereo `heard` against `reference` that leaves the least
/// squared error over the 4800 frames (100 ms) from `at`: 0 where they are in step (a gap or an
/// overlap of k frames before `at` shows as k). Against the decode of the same packets the
/// error at the right shift is far below the error at any other.
pub fn local_shift(heard: &[f32], reference: &[f32], at: usize) -> i64 {
    const LEN: usize = 4800;
    let error = |shift: i64| -> f64 {
        let from = (at as i64 + shift) as usize;
        heard[from * 2..(from + LEN) * 2]
            .iter()
            .zip(&reference[at * 2..(at + LEN) * 2])
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum()
    };
    (-8..=8i64)
        .min_by(|&a, &b| error(a).total_cmp(&error(b)))
        .expect("17 shifts")
}
