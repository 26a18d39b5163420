//! The C ABI's argument checking: `auralis_stream_open` with fuzzed options (preset text,
//! intensity, chunk length, bitrate, complexity), a fuzzed or a real path and NULL pointers,
//! then info, chunk ranges and chunks at a fuzzed index. Oracle: every call returns a defined
//! status and never `AURALIS_STATUS_PANIC`; a failure leaves a message; success needs valid
//! arguments (checked here independently); an index is served exactly when it is below
//! `total_chunks`; outputs are non-empty and freed.
#![no_main]

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use auralis::*;
use libfuzzer_sys::fuzz_target;

fn wav_path() -> &'static CString {
    static PATH: OnceLock<(tempfile::TempDir, CString)> = OnceLock::new();
    &PATH
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("short.wav");
            std::fs::write(&path, short_wav()).expect("write");
            let c = CString::new(path.to_str().expect("UTF-8").as_bytes()).expect("no NUL");
            (dir, c)
        })
        .1
}

/// 0.3 s of a 440 Hz tone, 44.1 kHz stereo 16-bit WAV.
fn short_wav() -> Vec<u8> {
    let frames = 13_230u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + frames * 4).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&44_100u32.to_le_bytes());
    out.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(frames * 4).to_le_bytes());
    for i in 0..frames {
        let x = (8_000.0 * (std::f64::consts::TAU * 440.0 * f64::from(i) / 44_100.0).sin()) as i16;
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn check(status: AuralisStatus) -> AuralisStatus {
    assert_ne!(
        status,
        AuralisStatus::Panic,
        "a panic reached the C boundary"
    );
    if status != AuralisStatus::Ok {
        let msg = auralis_last_error_message();
        assert!(!msg.is_null(), "{status:?} without a message");
        // SAFETY: a NUL-terminated thread-local message, valid until the next call.
        let msg = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
        assert!(!msg.is_empty(), "{status:?} with an empty message");
    }
    status
}

fn f64_at(b: &[u8]) -> f64 {
    f64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

const PRESETS: [&[u8]; 6] = [b"adaptive", b"warm", b"none", b"loud", b"", b"\xff\xfe"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 30 {
        return;
    }
    let flags = data[0];
    let intensity = f64_at(&data[1..]);
    // Mostly small chunk lengths on a 0.3 s track; sometimes raw bits (NaN, inf, huge).
    let chunk_seconds = if flags & 0x40 != 0 {
        f64_at(&data[9..])
    } else {
        f64::from(data[9]) * 0.01
    };
    let bitrate = u32_at(&data[17..]);
    let complexity = u32_at(&data[21..]) % 16;
    let index = u32_at(&data[25..]) % 64;
    let rest = &data[29..];
    let preset = CString::new(PRESETS[usize::from(flags & 7) % PRESETS.len()])
        .expect("no NUL in the preset list");
    let fuzzed_path: Vec<u8> = rest.iter().copied().filter(|&b| b != 0).collect();
    let fuzzed_path = CString::new(fuzzed_path).expect("NULs removed");
    let path = if flags & 8 != 0 {
        &fuzzed_path
    } else {
        wav_path()
    };

    let mut options = auralis_options_default();
    options.preset = if flags & 0x80 != 0 {
        std::ptr::null()
    } else {
        preset.as_ptr()
    };
    options.intensity = intensity;
    options.chunk_seconds = chunk_seconds;
    options.bitrate = bitrate;
    options.complexity = complexity;
    let mut stream: *mut AuralisStream = std::ptr::null_mut();
    let options_ptr: *const AuralisOptions = if flags & 0x10 != 0 {
        std::ptr::null()
    } else {
        &options
    };
    // SAFETY: valid or NULL pointers, as the header allows.
    let status = check(unsafe {
        auralis_stream_open(path.as_ptr() as *const c_char, options_ptr, &mut stream)
    });
    if status != AuralisStatus::Ok {
        assert!(stream.is_null(), "output set on failure");
        return;
    }
    // Independent check: success needs valid options (NULL options mean the defaults).
    if !options_ptr.is_null() {
        let name_ok = options.preset.is_null()
            || [&b"adaptive"[..], b"warm", b"none"].contains(&preset.as_bytes());
        assert!(name_ok, "unknown preset accepted");
        assert!(
            (0.0..=1.0).contains(&intensity),
            "intensity {intensity} accepted"
        );
        assert!(
            (32_000..=512_000).contains(&bitrate),
            "bitrate {bitrate} accepted"
        );
        assert!(complexity <= 10, "complexity {complexity} accepted");
        assert!(
            chunk_seconds > 0.0 && chunk_seconds <= 600.0,
            "{chunk_seconds} s accepted"
        );
    }
    let mut info = AuralisStreamInfo::default();
    // SAFETY: `stream` is a live handle from `auralis_stream_open`.
    unsafe {
        assert_eq!(
            check(auralis_stream_info(stream, &mut info)),
            AuralisStatus::Ok
        );
        assert!(info.total_chunks >= 1);
        let (mut start, mut frames) = (0u64, 0u64);
        let range = check(auralis_stream_chunk_range(
            stream,
            index,
            &mut start,
            &mut frames,
        ));
        let mut bytes = AuralisBytes {
            data: std::ptr::null(),
            len: 0,
        };
        let chunk = check(auralis_stream_chunk_webm(stream, index, &mut bytes));
        if index < info.total_chunks {
            assert_eq!(range, AuralisStatus::Ok);
            assert!(frames > 0 && start + frames <= info.frames);
            assert_eq!(chunk, AuralisStatus::Ok);
            assert!(!bytes.data.is_null() && bytes.len > 0);
        } else {
            assert_eq!(range, AuralisStatus::IndexOutOfRange);
            assert_eq!(chunk, AuralisStatus::IndexOutOfRange);
            assert!(
                bytes.data.is_null() && bytes.len == 0,
                "output set on failure"
            );
        }
        auralis_bytes_free(&mut bytes);
        auralis_bytes_free(&mut bytes);
        assert_eq!(
            check(auralis_stream_info(stream, std::ptr::null_mut())),
            AuralisStatus::NullArgument
        );
        auralis_stream_free(stream);
    }
});
