//! [`AuralisQueue`]: tracks on one timeline (gapless or crossfaded) and every export that reads
//! from one. The same ownership rules as streams: a handle from [`auralis_queue_open`] is freed
//! once with [`auralis_queue_free`]; bytes it hands out are the caller's, freed with
//! `auralis_bytes_free`.

use std::ffi::c_char;

use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
use auralis_core::Error;

use crate::buffers::AuralisBytes;
use crate::handle::Handle;
use crate::options::{self, auralis_options_default, AuralisOptions};
use crate::status::{ffi_call, null, AuralisStatus};

/// An open queue. Opaque.
#[derive(Debug)]
pub struct AuralisQueue {
    queue: Queue,
}

impl Handle for AuralisQueue {
    type Inner = Queue;
    const NAME: &'static str = "queue";

    fn wrap(queue: Queue) -> Self {
        AuralisQueue { queue }
    }

    fn inner(&self) -> &Queue {
        &self.queue
    }
}

/// What a queue is.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AuralisQueueInfo {
    /// Frames of the whole queue at 48 kHz.
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
    /// Number of items.
    pub items: u32,
    /// 1 when the chunks lie on one grid over the whole queue (the continuous layout: an MP4
    /// queue), 0 when chunks inside a track are the track's own (a WebM queue).
    pub continuous: u32,
}

/// Where one item lies on the queue's timeline.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct AuralisQueueItemInfo {
    /// Queue frame of the item's first sample.
    pub start_frame: u64,
    /// The item's length in frames.
    pub frames: u64,
    /// Frames played before the next item starts (its length less the next crossfade).
    pub played_frames: u64,
    /// Frames at its start under the previous item's fade-out (0 when gapless).
    pub fade_in_frames: u64,
    /// The chunk holding its first frame.
    pub first_chunk: u32,
    /// The loudness gain applied, dB (its own, or the album's).
    pub gain_db: f64,
}

/// Opens the `count` files of `paths` as one queue, with `options` (NULL: the defaults) for
/// every item, and stores a new handle in `*out`. Its container decides the layout: WebM
/// shares the tracks' own chunks (Chromium), MP4 lays one chunk grid over the whole queue
/// (Safari, iOS; see `AuralisQueueInfo::continuous`). `crossfades`:
/// NULL for gapless joins, or `count - 1` crossfade lengths in seconds (0 to 12; 0 is
/// gapless), one per join. `album_gain` not 0: the items are one album and share one loudness
/// gain (else each gets its own).
///
/// On failure `*out` is set to NULL (when `out` is not NULL).
///
/// # Safety
/// `paths` must point to `count` NUL-terminated strings; `crossfades` NULL or valid for
/// `count - 1` reads; `options` as for `auralis_stream_open`; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_open(
    paths: *const *const c_char,
    count: usize,
    crossfades: *const f64,
    album_gain: i32,
    options: *const AuralisOptions,
    out: *mut *mut AuralisQueue,
) -> AuralisStatus {
    ffi_call!({
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: `out` is not NULL and valid for a write (the caller's promise).
        unsafe { *out = std::ptr::null_mut() };
        if paths.is_null() {
            return Err(null("paths"));
        }
        let options = if options.is_null() {
            auralis_options_default()
        } else {
            // SAFETY: not NULL and valid (the caller's promise).
            unsafe { *options }
        };
        let (settings, cache_dir) = options::settings(&options)?;
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `paths` holds `count` pointers (the caller's promise).
            let path = options::text(unsafe { *paths.add(i) }, "paths[i]")?;
            items.push(QueueItem {
                path: path.into(),
                mastering: settings.mastering,
                album: (album_gain != 0).then(|| "album".to_owned()),
            });
        }
        let joins: Vec<Join> = (0..count.saturating_sub(1))
            .map(|i| {
                if crossfades.is_null() {
                    Join::Gapless
                } else {
                    // SAFETY: `crossfades` holds `count - 1` values (the caller's promise).
                    Join::Crossfade {
                        seconds: unsafe { *crossfades.add(i) },
                    }
                }
            })
            .collect();
        let gain = if album_gain != 0 {
            GainMode::Album
        } else {
            GainMode::Track
        };
        let engine = crate::stream::engine_for(cache_dir)?;
        let queue = Queue::open(&engine, &items, &joins, settings, gain)?;
        // SAFETY: as above.
        unsafe { AuralisQueue::give(queue, out) };
        Ok(())
    })
}

/// Frees a queue. NULL is a no-op.
///
/// # Safety
/// `queue` must be NULL or a handle from [`auralis_queue_open`] not yet freed, and no other
/// thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_free(queue: *mut AuralisQueue) {
    // SAFETY: forwarded caller's promise.
    unsafe { AuralisQueue::free(queue) }
}

/// Fills `*out` with the queue's metadata.
///
/// # Safety
/// `queue` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_info(
    queue: *const AuralisQueue,
    out: *mut AuralisQueueInfo,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let q = unsafe { AuralisQueue::borrow(queue) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: not NULL, valid for a write.
        unsafe {
            out.write(AuralisQueueInfo {
                frames: q.frames(),
                sample_rate: auralis_core::OUTPUT_RATE_HZ,
                channels: u32::from(q.channels()),
                duration_s: q.duration_s(),
                chunk_seconds: q.settings().chunk_seconds,
                total_chunks: u32::try_from(q.total_chunks()).unwrap_or(u32::MAX),
                items: u32::try_from(q.places().len()).unwrap_or(u32::MAX),
                continuous: u32::from(q.layout() == auralis_core::QueueLayout::Continuous),
            })
        };
        Ok(())
    })
}

/// Fills `*out` with where item `index` lies on the timeline.
///
/// # Safety
/// `queue` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_item(
    queue: *const AuralisQueue,
    index: u32,
    out: *mut AuralisQueueItemInfo,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let q = unsafe { AuralisQueue::borrow(queue) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let places = q.places();
        let p = places
            .get(index as usize)
            .ok_or_else(|| Error::InvalidArgument {
                name: "item index",
                value: index.to_string(),
                valid: "an index below the item count",
            })?;
        // SAFETY: not NULL, valid for a write.
        unsafe {
            out.write(AuralisQueueItemInfo {
                start_frame: p.start_frame,
                frames: p.frames,
                played_frames: p.played_frames,
                fade_in_frames: p.fade_in_frames,
                first_chunk: u32::try_from(p.first_chunk).unwrap_or(u32::MAX),
                gain_db: p.gain_db,
            })
        };
        Ok(())
    })
}

/// Chunk `index`'s place on the queue's timeline: its first frame and its number of frames.
///
/// # Safety
/// `queue` must be a live handle; `start_frame` and `frames` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_chunk_range(
    queue: *const AuralisQueue,
    index: u32,
    start_frame: *mut u64,
    frames: *mut u64,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        let q = unsafe { AuralisQueue::borrow(queue) }?;
        if start_frame.is_null() || frames.is_null() {
            return Err(null("start_frame or frames"));
        }
        let chunk = q.chunk(u64::from(index))?;
        // SAFETY: not NULL, valid for writes.
        unsafe {
            start_frame.write(chunk.start_frame);
            frames.write(chunk.frames);
        }
        Ok(())
    })
}

/// The queue's init segment (WebM; append it once before any media segment).
///
/// # Safety
/// `queue` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_init_segment(
    queue: *const AuralisQueue,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    // SAFETY: forwarded caller's promise.
    ffi_call!({ unsafe { AuralisQueue::give_bytes(queue, out, |q| Ok(q.init_segment())) } })
}

/// Chunk `index`'s media segment on the queue's timeline (append in order after the init
/// segment). Cached.
///
/// # Safety
/// `queue` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_media_segment(
    queue: *const AuralisQueue,
    index: u32,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe {
            AuralisQueue::give_bytes(queue, out, |q| {
                Ok(q.chunk_media_segment(u64::from(index))?.bytes.to_vec())
            })
        }
    })
}

/// Chunk `index` as a standalone WebM file (the init segment, then its media segment).
///
/// # Safety
/// `queue` must be a live handle; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn auralis_queue_chunk_webm(
    queue: *const AuralisQueue,
    index: u32,
    out: *mut AuralisBytes,
) -> AuralisStatus {
    ffi_call!({
        // SAFETY: forwarded caller's promise.
        unsafe { AuralisQueue::give_bytes(queue, out, |q| Ok(q.chunk_file(u64::from(index))?)) }
    })
}
