//! One chunk, start to finish: this module owns everything that makes a chunk's bytes from its
//! place on the timeline: its parts and the threads that render them, the preset-switch mix of
//! a transition chunk, the Opus encode and the container's Clusters, and the chunk-level
//! outputs (mastered PCM, media segment, chunk file; the whole-track file, made from the chunks'
//! PCM, is re-exported here from its own module). The stream engine, the
//! `render` command, C and Python all get their chunks through [`ChunkRender`], so there is one
//! path to every chunk's bytes. [`crate::render`] below it only makes PCM of ranges.
//!
//! Chunk `k` is cut into parts at fixed offsets from its start: the first part is
//! [`FIRST_PART_FRAMES`] (2 s: the first two WebM clusters), the following ones
//! [`PART_FRAMES`] (8 s) each, the last one shorter. The first part is not 1 s because a join
//! right after an encoder that ran only about a second came out up to 3.4 dB above a
//! continuous encode in the same window (sad_44s.mp3), where joins after 2 s or more stay
//! within 2 dB (`tests/webm.rs` checks every chunk and part join against a continuous encode).
//! Each part is rendered the way a chunk is (decode with warm-up, resample with roll, master
//! from 3 s before it, Opus with 300 ms of pre-roll and the encoder's look-ahead after it), so
//! the joins between parts are joins of the kind the WebM tests measure at chunk boundaries.
//! The part grid depends only on the chunk, never on the thread count: 1, 2 or 4 threads give
//! the same bytes (tested). Workers take parts in order, so with one thread the first cluster
//! still comes first.
//!
//! The cost of the restart points is their warm-up: about 3 s of mastering and 300 ms of
//! encoding per part (5 parts in a 30 s chunk: 2, 8, 8, 8 and 4 s). The warm-up's decoding and
//! resampling is not repeated: each part hands its 48 kHz input on to the next (see
//! `Handover`), and only the chunk's first part decodes its own.
//!
//! Workers are detached threads: when a [`ChunkRender`] is dropped before its end, each worker
//! finishes the part in hand (at most one part's work, 8 s of audio) and takes no other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::dsp::crossfade::Curve;
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings, LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};
use crate::plan::{ChunkPlan, ChunkRange};
use crate::render::Renderer;

// The whole-track file is made from the chunks' PCM; its encoder and writer live apart.
pub use crate::whole_track::{whole_track_file, write_whole_track_file};

/// Length of a chunk's first part: 2 s, the first two WebM clusters.
pub const FIRST_PART_FRAMES: u64 = 2 * 48_000;
/// Length of the following parts: 8 s.
pub const PART_FRAMES: u64 = 8 * 48_000;

/// The parts `[start, end)` (absolute frames) of a chunk.
pub fn parts(chunk: &ChunkRange) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut at, mut len) = (0, FIRST_PART_FRAMES);
    while at < chunk.frames {
        let end = (at + len).min(chunk.frames);
        out.push((chunk.start_frame + at, chunk.start_frame + end));
        at = end;
        len = PART_FRAMES;
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

/// A mastering's loudness gain that is still being calibrated (a preset switch, see
/// [`ChunkRender::start_with_pending_gain`]): the chunk's first part reads its input and runs
/// the stages before the gain meanwhile, the other parts wait for it before they start (so
/// they take no core from the calibration).
#[derive(Debug, Default)]
pub struct PendingGain {
    slot: Mutex<GainState>,
    ready: Condvar,
}

#[derive(Debug, Default, Clone, Copy)]
enum GainState {
    #[default]
    Pending,
    Known(f64),
    /// The calibration failed: the render stops (its caller reports the calibration's error).
    Failed,
}

impl PendingGain {
    /// The gain, calibrated: the render goes on with it.
    pub fn set(&self, gain_db: f64) {
        self.finish(GainState::Known(gain_db));
    }

    /// No gain will come: every part of the render fails.
    pub fn fail(&self) {
        self.finish(GainState::Failed);
    }

    fn finish(&self, state: GainState) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*slot, GainState::Pending) {
            *slot = state;
        }
        drop(slot);
        self.ready.notify_all();
    }

    /// Waits for the gain.
    fn wait(&self) -> Result<f64, Error> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match *slot {
                GainState::Known(g) => return Ok(g),
                GainState::Failed => {
                    return Err(Error::Internal {
                        what: "the mastering's gain was not calibrated".into(),
                    })
                }
                GainState::Pending => {
                    slot = self
                        .ready
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

/// Fails a pending gain that its owner drops unset (an error or a panic between starting the
/// render and calibrating), so no worker waits forever.
impl Drop for GainGuard {
    fn drop(&mut self) {
        self.0.fail();
    }
}

/// Owned by a [`ChunkRender`] started with a pending gain: see its `Drop`.
struct GainGuard(Arc<PendingGain>);

/// What one part gives: its mastered PCM and, when encoding, its Opus packets.
pub(crate) struct PartOut {
    pub(crate) pcm: Vec<f32>,
    pub(crate) packets: Vec<Vec<u8>>,
}

/// Where a chunk's parts come from: the audio of each part, mastered and encoded with the
/// encoder's pre-roll and look-ahead. A track's chunk (its renderer, mastering and transition:
/// [`PartWork`]) and a queue's chunk rendered from the queue's audio
/// (`stream::queue::QueueParts`) are the two; [`ChunkRender`] is the one pipeline both run
/// through (the worker threads, the parts in order, the first unit before the first part is
/// done, the hand-out of groups, cancelling on drop).
pub(crate) trait PartSource: Send + Sync + 'static {
    /// How many parts the chunk has.
    fn part_count(&self) -> usize;

    /// Renders part `i`. The first part hands its first group's packets (at most
    /// [`crate::format::webm::CLUSTER_PACKETS`]) to `early` as soon as they are encoded.
    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error>;
}

impl PartSource for PartWork {
    fn part_count(&self) -> usize {
        self.parts.len()
    }

    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error> {
        PartWork::run(self, i, early)
    }
}

/// Everything a worker needs, owned.
struct PartWork {
    renderer: Renderer,
    chunk: ChunkRange,
    parts: Vec<(u64, u64)>,
    /// The mastering; with `gain`, its loudness gain is the one `gain` gives.
    params: MasteringParams,
    /// The loudness gain, when it is still being calibrated.
    gain: Option<Arc<PendingGain>>,
    transition: Option<Transition>,
    settings: Option<OpusSettings>,
    /// Part `i`'s 48 kHz input, left for part `i + 1` (see [`Handover`]).
    handover: Vec<Handover>,
}

/// A part's decoded and resampled input, handed to the next part: the next part's mastering
/// warm-up (3 s before it) lies inside this part's input, so the next part decodes only what
/// comes after it instead of decoding its warm-up again (a third of all decoding and
/// resampling with 5 parts per 30 s chunk). The samples are the same as a read of the next
/// part's own (range reads and the resampler's blocks do not depend on where a read starts), so
/// the bytes do not change; a part never waits for more than the previous part's decoding,
/// which started before its own (workers take parts in order).
#[derive(Default)]
struct Handover {
    slot: Mutex<HandoverState>,
    ready: Condvar,
}

#[derive(Default)]
enum HandoverState {
    #[default]
    Pending,
    /// Frames `[from, from + len)`, interleaved.
    Ready { from: u64, samples: Vec<f32> },
    /// The part failed or was taken: the next part reads everything itself.
    Gone,
}

/// Marks a part's hand-over gone if the part ends (an error, a panic) without leaving it.
struct HandoverGuard<'a>(&'a Handover);

impl Drop for HandoverGuard<'_> {
    fn drop(&mut self) {
        let mut slot = self.0.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*slot, HandoverState::Pending) {
            *slot = HandoverState::Gone;
            drop(slot);
            self.0.ready.notify_all();
        }
    }
}

impl PartWork {
    fn roll(&self) -> (u64, u64) {
        match self.settings {
            Some(_) => (PRE_ROLL_FRAMES as u64, LOOKAHEAD_FRAMES as u64),
            None => (0, 0),
        }
    }

    /// The 48 kHz input part `i` masters (with both masterings of a transition).
    fn input_span(&self, i: usize) -> (u64, u64) {
        let (s, e) = self.parts[i];
        let (pre, post) = self.roll();
        let r = &self.renderer;
        let mut span = r.mastered_input_span(s, e, pre, post, &self.params);
        if let Some(t) = &self.transition {
            let (a, b) = r.mastered_input_span(s, e, pre, post, &t.from);
            span = (span.0.min(a), span.1.max(b));
        }
        span
    }

    /// Part `i`'s input: what part `i - 1` handed over, then its own decode of the rest.
    fn input(&self, i: usize) -> Result<(u64, Vec<f32>), Error> {
        let r = &self.renderer;
        let ch = r.channels() as usize;
        let (from, to) = self.input_span(i);
        let mut reader = r.source().reader()?;
        if i > 0 {
            let (_, prev_to) = self.input_span(i - 1);
            if prev_to > from && prev_to < to {
                // Decode the new part first (no waiting), then take the overlap.
                let mut input = Vec::with_capacity((to - from) as usize * ch);
                input.resize((prev_to - from) as usize * ch, 0.0);
                r.render_range_into(&mut reader, prev_to, to, &mut input)?;
                let handover = &self.handover[i - 1];
                let mut slot = handover.slot.lock().unwrap_or_else(PoisonError::into_inner);
                while matches!(*slot, HandoverState::Pending) {
                    slot = handover
                        .ready
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if let HandoverState::Ready {
                    from: prev_from,
                    samples,
                } = std::mem::replace(&mut *slot, HandoverState::Gone)
                {
                    drop(slot);
                    let skip = from.checked_sub(prev_from).map(|f| f as usize * ch);
                    let overlap = (prev_to - from) as usize * ch;
                    if let Some(head) = skip.and_then(|k| samples.get(k..k + overlap)) {
                        input[..overlap].copy_from_slice(head);
                        return Ok((from, input));
                    }
                }
            }
        }
        Ok((from, r.render_range(&mut reader, from, to)?))
    }

    /// Renders part `i`: mastered audio with the encoder's pre-roll and look-ahead around it
    /// (when encoding), the transition mixed in by absolute position, then encoded.
    ///
    /// The first part hands its first cluster's packets to `early` as soon as they are
    /// encoded (see [`ChunkRender::next_group`]).
    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error> {
        let _guard = HandoverGuard(&self.handover[i]);
        // With the gain still being calibrated, only the first part starts (see
        // `PendingGain`); the others wait for it first.
        let known_gain = match &self.gain {
            Some(pending) if i > 0 => Some(pending.wait()?),
            Some(_) => None,
            None => Some(self.params.gain_db),
        };
        let (s, e) = self.parts[i];
        let r = &self.renderer;
        let ch = r.channels() as usize;
        let (pre, post) = self.roll();
        let (input_from, input) = self.input(i)?;
        // Leave the next part's share of the input (its warm-up, about 3 s) before the long work
        // (mastering, encoding).
        if i + 1 < self.parts.len() {
            let next_from = self.input_span(i + 1).0.max(input_from);
            let at = ((next_from - input_from) as usize * ch).min(input.len());
            let handover = &self.handover[i];
            *handover.slot.lock().unwrap_or_else(PoisonError::into_inner) = HandoverState::Ready {
                from: input_from + (at / ch) as u64,
                samples: input[at..].to_vec(),
            };
            handover.ready.notify_all();
        }
        let slice = |a: u64, b: u64| {
            (
                (a - input_from) as usize * ch,
                (b - input_from) as usize * ch,
            )
        };
        // The transition's old mastering first, from a copy; the new one takes the input itself.
        // Only what the mix reads of it: the encoder's pre-roll and the fade, not the rest of
        // the part (a chunk's first part is 2 s, the fade 50 ms). Every stage of the chain is
        // causal but the limiter, which looks 1 ms ahead within the mastering's 100 ms
        // post-roll, so these frames are the same as from a render of the whole part.
        let old = match &self.transition {
            Some(t)
                if (s as i64 - pre as i64)
                    < (self.chunk.start_frame + t.fade_frames as u64) as i64 =>
            {
                let old_end = (self.chunk.start_frame + t.fade_frames as u64).clamp(s, e);
                Some(r.render_mastered_span_from(
                    |a, b| {
                        let (a, b) = slice(a, b);
                        Ok(input[a..b].to_vec())
                    },
                    s,
                    old_end,
                    pre,
                    0,
                    &t.from,
                )?)
            }
            _ => None,
        };
        let mut input = r.render_mastered_span_gain_from(
            move |a, b| {
                let (a, b) = slice(a, b);
                let mut input = input;
                input.truncate(b);
                input.drain(..a);
                Ok(input)
            },
            s,
            e,
            pre,
            post,
            &self.params,
            || match (known_gain, &self.gain) {
                (Some(g), _) => Ok(g),
                (None, Some(pending)) => pending.wait(),
                (None, None) => Ok(self.params.gain_db),
            },
        )?;
        let pre = pre as usize;
        if let (Some(old), Some(t)) = (old, &self.transition) {
            let first = s as i64 - pre as i64; // absolute frame of input[0]
            mix(
                &mut input,
                &old,
                ch,
                first - self.chunk.start_frame as i64,
                t,
            );
        }
        let frames = (e - s) as usize;
        let pcm = input[pre * ch..(pre + frames) * ch].to_vec();
        let packets = match &self.settings {
            Some(st) => {
                // Only the first part's first cluster is waited for by a listener.
                let first = if i == 0 {
                    crate::format::webm::CLUSTER_PACKETS
                } else {
                    usize::MAX
                };
                opus::encode_chunk_early(input, ch, s, e - s, st, first, |p| early(p))?.packets
            }
            None => Vec::new(),
        };
        Ok(PartOut { pcm, packets })
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

/// The error of a chunk whose workers all stopped before its parts were done: a worker
/// panicked (a bug), which the bindings report as such (C: `AURALIS_STATUS_PANIC`).
fn worker_stopped() -> Error {
    Error::Internal {
        what: "a chunk's worker stopped before finishing its part".into(),
    }
}

/// Where workers leave finished parts for the consumer (a mutex and a condition variable:
/// no channel, whose blocking receive registers a thread handle that std never frees for
/// foreign threads such as a C caller's).
#[derive(Default)]
struct Results {
    state: Mutex<ResultsState>,
    changed: Condvar,
}

#[derive(Default)]
struct ResultsState {
    done: BTreeMap<usize, Result<PartOut, Error>>,
    /// The first part's first cluster's packets, before the part is done.
    early: Option<Vec<Vec<u8>>>,
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

/// One chunk being rendered in parts by worker threads: an iterator of its WebM clusters in
/// order (when encoding; the first as soon as the first part's first 50 packets are encoded),
/// and its PCM once
/// every part has arrived.
pub struct ChunkRender {
    results: Arc<Results>,
    cancel: Arc<AtomicBool>,
    part_count: usize,
    next_part: usize,
    pending: std::collections::VecDeque<Vec<u8>>,
    start_frame: u64,
    frames: u64,
    total_packets: usize,
    padding_frames: u64,
    produced: usize,
    /// Leading packets of the first part already given out early.
    early_taken: usize,
    is_last: bool,
    pcm: Vec<f32>,
    failed: bool,
    container: Container,
    /// Fails a pending gain when the render is dropped before it is set.
    _gain: Option<GainGuard>,
}

/// A unit of progressive output before it is muxed: at most [`crate::format::webm::CLUSTER_PACKETS`]
/// consecutive packets of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketGroup {
    /// The Opus packets, 20 ms each.
    pub packets: Vec<Vec<u8>>,
    /// The first packet's frame on the track.
    pub first_frame: u64,
    /// Frames of the last packet past the track's end (0 but at the track's very end).
    pub padding_frames: u64,
}

impl PacketGroup {
    /// This group in `container`: a WebM Cluster or an MP4 fragment.
    pub fn mux(&self, container: Container) -> Vec<u8> {
        container.group(&self.packets, self.first_frame, self.padding_frames)
    }
}

impl std::fmt::Debug for ChunkRender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkRender")
            .field("start_frame", &self.start_frame)
            .field("parts", &self.part_count)
            .field("next_part", &self.next_part)
            .finish_non_exhaustive()
    }
}

impl Drop for ChunkRender {
    fn drop(&mut self) {
        // Workers finish the part in hand and take no other.
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Chunk `index` of `plan`, checked against the plan and the renderer's track before any work.
fn checked_chunk(renderer: &Renderer, plan: &ChunkPlan, index: u64) -> Result<ChunkRange, Error> {
    let chunk = plan.chunk(index)?;
    if plan.frames() != renderer.frames() {
        return Err(Error::Plan(crate::PlanError::TimeOutOfRange {
            seconds: plan.duration_s(),
            duration_s: crate::plan::frames_to_seconds(renderer.frames()),
        }));
    }
    Ok(chunk)
}

impl ChunkRender {
    /// Starts rendering chunk `index` of `plan` mastered with `params` on the renderer's
    /// threads. With `opus` the parts are also encoded and the render iterates over the
    /// chunk's WebM clusters (the track's last chunk signals its padding); with a
    /// `transition` the chunk starts as that mastering's audio and fades into `params`'.
    /// Settings and index are checked before any work.
    pub fn start(
        renderer: &Renderer,
        plan: &ChunkPlan,
        index: u64,
        params: &MasteringParams,
        transition: Option<&Transition>,
        opus: Option<&OpusSettings>,
    ) -> Result<Self, Error> {
        Self::checked_spawn(renderer, plan, index, params, None, transition, opus)
    }

    /// [`Self::start`] for a mastering whose loudness gain is still being calibrated: `params`
    /// are its parameters but the gain (`params.gain_db` is not used), `gain` gives the gain
    /// when it is known. The first part reads, resamples and shapes its audio (every stage
    /// before the gain, and a transition's old mastering) meanwhile; the rest waits for the
    /// gain. With the gain set to `g`, the bytes are those of [`Self::start`] with
    /// `params.gain_db = g`. Dropping the render, or failing the gain, stops it.
    pub fn start_with_pending_gain(
        renderer: &Renderer,
        plan: &ChunkPlan,
        index: u64,
        params: &MasteringParams,
        gain: Arc<PendingGain>,
        transition: Option<&Transition>,
        opus: Option<&OpusSettings>,
    ) -> Result<Self, Error> {
        Self::checked_spawn(renderer, plan, index, params, Some(gain), transition, opus)
    }

    /// Checks the settings and the index before any work, then spawns the workers.
    fn checked_spawn(
        renderer: &Renderer,
        plan: &ChunkPlan,
        index: u64,
        params: &MasteringParams,
        gain: Option<Arc<PendingGain>>,
        transition: Option<&Transition>,
        opus: Option<&OpusSettings>,
    ) -> Result<Self, Error> {
        if let Some(settings) = opus {
            settings.validate()?;
        }
        let chunk = checked_chunk(renderer, plan, index)?;
        let is_last = index + 1 == plan.total_chunks();
        Ok(Self::spawn(
            renderer, chunk, is_last, params, gain, transition, opus,
        ))
    }

    fn spawn(
        renderer: &Renderer,
        chunk: ChunkRange,
        is_last: bool,
        params: &MasteringParams,
        gain: Option<Arc<PendingGain>>,
        transition: Option<&Transition>,
        settings: Option<&OpusSettings>,
    ) -> Self {
        let gain_guard = gain.clone().map(GainGuard);
        let parts = parts(&chunk);
        let work = Arc::new(PartWork {
            renderer: renderer.clone(),
            chunk,
            handover: (0..parts.len()).map(|_| Handover::default()).collect(),
            parts,
            params: params.clone(),
            gain,
            transition: transition.cloned(),
            settings: settings.copied(),
        });
        let mut render = Self::from_source(work, renderer.threads(), chunk, is_last);
        render
            .pcm
            .reserve(chunk.frames as usize * renderer.channels() as usize);
        render._gain = gain_guard;
        render
    }

    /// Starts rendering the parts of `chunk` from `source` on up to `threads` worker threads
    /// (`is_last`: the chunk ends its stream, so its last group carries the padding).
    pub(crate) fn from_source(
        source: Arc<dyn PartSource>,
        threads: usize,
        chunk: ChunkRange,
        is_last: bool,
    ) -> Self {
        let part_count = source.part_count();
        let total_packets = opus::packet_count(chunk.frames);
        let results = Arc::new(Results::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let workers = threads.clamp(1, part_count.max(1));
        results
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .workers_alive = workers;
        for _ in 0..workers {
            let (source, results, cancel, next) = (
                source.clone(),
                results.clone(),
                cancel.clone(),
                next.clone(),
            );
            std::thread::Builder::new()
                .name("auralis-part".into())
                .spawn(move || {
                    let _alive = WorkerAlive(results.clone());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= part_count || cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let out = source.run(i, &mut |packets| {
                            let mut state =
                                results.state.lock().unwrap_or_else(PoisonError::into_inner);
                            state.early = Some(packets.to_vec());
                            drop(state);
                            results.changed.notify_all();
                        });
                        let mut state =
                            results.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.done.insert(i, out);
                        drop(state);
                        results.changed.notify_all();
                    }
                })
                .expect("spawning a chunk worker");
        }
        ChunkRender {
            results,
            cancel,
            part_count,
            next_part: 0,
            pending: std::collections::VecDeque::new(),
            start_frame: chunk.start_frame,
            frames: chunk.frames,
            total_packets,
            padding_frames: opus::padding_frames(chunk.frames),
            produced: 0,
            early_taken: 0,
            is_last,
            pcm: Vec::new(),
            failed: false,
            container: Container::Webm,
            _gain: None,
        }
    }

    /// Iterates over `container`'s units (WebM Clusters, the default, or MP4 fragments) and
    /// makes [`ChunkRender::finish`]'s segment in it.
    pub fn in_container(mut self, container: Container) -> Self {
        self.container = container;
        self
    }

    /// The next group of packets in order (1 s; the first as soon as its packets are encoded,
    /// before the rest of the first part),
    /// before muxing; `None` after the last.
    pub fn next_group(&mut self) -> Option<Result<PacketGroup, Error>> {
        if self.failed {
            return None;
        }
        if self.next_part == 0 && self.produced == 0 {
            match self.take_early() {
                Ok(Some(packets)) => {
                    self.early_taken = packets.len();
                    self.produced = packets.len();
                    let padding_frames = if self.is_last && self.produced == self.total_packets {
                        self.padding_frames
                    } else {
                        0
                    };
                    return Some(Ok(PacketGroup {
                        packets,
                        first_frame: self.start_frame,
                        padding_frames,
                    }));
                }
                Ok(None) => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        while self.pending.len() < crate::format::webm::CLUSTER_PACKETS {
            match self.take_part() {
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
        let n = self.pending.len().min(crate::format::webm::CLUSTER_PACKETS);
        let packets: Vec<Vec<u8>> = self.pending.drain(..n).collect();
        let first_frame = self.start_frame + (self.produced * PACKET_FRAMES) as u64;
        self.produced += n;
        let padding_frames = if self.is_last && self.produced == self.total_packets {
            self.padding_frames
        } else {
            0
        };
        Some(Ok(PacketGroup {
            packets,
            first_frame,
            padding_frames,
        }))
    }

    /// Waits for the first part's first cluster of packets or for the whole first part,
    /// whichever comes first: `Some` packets in the first case (a first part too short for a
    /// whole cluster never hands any over early).
    fn take_early(&mut self) -> Result<Option<Vec<Vec<u8>>>, Error> {
        self.wait(|state| {
            if state.done.contains_key(&0) {
                Some(Ok(None))
            } else {
                state.early.take().map(|packets| Ok(Some(packets)))
            }
        })
    }

    /// Waits until `ready` finds what it looks for in the workers' results (an error once no
    /// worker is left to give it).
    fn wait<T>(
        &self,
        mut ready: impl FnMut(&mut ResultsState) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut state = self
            .results
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(found) = ready(&mut state) {
                return found;
            }
            if state.workers_alive == 0 {
                return Err(worker_stopped());
            }
            state = self
                .results
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Takes the next part in order into `pending` and `pcm`; `Ok(false)` when all are in.
    fn take_part(&mut self) -> Result<bool, Error> {
        if self.next_part == self.part_count {
            return Ok(false);
        }
        let next = self.next_part;
        let out = self.wait(|state| state.done.remove(&next))?;
        self.next_part += 1;
        self.pcm.extend_from_slice(&out.pcm);
        let skip = std::mem::take(&mut self.early_taken);
        self.pending.extend(out.packets.into_iter().skip(skip));
        Ok(true)
    }

    /// Waits for every part and returns the chunk's PCM (for renders without encoding, or
    /// after the last cluster).
    pub fn finish_pcm(mut self) -> Result<Vec<f32>, Error> {
        while self.take_part()? {}
        Ok(std::mem::take(&mut self.pcm))
    }

    /// The chunk's PCM, complete once the iterator has returned `None`.
    pub fn pcm(&self) -> &[f32] {
        &self.pcm
    }

    /// Every cluster joined (the media segment) and the chunk's PCM, from this one render.
    pub fn finish(mut self) -> Result<(Vec<u8>, Vec<f32>), Error> {
        let mut segment = Vec::new();
        for cluster in self.by_ref() {
            segment.extend(cluster?);
        }
        let pcm = std::mem::take(&mut self.pcm);
        Ok((segment, pcm))
    }
}

impl ChunkRender {
    /// Whether this chunk ends the track (its last packet's padding is signalled).
    pub fn is_last(&self) -> bool {
        self.is_last
    }

    /// The chunk's encoded form (its packets, place and padding) from `packets`, every packet
    /// of the chunk in order (as the groups gave them).
    pub(crate) fn encoded(&self, packets: Vec<Vec<u8>>) -> opus::EncodedChunk {
        debug_assert_eq!(packets.len(), self.total_packets);
        opus::EncodedChunk {
            packets,
            start_frame: self.start_frame,
            frames: self.frames,
            padding_frames: self.padding_frames,
        }
    }

    /// Every packet (the chunk encoded, neutral to the container), whether it ends the track,
    /// and the chunk's PCM, from this one render.
    pub fn finish_encoded(mut self) -> Result<(opus::EncodedChunk, bool, Vec<f32>), Error> {
        let mut packets = Vec::with_capacity(self.total_packets);
        while let Some(group) = self.next_group() {
            packets.extend(group?.packets);
        }
        let chunk = self.encoded(packets);
        Ok((chunk, self.is_last, std::mem::take(&mut self.pcm)))
    }
}

impl Iterator for ChunkRender {
    type Item = Result<Vec<u8>, Error>;

    /// The next unit of the chunk's media segment in the render's container.
    fn next(&mut self) -> Option<Self::Item> {
        let container = self.container;
        self.next_group().map(|g| g.map(|g| g.mux(container)))
    }
}

/// The init segment of a track's stream in `container` (identical for every chunk, bitrate and
/// mastering of the track).
pub fn init_segment(renderer: &Renderer, container: Container) -> Vec<u8> {
    container.init_segment(renderer.channels() as u8, renderer.frames())
}

/// Chunk `index` of `plan` mastered with `params`: interleaved 48 kHz samples, exactly its
/// frames, rendered in parts on the renderer's threads.
pub fn mastered_pcm(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
) -> Result<Vec<f32>, Error> {
    ChunkRender::start(renderer, plan, index, params, None, None)?.finish_pcm()
}

/// Chunk `index` as a media segment in `container` (WebM Clusters or MP4 fragments only).
pub fn media_segment(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
    container: Container,
) -> Result<Vec<u8>, Error> {
    Ok(
        ChunkRender::start(renderer, plan, index, params, None, Some(opus))?
            .in_container(container)
            .finish()?
            .0,
    )
}

/// Chunk `index` as a chunk file: the init segment followed by the media segment, a valid
/// standalone WebM or MP4 that MSE accepts as is.
pub fn chunk_file(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
    container: Container,
) -> Result<Vec<u8>, Error> {
    let mut file = init_segment(renderer, container);
    file.extend(media_segment(
        renderer, plan, index, params, opus, container,
    )?);
    Ok(file)
}

/// Chunk `index`'s Opus packets (the same packets its media segment holds), with its place and
/// padding.
pub fn encoded(
    renderer: &Renderer,
    plan: &ChunkPlan,
    index: u64,
    params: &MasteringParams,
    opus: &OpusSettings,
) -> Result<opus::EncodedChunk, Error> {
    // `start` checks the index and the plan against the track.
    let mut render = ChunkRender::start(renderer, plan, index, params, None, Some(opus))?;
    let chunk = plan.chunk(index)?;
    while render.take_part()? {}
    Ok(opus::EncodedChunk {
        packets: render.pending.drain(..).collect(),
        start_frame: chunk.start_frame,
        frames: chunk.frames,
        padding_frames: opus::padding_frames(chunk.frames),
    })
}

/// Every chunk of `plan`, mastered and joined: the same samples as each [`mastered_pcm`].
/// Holds the whole track in memory.
pub fn mastered_track(
    renderer: &Renderer,
    plan: &ChunkPlan,
    params: &MasteringParams,
) -> Result<Vec<f32>, Error> {
    let mut pcm = Vec::with_capacity(renderer.frames() as usize * renderer.channels() as usize);
    for c in plan.chunks() {
        pcm.extend(mastered_pcm(renderer, plan, c.index, params)?);
    }
    Ok(pcm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_worker_is_an_internal_error_not_an_encoder_error() {
        assert_eq!(worker_stopped().kind(), crate::ErrorKind::Internal);
    }

    #[test]
    fn parts_start_with_two_seconds_then_eight_and_tile_the_chunk() {
        let chunk = |start_frame, frames| ChunkRange {
            index: 0,
            start_frame,
            frames,
        };
        let s = parts(&chunk(1_440_000, 1_440_000));
        let lens: Vec<u64> = s.iter().map(|(a, b)| (b - a) / 48_000).collect();
        assert_eq!(lens, [2, 8, 8, 8, 4]);
        assert_eq!(s[0].0, 1_440_000);
        assert_eq!(s.last().unwrap().1, 2_880_000);
        assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(s.iter().all(|(a, _)| a % 960 == 0));
        assert_eq!(parts(&chunk(0, 500)), [(0, 500)]);
        assert_eq!(parts(&chunk(0, 96_001)), [(0, 96_000), (96_000, 96_001)]);
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
