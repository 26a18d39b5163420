//! Any bytes as an audio file, through the probe the engine uses (`Source::from_bytes`, the
//! path `Engine::open_bytes` takes; `Source::open` differs only in reading from a file). The
//! first byte picks the extension hint. Oracle: opening either fails with a typed error or gives
//! info within the documented limits, and then the first 4096 frames read completely or fail
//! with a typed error.
#![no_main]

use auralis_core::decode::{MAX_DURATION_S, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};
use auralis_core::Source;
use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 10] = [
    None,
    Some("wav"),
    Some("flac"),
    Some("mp3"),
    Some("ogg"),
    Some("m4a"),
    Some("aiff"),
    Some("opus"),
    Some("webm"),
    Some("mka"),
];

fuzz_target!(|data: &[u8]| {
    // The library contains panics of the decoders it uses (a damaged file is an error, not a
    // crash): let a caught panic be caught. One that escapes still aborts (libfuzzer-sys).
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}"))));
    let Some((&hint, body)) = data.split_first() else {
        return;
    };
    let Ok(source) = Source::from_bytes(body.to_vec(), HINTS[usize::from(hint) % HINTS.len()])
    else {
        return;
    };
    let info = source.info().clone();
    assert!(info.frames > 0);
    assert!((1..=2).contains(&info.channels));
    assert!((MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&info.sample_rate));
    assert!(info.frames <= MAX_DURATION_S * u64::from(info.sample_rate));
    let Ok(mut reader) = source.reader() else {
        return;
    };
    let end = info.frames.min(4096);
    let mut samples = 0usize;
    if reader
        .read(0, end, |block| {
            assert!(block.iter().all(|x| x.is_finite()));
            samples += block.len();
        })
        .is_ok()
    {
        assert_eq!(samples as u64, end * u64::from(info.channels));
    }
});
