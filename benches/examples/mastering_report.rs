//! Prints, for every corpus music file and preset, the target loudness, the measured output
//! loudness and the output true peak at 8× oversampling, and the analysis time:
//! `cargo run --release -p auralis-benches --example mastering_report`
use std::time::Instant;

use auralis_core::pipeline;
use auralis_core::{analysis, Mastering, Preset, Renderer, Source};

fn main() {
    let Some(corpus) = auralis_benches::corpus() else {
        eprintln!("error: the corpus (../shared/corpus or $AURALIS_CORPUS) is needed");
        std::process::exit(1);
    };
    let files = [
        "frantic_45s.ogg",
        "elvish_45s_24bit.flac",
        "sad_44s.mp3",
        "love_40s.m4a",
        "revelation_mono_22k.wav",
        "transience_96k_24bit.wav",
        "victory_5s.wav",
    ];
    let presets = Preset::PROCESSING;
    println!("| file | input LUFS | preset | target LUFS | output LUFS | output dBTP (8x) |");
    println!("|---|---|---|---|---|---|");
    for name in files {
        let source = Source::open(corpus.join(name)).unwrap();
        let renderer = Renderer::new(source.clone());
        let ch = renderer.channels() as usize;
        let started = Instant::now();
        let a = analysis::analyze(&source, 0).unwrap();
        eprintln!(
            "{name}: analysis {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        let plan = renderer.plan(30.0).unwrap();
        for preset in presets {
            let m = Mastering::prepare(&source, preset, Some(a.clone()), 0).unwrap();
            let out: Vec<f32> = plan
                .chunks()
                .flat_map(|c| pipeline::mastered_pcm(&renderer, &plan, c.index, &m.params).unwrap())
                .collect();
            let got = analysis::analyze_samples(&out, 48_000, ch).integrated_lufs;
            println!(
                "| {name} | {:.1} | {preset} | {:.2} | {got:.2} | {:.2} |",
                a.integrated_lufs,
                m.params.target_lufs,
                auralis_testkit::true_peak_oversampled_dbtp(&out, ch, 48_000, 8)
            );
        }
    }
}
