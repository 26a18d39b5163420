//! The real-music corpus: true lengths, range reads equal to a linear decode, and the decode
//! itself checked against ffmpeg. Skipped, with the reason printed, without ../shared/corpus.

mod common;

use auralis_core::units::output_frames;
use auralis_core::{Renderer, Source};
use common::*;

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
    for (name, _, frames) in CORPUS {
        let source = Source::open(dir.join(name)).unwrap();
        let linear = source.read_range(0, frames).unwrap();
        assert_eq!(
            linear.len() as u64,
            frames * u64::from(source.info().channels),
            "{name}"
        );
        println!("{name}");
        let edges = [
            (frames - 10, frames),
            (1, 5000),
            (4095, 4097),
            (frames / 3, frames / 3 + 1),
        ];
        assert_ranges_match_linear(&source, &linear, 7, 100_000, &edges);
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
