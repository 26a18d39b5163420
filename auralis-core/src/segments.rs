//! A chunk in segments: fixed restart points inside every chunk, so that its parts render on
//! all cores and its first cluster is ready after a short part's work.
//!
//! Chunk `k` is cut at fixed offsets from its start: the first segment is
//! [`FIRST_SEGMENT_FRAMES`] (2 s: the first two WebM clusters), the following ones
//! [`SEGMENT_FRAMES`] (8 s) each, the last one shorter. The first segment is not 1 s because
//! a join right after an encoder that ran only about a second came out up to 3.4 dB above a
//! continuous encode in the same window (sad_44s.mp3), where joins after 2 s or more stay
//! within 2 dB (`tests/webm.rs` checks every chunk and segment join against a continuous
//! encode). Each segment is rendered the way a chunk
//! is (decode with warm-up, resample with roll, master from 3 s before it, Opus with 200 ms of
//! pre-roll and the encoder's look-ahead after it), so the joins between segments are joins of
//! the kind the WebM tests measure at chunk boundaries. The segment grid depends only on the
//! chunk, never on the thread count: 1, 2 or 4 threads give the same bytes (tested). Workers take
//! segments in order, so with one thread the first cluster still comes first.
//!
//! The cost of the restart points is their warm-up: about 3 s of decoding and mastering and
//! 200 ms of encoding per segment (5 segments in a 30 s chunk: 2, 8, 8, 8 and 4 s).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::crossfade::Curve;
use crate::error::Error;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings, LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};
use crate::plan::ChunkRange;
use crate::render::Renderer;
use crate::webm;

/// Length of a chunk's first segment: 2 s, the first two WebM clusters.
pub const FIRST_SEGMENT_FRAMES: u64 = 2 * 48_000;
/// Length of the following segments: 8 s.
pub const SEGMENT_FRAMES: u64 = 8 * 48_000;

/// The segments `[start, end)` (absolute frames) of a chunk.
pub fn segments(chunk: &ChunkRange) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut at, mut len) = (0, FIRST_SEGMENT_FRAMES);
    while at < chunk.frames {
        let end = (at + len).min(chunk.frames);
        out.push((chunk.start_frame + at, chunk.start_frame + end));
        at = end;
        len = SEGMENT_FRAMES;
    }
    out
}

/// A preset or intensity switch at the start of a chunk: the settings played before it and
/// how to fade from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The mastering the previous chunk was rendered with.
    pub from: MasteringParams,
    /// Length of the fade at the start of the chunk, in 48 kHz frames.
    pub fade_frames: usize,
    /// Its curve ([`Curve::RaisedCosine`] suits two versions of the same music).
    pub curve: Curve,
}

/// What one segment gives: its mastered PCM and, when encoding, its Opus packets.
struct SegmentOut {
    pcm: Vec<f32>,
    packets: Vec<Vec<u8>>,
}

/// Everything a worker needs, owned.
struct Job {
    renderer: Renderer,
    chunk: ChunkRange,
    segments: Vec<(u64, u64)>,
    params: MasteringParams,
    transition: Option<Transition>,
    settings: Option<OpusSettings>,
}

impl Job {
    /// Renders segment `[s, e)`: mastered audio with the encoder's pre-roll and look-ahead
    /// around it (when encoding), the transition mixed in by absolute position, then encoded.
    fn run(&self, (s, e): (u64, u64)) -> Result<SegmentOut, Error> {
        let r = &self.renderer;
        let ch = r.channels() as usize;
        let (pre, post) = match self.settings {
            Some(_) => (PRE_ROLL_FRAMES, LOOKAHEAD_FRAMES),
            None => (0, 0),
        };
        let mut reader = r.source().reader()?;
        let mut input =
            r.render_mastered_span(&mut reader, s, e, pre as u64, post as u64, &self.params)?;
        if let Some(t) = &self.transition {
            let first = s as i64 - pre as i64; // absolute frame of input[0]
            let chunk_start = self.chunk.start_frame as i64;
            if first < chunk_start + t.fade_frames as i64 {
                let old =
                    r.render_mastered_span(&mut reader, s, e, pre as u64, post as u64, &t.from)?;
                mix(&mut input, &old, ch, first - chunk_start, t);
            }
        }
        let frames = (e - s) as usize;
        let pcm = input[pre * ch..(pre + frames) * ch].to_vec();
        let packets = match &self.settings {
            Some(st) => opus::encode_chunk(&input, ch, s, e - s, st)?.packets,
            None => Vec::new(),
        };
        Ok(SegmentOut { pcm, packets })
    }
}

/// Mixes `old` into `new` for a transition: frames before the chunk are `old`, the first
/// `fade_frames` of the chunk fade from `old` to `new`, the rest stay `new`. `offset` is the
/// position of `new[0]` relative to the chunk's start (negative in the pre-roll).
fn mix(new: &mut [f32], old: &[f32], ch: usize, offset: i64, t: &Transition) {
    for (j, (n, o)) in new
        .chunks_exact_mut(ch)
        .zip(old.chunks_exact(ch))
        .enumerate()
    {
        let d = offset + j as i64;
        if d < 0 {
            n.copy_from_slice(o);
        } else if (d as usize) < t.fade_frames {
            let (g_out, g_in) = t.curve.gains(d as f64 / t.fade_frames as f64);
            for (x, &y) in n.iter_mut().zip(o) {
                *x = (f64::from(y) * g_out + f64::from(*x) * g_in) as f32;
            }
        } else if d >= t.fade_frames as i64 {
            break;
        }
    }
}

/// Where workers leave finished segments for the consumer (a mutex and a condition variable:
/// no channel, whose blocking receive registers a thread handle that std never frees for
/// foreign threads such as a C caller's).
#[derive(Default)]
struct Results {
    state: Mutex<ResultsState>,
    changed: Condvar,
}

#[derive(Default)]
struct ResultsState {
    done: BTreeMap<usize, Result<SegmentOut, Error>>,
    workers_alive: usize,
}

/// Counts a worker out when it ends, normally or by a panic.
struct WorkerAlive(Arc<Results>);

impl Drop for WorkerAlive {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.workers_alive -= 1;
        drop(state);
        self.0.changed.notify_all();
    }
}

/// One chunk rendered in segments by worker threads: an iterator of its WebM clusters in
/// order (when encoding), and its PCM once every segment has arrived.
pub struct ChunkRun {
    results: Arc<Results>,
    cancel: Arc<AtomicBool>,
    segment_count: usize,
    next_segment: usize,
    pending: std::collections::VecDeque<Vec<u8>>,
    start_frame: u64,
    total_packets: usize,
    padding_frames: u64,
    produced: usize,
    is_last: bool,
    pcm: Vec<f32>,
    failed: bool,
}

impl std::fmt::Debug for ChunkRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkRun")
            .field("start_frame", &self.start_frame)
            .field("segments", &self.segment_count)
            .field("next_segment", &self.next_segment)
            .finish_non_exhaustive()
    }
}

impl Drop for ChunkRun {
    fn drop(&mut self) {
        // Workers finish the segment in hand and take no other.
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl ChunkRun {
    /// Starts rendering `chunk` on up to `threads` threads (at least one). With `settings`
    /// the segments are also encoded; `is_last` marks the track's last chunk (its padding is
    /// signalled).
    pub(crate) fn start(
        renderer: &Renderer,
        chunk: ChunkRange,
        is_last: bool,
        params: &MasteringParams,
        transition: Option<&Transition>,
        settings: Option<&OpusSettings>,
        threads: usize,
    ) -> Self {
        let segments = segments(&chunk);
        let segment_count = segments.len();
        let total_packets = (chunk.frames as usize).div_ceil(PACKET_FRAMES);
        let job = Arc::new(Job {
            renderer: renderer.clone(),
            chunk,
            segments,
            params: params.clone(),
            transition: transition.cloned(),
            settings: settings.copied(),
        });
        let results = Arc::new(Results::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let workers = threads.clamp(1, segment_count.max(1));
        results
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .workers_alive = workers;
        for _ in 0..workers {
            let (job, results, cancel, next) =
                (job.clone(), results.clone(), cancel.clone(), next.clone());
            std::thread::Builder::new()
                .name("auralis-segment".into())
                .spawn(move || {
                    let _alive = WorkerAlive(results.clone());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= job.segments.len() || cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let out = job.run(job.segments[i]);
                        let mut state =
                            results.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.done.insert(i, out);
                        drop(state);
                        results.changed.notify_all();
                    }
                })
                .expect("spawning a segment worker");
        }
        ChunkRun {
            results,
            cancel,
            segment_count,
            next_segment: 0,
            pending: std::collections::VecDeque::new(),
            start_frame: chunk.start_frame,
            total_packets,
            padding_frames: (total_packets * PACKET_FRAMES) as u64 - chunk.frames,
            produced: 0,
            is_last,
            pcm: Vec::with_capacity(chunk.frames as usize * renderer.channels() as usize),
            failed: false,
        }
    }

    /// Takes the next segment in order into `pending` and `pcm`; `Ok(false)` when all are in.
    fn take_segment(&mut self) -> Result<bool, Error> {
        if self.next_segment == self.segment_count {
            return Ok(false);
        }
        let out = {
            let mut state = self
                .results
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(out) = state.done.remove(&self.next_segment) {
                    break out?;
                }
                if state.workers_alive == 0 {
                    return Err(Error::Encode(crate::EncodeError::Codec {
                        reason: "a segment worker stopped".into(),
                    }));
                }
                state = self
                    .results
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        self.next_segment += 1;
        self.pcm.extend_from_slice(&out.pcm);
        self.pending.extend(out.packets);
        Ok(true)
    }

    /// Moves the next segment's packets into `out`; `Ok(false)` when every segment is in.
    pub fn take_packets(&mut self, out: &mut Vec<Vec<u8>>) -> Result<bool, Error> {
        let more = self.take_segment()?;
        out.extend(self.pending.drain(..));
        Ok(more)
    }

    /// Waits for every segment and returns the chunk's PCM (for runs without encoding, or after
    /// the last cluster).
    pub fn finish_pcm(mut self) -> Result<Vec<f32>, Error> {
        while self.take_segment()? {}
        Ok(std::mem::take(&mut self.pcm))
    }

    /// The chunk's PCM, complete once the iterator has returned `None`.
    pub fn pcm(&self) -> &[f32] {
        &self.pcm
    }
}

impl Iterator for ChunkRun {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while self.pending.len() < webm::CLUSTER_PACKETS {
            match self.take_segment() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let n = self.pending.len().min(webm::CLUSTER_PACKETS);
        let packets: Vec<Vec<u8>> = self.pending.drain(..n).collect();
        let first_frame = self.start_frame + (self.produced * PACKET_FRAMES) as u64;
        self.produced += n;
        let padding = if self.is_last && self.produced == self.total_packets {
            self.padding_frames
        } else {
            0
        };
        Some(Ok(webm::cluster(&packets, first_frame, padding)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_start_with_two_seconds_then_eight_and_tile_the_chunk() {
        let chunk = |start_frame, frames| ChunkRange {
            index: 0,
            start_frame,
            frames,
        };
        let s = segments(&chunk(1_440_000, 1_440_000));
        let lens: Vec<u64> = s.iter().map(|(a, b)| (b - a) / 48_000).collect();
        assert_eq!(lens, [2, 8, 8, 8, 4]);
        assert_eq!(s[0].0, 1_440_000);
        assert_eq!(s.last().unwrap().1, 2_880_000);
        assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(s.iter().all(|(a, _)| a % 960 == 0));
        assert_eq!(segments(&chunk(0, 500)), [(0, 500)]);
        assert_eq!(segments(&chunk(0, 96_001)), [(0, 96_000), (96_000, 96_001)]);
    }

    #[test]
    fn a_transition_is_old_before_the_chunk_faded_at_its_start_and_new_after() {
        let t = Transition {
            from: crate::mastering::design(
                &crate::analysis::analyze_samples(&[0.1; 960], 48_000, 1),
                crate::Preset::None,
                0.0,
            )
            .unwrap(),
            fade_frames: 4,
            curve: Curve::Linear,
        };
        let mut new = vec![1.0f32; 10];
        mix(&mut new, &[0.0; 10], 1, -3, &t);
        assert_eq!(new, [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }
}
