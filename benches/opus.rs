//! Encoding plus muxing a 30 s stereo chunk (complexity 10, 128 kbit/s) against libopus's own
//! encode of the same audio with the same settings (the floor): the WebM writer and our chunk
//! handling must add nothing measurable. Also each container's muxing of the encoded chunk
//! alone (WebM, fragmented MP4), to set against the encode.
//!
//! `cargo bench -p auralis-benches --bench opus`

use std::hint::black_box;
use std::time::Duration;

use auralis_core::format::{mp4, webm};
use auralis_core::opus::{self, OpusSettings};
use auralis_core::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};
use auralis_core::{Mastering, Preset, Renderer};
use criterion::{criterion_group, criterion_main, Criterion};

fn encode(c: &mut Criterion) {
    let source = auralis_core::demo::demo_source().unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Adaptive, None, 0).unwrap();
    let mut reader = source.reader().unwrap();
    let (start, frames) = (30 * 48_000u64, 30 * 48_000u64);
    let input = renderer
        .render_mastered_span(
            &mut reader,
            start,
            start + frames,
            PRE_ROLL_FRAMES as u64,
            LOOKAHEAD_FRAMES as u64,
            &mastering.params,
        )
        .unwrap();
    let settings = OpusSettings::default();
    let mut group = c.benchmark_group("opus_30s_stereo_chunk");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(12));
    group.bench_function("libopus_alone", |b| {
        b.iter(|| {
            let mut enc =
                ::opus::Encoder::new(48_000, ::opus::Channels::Stereo, ::opus::Application::Audio)
                    .unwrap();
            enc.set_bitrate(::opus::Bitrate::Bits(128_000)).unwrap();
            enc.set_vbr(true).unwrap();
            enc.set_complexity(10).unwrap();
            let mut total = 0usize;
            for frame in input.chunks_exact(PACKET_FRAMES * 2) {
                total += enc.encode_vec_float(frame, 4000).unwrap().len();
            }
            black_box(total)
        })
    });
    group.bench_function("encode_chunk_and_mux", |b| {
        b.iter(|| {
            let encoded = opus::encode_chunk(&input, 2, start, frames, &settings).unwrap();
            black_box(webm::media_segment(&encoded, false))
        })
    });
    let encoded = opus::encode_chunk(&input, 2, start, frames, &settings).unwrap();
    group.bench_function("mux_webm", |b| {
        b.iter(|| black_box(webm::media_segment(black_box(&encoded), false)))
    });
    group.bench_function("mux_mp4", |b| {
        b.iter(|| black_box(mp4::media_segment(black_box(&encoded), false)))
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
