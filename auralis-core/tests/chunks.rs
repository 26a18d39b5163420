//! Chunk independence and exactness of the 48 kHz timeline.

mod common;

use auralis_core::{Renderer, Source};
use common::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Renders every chunk alone, in a random order, and checks the concatenation against one
/// continuous render of the whole track and against rubato run once over the whole decode.
fn assert_chunks_independent(source: Source, chunk_seconds: f64, seed: u64, label: &str) {
    let renderer = Renderer::new(source.clone());
    let plan = renderer.plan(chunk_seconds).unwrap();
    let ch = renderer.channels() as usize;
    let mut order: Vec<u64> = (0..plan.total_chunks()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut chunks = vec![Vec::new(); order.len()];
    for &k in &order {
        chunks[k as usize] = renderer.render_chunk(&plan, k).unwrap();
        assert_eq!(
            chunks[k as usize].len() as u64,
            plan.chunk(k).unwrap().frames * ch as u64,
            "{label} chunk {k}"
        );
    }
    // Rendered in order through one reader: the same bytes.
    let mut reader = source.reader().unwrap();
    for c in plan.chunks() {
        let again = renderer
            .render_range(&mut reader, c.start_frame, c.end_frame())
            .unwrap();
        assert!(
            again == chunks[c.index as usize],
            "{label}: chunk {} depends on what was read before",
            c.index
        );
    }
    let joined: Vec<f32> = chunks.concat();
    let codec = &source.info().codec;
    let whole = renderer
        .render_range(&mut reader, 0, renderer.frames())
        .unwrap();
    assert_same_audio(
        &format!("{label}: chunks vs one continuous render"),
        codec,
        &joined,
        &whole,
    );
    let linear = source.read_range(0, source.info().frames).unwrap();
    let reference = continuous_resample(&linear, ch, source.info().sample_rate);
    assert_same_audio(
        &format!("{label}: chunks vs rubato over the whole decode"),
        codec,
        &joined,
        &reference,
    );
}

#[test]
fn chunks_rendered_alone_in_random_order_equal_a_continuous_render() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, channels) in [(44_100u32, 2u16), (22_050, 1), (96_000, 2), (48_000, 2)] {
        let frames = rate as usize * 7 + 123;
        let ints = quantize(&music_like(rate, channels as usize, frames, 3), 16);
        let path = write_temp(
            &dir,
            &format!("{rate}_{channels}.wav"),
            &wav_int(rate, channels, 16, &ints),
        );
        for chunk_seconds in [0.5, 2.0, 5.0] {
            assert_chunks_independent(
                Source::open(&path).unwrap(),
                chunk_seconds,
                rate.into(),
                &format!("{rate} Hz x{channels} @ {chunk_seconds} s"),
            );
        }
    }
}

#[test]
fn corpus_chunks_rendered_alone_equal_a_continuous_render() {
    let Some(dir) = corpus() else { return };
    for (name, _, _) in CORPUS {
        for chunk_seconds in [5.0, 10.0, 30.0] {
            assert_chunks_independent(
                Source::open(dir.join(name)).unwrap(),
                chunk_seconds,
                11,
                &format!("{name} @ {chunk_seconds} s"),
            );
        }
    }
}

/// Finds the frames where |x| (channel 0) is a local maximum above `threshold`.
fn peaks(samples: &[f32], channels: usize, threshold: f32) -> Vec<u64> {
    let x: Vec<f32> = samples.iter().step_by(channels).map(|v| v.abs()).collect();
    (0..x.len())
        .filter(|&i| {
            x[i] > threshold
                && (i == 0 || x[i] >= x[i - 1])
                && (i + 1 == x.len() || x[i] > x[i + 1])
        })
        .map(|i| i as u64)
        .collect()
}

#[test]
fn impulses_on_and_beside_chunk_boundaries_come_out_once_at_the_right_frame() {
    let dir = tempfile::tempdir().unwrap();
    // 48 kHz: frames pass through, so each impulse must come out exactly, once, and nothing else.
    let chunk = 48_000u64;
    let frames = 4 * chunk as usize + 500;
    for offset in [-1i64, 0, 1] {
        let mut ints = vec![0i32; frames * 2];
        let expected: Vec<u64> = (1..=4)
            .map(|k| (k * chunk) as i64 + offset)
            .map(|f| f as u64)
            .collect();
        for &f in &expected {
            ints[f as usize * 2] = 30_000;
            ints[f as usize * 2 + 1] = -30_000;
        }
        let path = write_temp(
            &dir,
            &format!("imp48_{offset}.wav"),
            &wav_int(48_000, 2, 16, &ints),
        );
        let renderer = Renderer::open(&path).unwrap();
        let joined = render_all(&renderer, 1.0);
        assert_eq!(joined.len(), frames * 2);
        assert_eq!(peaks(&joined, 2, 0.5), expected, "offset {offset}");
        let nonzero = joined.iter().filter(|v| **v != 0.0).count();
        assert_eq!(
            nonzero,
            expected.len() * 2,
            "offset {offset}: every other sample stays zero"
        );
    }

    // 44.1 kHz: input frame 44 100·k lands exactly on output frame 48 000·k; its neighbours
    // land 1.088 frames away. Each must come out as one band-limited pulse, where one
    // continuous resampling pass puts it, at the output frame nearest its exact time (the
    // timeline is the source's: see the resample module and tests/timing.rs).
    for offset in [-1i64, 0, 1] {
        let in_frames = 4 * 44_100 + 700;
        let mut ints = vec![0i32; in_frames * 2];
        let mut exact = Vec::new();
        for k in 1..=4i64 {
            let f = k * 44_100 + offset;
            ints[f as usize * 2] = 30_000;
            ints[f as usize * 2 + 1] = 30_000;
            exact.push(f as f64 * 48_000.0 / 44_100.0);
        }
        let path = write_temp(
            &dir,
            &format!("imp44_{offset}.wav"),
            &wav_int(44_100, 2, 16, &ints),
        );
        let renderer = Renderer::open(&path).unwrap();
        let joined = render_all(&renderer, 1.0);
        let decoded = renderer.source().read_range(0, in_frames as u64).unwrap();
        let reference = peaks(&continuous_resample(&decoded, 2, 44_100), 2, 0.3);
        let found = peaks(&joined, 2, 0.3);
        assert_eq!(found, reference, "offset {offset}");
        assert_eq!(
            found.len(),
            exact.len(),
            "offset {offset}: each impulse once"
        );
        for (got, want) in found.iter().zip(&exact) {
            assert!(
                (*got as f64 - want).abs() <= 0.5,
                "offset {offset}: pulse at {got}, exact time {want}"
            );
        }
    }
}
