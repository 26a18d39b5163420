//! A track's chunk as parts: the renderer decodes and resamples each part's input (handing the
//! next part its warm-up), the mastering masters it (with a transition's old mastering mixed in
//! at the chunk's start, and a loudness gain that may still be being calibrated), and the
//! encoder encodes it.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::parts::{PartOut, PartSource};
use crate::dsp::crossfade::Curve;
use crate::error::Error;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings};
use crate::plan::ChunkRange;
use crate::render::Renderer;
use crate::units::{LOOKAHEAD_FRAMES, PRE_ROLL_FRAMES};

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
/// [`super::ChunkRender::start_with_pending_gain`]): the chunk's first part reads its input and runs
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
pub(super) struct GainGuard(pub(super) Arc<PendingGain>);

impl PartSource for PartWork {
    fn part_count(&self) -> usize {
        self.parts.len()
    }

    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error> {
        PartWork::run(self, i, early)
    }
}

/// Everything a worker needs, owned.
pub(super) struct PartWork {
    pub(super) renderer: Renderer,
    pub(super) chunk: ChunkRange,
    pub(super) parts: Vec<(u64, u64)>,
    /// The mastering; with `gain`, its loudness gain is the one `gain` gives.
    pub(super) params: MasteringParams,
    /// The loudness gain, when it is still being calibrated.
    pub(super) gain: Option<Arc<PendingGain>>,
    pub(super) transition: Option<Transition>,
    pub(super) settings: Option<OpusSettings>,
    /// Part `i`'s 48 kHz input, left for part `i + 1` (see [`Handover`]).
    pub(super) handover: Vec<Handover>,
}

/// A part's decoded and resampled input, handed to the next part: the next part's mastering
/// warm-up (3 s before it) lies inside this part's input, so the next part decodes only what
/// comes after it instead of decoding its warm-up again (a third of all decoding and
/// resampling with 5 parts per 30 s chunk). The samples are the same as a read of the next
/// part's own (range reads and the resampler's blocks do not depend on where a read starts), so
/// the bytes do not change; a part never waits for more than the previous part's decoding,
/// which started before its own (workers take parts in order).
#[derive(Default)]
pub(super) struct Handover {
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
            crate::dsp::crossfade::mix_transition(
                &mut input,
                &old,
                ch,
                first - self.chunk.start_frame as i64,
                t.fade_frames,
                t.curve,
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
