//! [`ChunkRender`]: the one pipeline every chunk runs through, whatever its parts come from.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::parts::{parts, PartOut, PartSource};
use super::track::{GainGuard, Handover, PartWork, PendingGain, Transition};
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings};
use crate::plan::{ChunkPlan, ChunkRange};
use crate::render::Renderer;
use crate::units::PACKET_FRAMES;

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
    /// The worker threads, joined once every part is in (they are then leaving or gone), so
    /// that no worker outlives a finished render; a render dropped early leaves them to finish
    /// the part in hand. Joining needs no handle of the calling thread (a channel's receive
    /// would keep one, never freed for a foreign thread such as a C caller's).
    workers: Vec<std::thread::JoinHandle<()>>,
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
            duration_s: crate::units::frames_to_seconds(renderer.frames()),
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
        Self::checked_spawn(renderer, plan, index, None, params, None, transition, opus)
    }

    /// [`Self::start`] from frame `at_frame` to the end of its chunk
    /// ([`ChunkPlan::tail_from`]): a switch at the playhead. With a `transition` the fade
    /// starts at `at_frame` and the encoder's pre-roll before it is the old mastering's audio,
    /// so the segment, appended over what a player buffered from `at_frame` on, joins what
    /// plays before it as two chunks join. At a chunk's first frame it is [`Self::start`] of
    /// that chunk. Settings and frame are checked before any work.
    pub fn start_at(
        renderer: &Renderer,
        plan: &ChunkPlan,
        at_frame: u64,
        params: &MasteringParams,
        transition: Option<&Transition>,
        opus: Option<&OpusSettings>,
    ) -> Result<Self, Error> {
        let index = plan.chunk_at_frame(at_frame)?;
        let at = Some(at_frame);
        Self::checked_spawn(renderer, plan, index, at, params, None, transition, opus)
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
        Self::checked_spawn(
            renderer,
            plan,
            index,
            None,
            params,
            Some(gain),
            transition,
            opus,
        )
    }

    /// Checks the settings, the index and the frame `at` where the render starts inside the
    /// chunk (`None`: its start) before any work, then spawns the workers.
    #[allow(clippy::too_many_arguments)]
    fn checked_spawn(
        renderer: &Renderer,
        plan: &ChunkPlan,
        index: u64,
        at: Option<u64>,
        params: &MasteringParams,
        gain: Option<Arc<PendingGain>>,
        transition: Option<&Transition>,
        opus: Option<&OpusSettings>,
    ) -> Result<Self, Error> {
        if let Some(settings) = opus {
            settings.validate()?;
        }
        let chunk = checked_chunk(renderer, plan, index)?;
        let chunk = match at {
            None => chunk,
            Some(frame) => plan.tail_from(frame)?,
        };
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
        let total_packets = crate::units::packet_count(chunk.frames);
        let results = Arc::new(Results::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let workers = threads.clamp(1, part_count.max(1));
        results
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .workers_alive = workers;
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (source, results, cancel, next) = (
                source.clone(),
                results.clone(),
                cancel.clone(),
                next.clone(),
            );
            let handle = std::thread::Builder::new()
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
            handles.push(handle);
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
            padding_frames: crate::units::padding_frames(chunk.frames),
            produced: 0,
            early_taken: 0,
            is_last,
            pcm: Vec::new(),
            failed: false,
            container: Container::Webm,
            _gain: None,
            workers: handles,
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
            self.join_workers();
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
        self.join_workers();
        Ok(std::mem::take(&mut self.pcm))
    }

    /// Joins the workers once every part is in (see `workers`).
    fn join_workers(&mut self) {
        if self.next_part == self.part_count {
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_worker_is_an_internal_error_not_an_encoder_error() {
        assert_eq!(worker_stopped().kind(), crate::ErrorKind::Internal);
    }
}
