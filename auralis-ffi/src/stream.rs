//! [`AuralisStream`]: an open stream and every export that reads from one.

use std::ffi::c_char;
use std::path::PathBuf;

use auralis_core::stream::{shared_engine, Engine, EngineConfig, Stream, WavFormat};
use auralis_core::{CacheConfig, Error, MasteringSettings};

use crate::buffers::{pcm_out, AuralisBytes, AuralisPcm};
use crate::handle::Handle;
use crate::options::{self, auralis_options_default, AuralisOptions};
use crate::status::{ffi_call, null, AuralisStatus, Failure};

/// An open stream: one track with one set of settings. Opaque.
#[derive(Debug)]
pub struct AuralisStream {
    stream: Stream,
}

impl Handle for AuralisStream {
    type Inner = Stream;
    const NAME: &'static str = "stream";

    fn wrap(stream: Stream) -> Self {
        AuralisStream { stream }
    }

    fn inner(&self) -> &Stream {
        &self.stream
    }
}

/// What a stream is.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AuralisStreamInfo {
    /// Frames at 48 kHz.
    pub frames: u64,
    /// Always 48000.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u32,
    /// frames / 48000.
    pub duration_s: f64,
    /// The chunk length in seconds.
    pub chunk_seconds: f64,
    /// Number of chunks.
    pub total_chunks: u32,
}

/// The engine of a cache directory (or of memory only), shared by every stream opened with it
/// while any of them is open.
pub(crate) fn engine_for(cache_dir: Option<PathBuf>) -> Result<Engine, Error> {
    shared_engine(&EngineConfig {
        cache: CacheConfig {
            disk_dir: cache_dir,
            ..CacheConfig::default()
        },
        // The C ABI has no prefetch calls: no thread of this library waits for work between
        // calls (a chunk's render workers may finish the part in hand after a call returns
        // early on an error).
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

/// A chunk index, checked against the stream before any work.
fn index_of(stream: &Stream, index: u32) -> Result<u64, Failure> {
    stream
        .plan()
        .check_index(u64::from(index))
        .map_err(Error::from)?;
    Ok(u64::from(index))
}

/// Releases the process-wide chunk caches (memory; the disk cache stays on disk). An engine is
/// also released by itself when the last stream using it is freed; streams still open keep
/// theirs until freed. Call it before exit when a leak checker should see nothing allocated.
#[no_mangle]
pub extern "C" fn auralis_shutdown() {
    let _ = std::panic::catch_unwind(auralis_core::stream::release_shared_engines);
}

/// Opens `path` with `options` (NULL: the defaults) and stores a new handle in `*out`.
///
/// On failure `*out` is set to NULL (when `out` is not NULL).
///
/// # Safety
/// `path` must be a NUL-terminated string; `options`, if not NULL, must point to a valid
/// `AuralisOptions` whose strings are NUL-terminated or NULL; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_open(
    path: *const c_char,
    options: *const AuralisOptions,
    out: *mut *mut AuralisStream,
) -> AuralisStatus {
    ffi_call!({
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: `out` is not NULL and valid for a write (the caller's promise).
        unsafe { *out = std::ptr::null_mut() };
        let path = options::text(path, "path")?;
        let options = if options.is_null() {
            auralis_options_default()
        } else {
            // SAFETY: not NULL and valid (the caller's promise).
            unsafe { *options }
        };
        let (settings, cache_dir) = options::settings(&options)?;
        let stream = engine_for(cache_dir)?.open(path, settings)?;
        // SAFETY: as above.
        unsafe { AuralisStream::give(stream, out) };
        Ok(())
    })
}

/// Frees a stream. NULL is a no-op.
///
/// # Safety
/// `stream` must be NULL or a handle from [`auralis_stream_open`] not yet freed, and no other
/// thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_free(stream: *mut AuralisStream) {
    // SAFETY: forwarded caller's promise.
    unsafe { AuralisStream::free(stream) }
}

/// Fills `*out` with the stream's metadata.
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_info(
    stream: *const AuralisStream,
    out: *mut AuralisStreamInfo,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let stream = unsafe { AuralisStream::borrow(stream) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let info = stream.info();
        // SAFETY: not NULL, valid for a write.
        unsafe {
            out.write(AuralisStreamInfo {
                frames: info.frames,
                sample_rate: info.sample_rate,
                channels: u32::from(info.channels),
                duration_s: info.duration_s,
                chunk_seconds: info.chunk_seconds,
                total_chunks: u32::try_from(info.total_chunks).unwrap_or(u32::MAX),
            })
        };
        Ok(())
    })
}

/// Chunk `index`'s place on the 48 kHz timeline: its first frame and its number of frames.
///
/// # Safety
/// `stream` must be a live handle; `start_frame` and `frames` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_chunk_range(
    stream: *const AuralisStream,
    index: u32,
    start_frame: *mut u64,
    frames: *mut u64,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let stream = unsafe { AuralisStream::borrow(stream) }?;
        if start_frame.is_null() || frames.is_null() {
            return Err(null("start_frame or frames"));
        }
        let chunk = stream.chunk(index_of(stream, index)?)?;
        // SAFETY: not NULL, valid for writes.
        unsafe {
            start_frame.write(chunk.start_frame);
            frames.write(chunk.frames);
        }
        Ok(())
    })
}

/// The init segment in the stream's container (append it once to a SourceBuffer before any
/// media segment; the same for every chunk, bitrate and preset of the track).
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_init_segment(
    stream: *const AuralisStream,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    // SAFETY: forwarded caller's promise.
    ffi_call!({ unsafe { AuralisStream::give_bytes(stream, out, |s| Ok(s.init_segment())) } })
}

/// Chunk `index` as a standalone file in the stream's container (WebM, or fragmented MP4; the
/// name is from when WebM was the only one): the init segment followed by the chunk's media
/// segment. Cached.
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_chunk_webm(
    stream: *const AuralisStream,
    index: u32,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe {
            AuralisStream::give_bytes(
                stream,
                out,
                |s| Ok(s.chunk_file(index_of(s, index)?, None)?),
            )
        }
    })
}

/// Chunk `index`'s media segment alone (WebM Clusters or MP4 fragments, the stream's
/// container; append after the init segment). With
/// `from_preset` not NULL, the transition chunk from those settings (`from_preset` at
/// `from_intensity`): it starts as their audio and crossfades into this stream's over 50 ms.
/// Cached.
///
/// # Safety
/// `stream` must be a live handle; `from_preset` NULL or a NUL-terminated string; `out` valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_media_segment(
    stream: *const AuralisStream,
    index: u32,
    from_preset: *const c_char,
    from_intensity: f64,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe {
            AuralisStream::give_bytes(stream, out, |s| {
                let index = index_of(s, index)?;
                let served = match transition_from(from_preset, from_intensity)? {
                    None => s.chunk_media_segment(index)?,
                    Some(from) => s.transition_media_segment(index, from)?,
                };
                Ok(served.bytes.to_vec())
            })
        }
    })
}

/// The settings a transition starts from: `from_preset` at `from_intensity`, or none when
/// `from_preset` is NULL (`from_preset`: NULL or a NUL-terminated string, as every caller
/// promises).
fn transition_from(
    from_preset: *const c_char,
    from_intensity: f64,
) -> Result<Option<MasteringSettings>, Failure> {
    if from_preset.is_null() {
        return Ok(None);
    }
    let preset = options::preset(from_preset, "from_preset")?;
    Ok(Some(MasteringSettings::new(preset, from_intensity)))
}

/// A switch at the playhead: from 48 kHz frame `at_frame` (on the 20 ms packet grid, inside
/// the track) to the end of its chunk, as a media segment in the stream's container. With
/// `from_preset` not NULL, this stream's audio crossfaded from those settings' (`from_preset`
/// at `from_intensity`) over the fade starting at `at_frame`; with NULL, the rest of the chunk
/// as this stream masters it. A player removes what it buffered from `at_frame` on and
/// appends this, then this stream's next chunks. Cached. A frame off the grid is
/// `AURALIS_STATUS_INVALID_ARGUMENT`, past the end `AURALIS_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `stream` must be a live handle; `from_preset` NULL or a NUL-terminated string; `out` valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_media_segment_at(
    stream: *const AuralisStream,
    at_frame: u64,
    from_preset: *const c_char,
    from_intensity: f64,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe {
            AuralisStream::give_bytes(stream, out, |s| {
                let from =
                    transition_from(from_preset, from_intensity)?.unwrap_or(s.settings().mastering);
                Ok(s.transition_segment_at(at_frame, from)?.bytes.to_vec())
            })
        }
    })
}

/// Chunk `index`'s mastered audio: interleaved float32 at 48 kHz, exactly its frames.
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_chunk_pcm(
    stream: *const AuralisStream,
    index: u32,
    out: *mut AuralisPcm,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let out = unsafe { pcm_out(out) }?;
        // SAFETY: forwarded caller's promise.
        let stream = unsafe { AuralisStream::borrow(stream) }?;
        let pcm = stream.chunk_pcm(index_of(stream, index)?)?;
        out.give(pcm, u32::from(stream.info().channels));
        Ok(())
    })
}

/// The whole mastered track as a 32-bit float WAV file (48 kHz, exact length).
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_full_wav(
    stream: *const AuralisStream,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe { AuralisStream::give_bytes(stream, out, |s| Ok(s.full_wav(WavFormat::Float32)?)) }
    })
}

/// The rate of PCM outputs (see `auralis_stream_pcm_range`). Passed as a `uint32_t`; any other
/// value is `AURALIS_STATUS_INVALID_ARGUMENT`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuralisOutputRate {
    /// 48 kHz, resampled where the source has another rate (the rate of every Opus output).
    Opus = 0,
    /// The source file's own rate: the decoded samples, mastered, never resampled.
    Source = 1,
}

fn output_rate(value: u32) -> Result<auralis_core::OutputRate, Failure> {
    match value {
        v if v == AuralisOutputRate::Opus as u32 => Ok(auralis_core::OutputRate::Opus),
        v if v == AuralisOutputRate::Source as u32 => Ok(auralis_core::OutputRate::Source),
        v => Err(Error::InvalidArgument {
            name: "output_rate",
            value: v.to_string(),
            valid: "AURALIS_OUTPUT_RATE_OPUS (0) or AURALIS_OUTPUT_RATE_SOURCE (1)",
        }
        .into()),
    }
}

/// The rate in Hz and the length in frames of the track at `output_rate` (an
/// `AuralisOutputRate`). Either out-pointer may be NULL.
///
/// # Safety
/// `stream` must be a live handle; `out_hz` and `out_frames` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_rate(
    stream: *const AuralisStream,
    output_rate: u32,
    out_hz: *mut u32,
    out_frames: *mut u64,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let stream = unsafe { AuralisStream::borrow(stream) }?;
        let rate = self::output_rate(output_rate)?;
        // SAFETY: NULL or valid for a write (caller's promise).
        unsafe {
            if let Some(hz) = out_hz.as_mut() {
                *hz = stream.rate_hz(rate);
            }
            if let Some(frames) = out_frames.as_mut() {
                *frames = stream.frames_at(rate);
            }
        }
        Ok(())
    })
}

/// Frames `[start, end)` of the track at `output_rate` (an `AuralisOutputRate`), mastered with
/// the stream's settings, as interleaved floats at that rate (`auralis_stream_rate` gives it).
/// A pure function of the file, the settings, the rate and the range; cached. A range past the
/// track is `AURALIS_STATUS_INDEX_OUT_OF_RANGE`, before any work.
///
/// # Safety
/// `stream` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_stream_pcm_range(
    stream: *const AuralisStream,
    output_rate: u32,
    start: u64,
    end: u64,
    out: *mut AuralisPcm,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let out = unsafe { pcm_out(out) }?;
        // SAFETY: forwarded caller's promise.
        let stream = unsafe { AuralisStream::borrow(stream) }?;
        let pcm = stream.pcm_range(self::output_rate(output_rate)?, start, end)?;
        out.give(pcm, u32::from(stream.info().channels));
        Ok(())
    })
}
