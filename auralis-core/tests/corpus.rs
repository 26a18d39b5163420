//! The real-music corpus: true lengths, range reads equal to a linear decode, and the decode
//! itself checked against ffmpeg. Skipped, with the reason printed, without ../shared/corpus.

mod common;

use auralis_core::resample::output_frames;
use auralis_core::{Renderer, Source};
use common::*;
use rand::{Rng, SeedableRng};

#[test]
fn corpus_lengths_are_the_true_content_length() {
    let Some(dir) = corpus() else { return };
    for (name, rate, frames) in CORPUS {
        let source = Source::open(dir.join(name)).unwrap();
        assert_eq!(
            (source.info().sample_rate, source.info().frames),
            (rate, frames),
            "{name}"
        );
        let renderer = Renderer::new(source);
        let plan = renderer.plan(30.0).unwrap();
        let sum: u64 = plan.chunks().map(|c| c.frames).sum();
        assert_eq!(sum, output_frames(frames, rate), "{name}");
        assert_eq!(
            plan.total_chunks(),
            output_frames(frames, rate).div_ceil(1_440_000),
            "{name}"
        );
    }
}

#[test]
fn corpus_range_reads_equal_the_linear_decode() {
    let Some(dir) = corpus() else { return };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (name, _, frames) in CORPUS {
        let source = Source::open(dir.join(name)).unwrap();
        let ch = source.info().channels as usize;
        let codec = source.info().codec.clone();
        let linear = source.read_range(0, frames).unwrap();
        assert_eq!(linear.len() as u64, frames * ch as u64, "{name}");
        let mut reader = source.reader().unwrap();
        // Random ranges in random order, plus the very end and ranges right after the start.
        let mut ranges: Vec<(u64, u64)> = (0..20)
            .map(|_| {
                let a = rng.gen_range(0..frames);
                (a, rng.gen_range(a..=frames.min(a + 100_000)))
            })
            .collect();
        ranges.extend([
            (frames - 10, frames),
            (1, 5000),
            (4095, 4097),
            (frames / 3, frames / 3 + 1),
        ]);
        for (a, b) in ranges {
            let mut got = Vec::new();
            reader
                .read(a, b, |block| got.extend_from_slice(block))
                .unwrap();
            let want = &linear[a as usize * ch..b as usize * ch];
            assert_same_audio(&format!("{name}: {a}..{b}"), &codec, &got, want);
            // Whatever was read before, the same range gives the same samples.
            let mut again = Vec::new();
            source
                .reader()
                .unwrap()
                .read(a, b, |block| again.extend_from_slice(block))
                .unwrap();
            assert!(
                again == got,
                "{name}: {a}..{b} depends on the reader's history"
            );
        }
    }
}

#[test]
fn corpus_decode_matches_ffmpeg_sample_for_sample() {
    let Some(dir) = corpus() else { return };
    if !required_in_ci("ffmpeg") {
        return;
    }
    for (name, _, frames) in CORPUS {
        let path = dir.join(name);
        let ours = Source::open(&path).unwrap().read_range(0, frames).unwrap();
        let theirs = ffmpeg_decode(&path);
        // ffmpeg keeps some end padding of Vorbis (144 frames here) and AAC (352): compare
        // what we keep, which must be aligned to the sample.
        assert!(
            theirs.len() >= ours.len(),
            "{name}: ffmpeg gave {} samples, we {}",
            theirs.len(),
            ours.len()
        );
        assert!(
            theirs.len() - ours.len() <= 2 * 1024,
            "{name}: lengths {} vs {}",
            theirs.len(),
            ours.len()
        );
        let diff = max_abs_diff(&ours, &theirs[..ours.len()]);
        assert!(diff < 1e-4, "{name}: max difference from ffmpeg {diff}");
    }
}
