//! Range reads at fuzzed positions. Input: 8 bytes of positions, then the file. Oracle: a read
//! of `[start, end)` yields exactly `end - start` frames or a typed error, and the same range
//! read by a fresh reader and by a reader that first read another range gives the same samples
//! (reads are exact whatever came before: the property chunk independence rests on).
#![no_main]

use auralis_core::Source;
use libfuzzer_sys::fuzz_target;

fn read(source: &Source, warm: Option<(u64, u64)>, start: u64, end: u64) -> Option<Vec<f32>> {
    let mut reader = source.reader().ok()?;
    if let Some((a, b)) = warm {
        let _ = reader.read(a, b, |_| {});
    }
    let mut out = Vec::new();
    reader
        .read(start, end, |block| out.extend_from_slice(block))
        .ok()?;
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    // The library contains panics of the decoders it uses (a damaged file is an error, not a
    // crash): let a caught panic be caught. One that escapes still aborts (libfuzzer-sys).
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}"))));
    if data.len() < 9 {
        return;
    }
    let (pos, body) = data.split_at(8);
    let hints = ["wav", "flac", "mp3", "ogg", "m4a", "opus", "webm", "mka"];
    let hint = hints[usize::from(pos[7]) % hints.len()];
    let Ok(source) = Source::from_bytes(body.to_vec(), Some(hint)) else {
        return;
    };
    let frames = source.info().frames;
    let channels = u64::from(source.info().channels);
    let at = |b: &[u8]| u64::from(u16::from_le_bytes([b[0], b[1]])) * frames / 65_535;
    let start = at(&pos[0..2]);
    let len = (at(&pos[2..4]) / 8).min(frames - start).min(1 << 16);
    let end = start + len;
    let warm_start = at(&pos[4..6]);
    let warm = (warm_start, (warm_start + 4096).min(frames));

    // Out of range: a typed error, before any work.
    let mut reader = source.reader().expect("reader of an opened source");
    assert!(reader.read(end, end + frames + 1, |_| {}).is_err());
    assert!(reader.read(end + 1, end, |_| {}).is_err());

    let fresh = read(&source, None, start, end);
    if let Some(samples) = &fresh {
        assert_eq!(samples.len() as u64, len * channels);
    }
    let after = read(&source, Some(warm), start, end);
    if let (Some(a), Some(b)) = (&fresh, &after) {
        assert!(
            a == b,
            "range {start}..{end} differs after reading {warm:?}"
        );
    }
});
