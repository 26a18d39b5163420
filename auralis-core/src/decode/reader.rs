//! Exact range reads: seek, warm up, place each packet by its timeline position.

use symphonia::core::codecs::audio::AudioDecoder;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};
use symphonia::core::units::Timestamp;

use super::{make_decoder, open_format, Source, Timeline};
use crate::error::DecodeError;

/// A packet claiming more frames than this is malformed (the largest real codec packets,
/// FLAC's, hold 65535 frames).
const MAX_PACKET_FRAMES: u64 = 1 << 20;

/// Reads frame ranges of a [`Source`].
///
/// Owns a file handle and a decoder: one reader per thread. Reads may come in any order; each
/// seeks as needed and returns the same samples whatever was read before.
pub struct RangeReader {
    source: Source,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    /// The format reader has not delivered a packet since it was opened.
    fresh: bool,
    /// For indexed timelines: the ordinal of the next packet, when known without a timestamp
    /// lookup (after opening or skipping; unknown right after a seek).
    next_ordinal: Option<usize>,
    /// The decoder is new: its first output may be short (priming), and is then the end of
    /// its packet's span. Any other short output (a truncated last packet) is its start.
    decoder_is_new: bool,
    decoded: Vec<f32>,
    mapped: Vec<f32>,
}

impl std::fmt::Debug for RangeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeReader")
            .field("source", &self.source.label)
            .finish_non_exhaustive()
    }
}

/// One decoded packet, placed on the linear timeline.
struct Placed<'a> {
    /// Where the packet nominally starts (for seek checks).
    packet_start: u64,
    /// Where `frames` starts.
    start: u64,
    /// Interleaved output-channel samples.
    frames: &'a [f32],
    /// Whether it decoded (false: silence standing in for a damaged packet).
    ok: bool,
}

impl RangeReader {
    pub(super) fn new(source: Source) -> Result<Self, DecodeError> {
        let layout = &source.layout;
        let format = open_format(&source.data, &source.label, layout.extension.as_deref())?;
        let decoder = make_decoder(&layout.params, &source.label)?;
        Ok(RangeReader {
            source,
            format,
            decoder,
            fresh: true,
            next_ordinal: Some(0),
            decoder_is_new: true,
            decoded: Vec::new(),
            mapped: Vec::new(),
        })
    }

    /// Streams frames `[start, end)` (content frames at the source rate) to `sink`, in blocks of
    /// interleaved samples (1 or 2 channels, see [`super::SourceInfo::channels`]).
    ///
    /// The samples are exactly those of a linear decode of the whole file, and the same
    /// whatever this reader read before.
    pub fn read(
        &mut self,
        start: u64,
        end: u64,
        mut sink: impl FnMut(&[f32]),
    ) -> Result<(), DecodeError> {
        let frames = self.source.info.frames;
        if start > end || end > frames {
            return Err(DecodeError::RangeOutOfBounds {
                path: self.source.label.clone(),
                start,
                end,
                frames,
            });
        }
        if start == end {
            return Ok(());
        }
        if !self.fresh {
            // Start every read from a newly opened demuxer: a seek from wherever the last read
            // stopped can land elsewhere than one from the start (symphonia's MP3 reader scans
            // for frame sync from its current position, and a damaged file has false syncs;
            // found by the `range_read` fuzz target). Opening is a probe, not a decode.
            self.reopen()?;
        }
        let delay = self.source.layout.delay;
        let (lin_start, lin_end) = (start + delay, end + delay);
        let target = lin_start.saturating_sub(self.source.layout.warmup);
        self.seek_linear(target)?;
        let channels = self.source.info.channels as usize;
        let mut delivery = Delivery {
            cursor: lin_start,
            end: lin_end,
            channels,
            target,
            overshoot: false,
            first: true,
        };
        self.pump(|placed| delivery.accept(placed, &mut sink))?;
        if delivery.overshoot {
            // The seek landed after the target (a container bug): read from the start instead.
            self.reopen()?;
            delivery = Delivery {
                cursor: lin_start,
                end: lin_end,
                channels,
                target: 0,
                overshoot: false,
                first: true,
            };
            self.pump(|placed| delivery.accept(placed, &mut sink))?;
        }
        if delivery.cursor < lin_end {
            return Err(DecodeError::EndedEarly {
                path: self.source.label.clone(),
                expected: end,
                got: delivery.cursor - delay,
            });
        }
        Ok(())
    }

    /// The linear end of the stream, checked near `declared_end` when a header gives one,
    /// by a full pass otherwise (or when the check fails: the header lied). The end is where
    /// the last packet that decodes ends: a damaged packet inside the stream becomes silence,
    /// but a damaged tail (a truncated last packet) does not lengthen the track.
    pub(super) fn measure_end(&mut self, declared_end: Option<u64>) -> Result<u64, DecodeError> {
        let channels = self.source.info.channels as usize;
        if let Timeline::Indexed { index, .. } = &self.source.layout.timeline {
            let total = index.total();
            // Prove the stream decodes at all before trusting the index.
            let mut decoded_ok = false;
            let mut seen = 0;
            self.pump(|placed| {
                decoded_ok |= placed.ok && !placed.frames.is_empty();
                seen += 1;
                !decoded_ok && seen < 64
            })?;
            return if decoded_ok {
                Ok(total)
            } else {
                Err(self.malformed("no packet could be decoded"))
            };
        }
        // First the header's end, then the end of the last packet the demuxer finds (a pass
        // that reads the file without decoding it): each is confirmed by decoding its last
        // second. Only when neither holds is the whole file decoded.
        if let Some(end) = declared_end {
            if let Some(end) = self.confirm_end(end)? {
                return Ok(end);
            }
        }
        if let Some(end) = self.demuxed_end()? {
            if let Some(end) = self.confirm_end(end)? {
                return Ok(end);
            }
        }
        self.reopen()?;
        let (mut end, mut ok_packets) = (0u64, 0u64);
        self.pump(|placed| {
            if placed.ok {
                end = end.max(placed.start + (placed.frames.len() / channels) as u64);
                ok_packets += 1;
            }
            true
        })?;
        if ok_packets == 0 {
            return Err(self.malformed("no packet could be decoded"));
        }
        Ok(end)
    }

    /// Decodes from one second before `claimed_end` to the end of the stream and returns
    /// where decodable audio really ends, or `None` if the seek did not get there (the
    /// claim was wrong or the reader cannot seek).
    fn confirm_end(&mut self, claimed_end: u64) -> Result<Option<u64>, DecodeError> {
        let channels = self.source.info.channels as usize;
        let probe_from = claimed_end.saturating_sub(u64::from(self.source.info.sample_rate));
        self.seek_linear(probe_from)?;
        let (mut end, mut ok_packets, mut first_start) = (0u64, 0u64, None);
        self.pump(|placed| {
            first_start.get_or_insert(placed.packet_start);
            if placed.ok {
                end = end.max(placed.start + (placed.frames.len() / channels) as u64);
                ok_packets += 1;
            }
            true
        })?;
        let landed = first_start.is_some_and(|s| s <= probe_from);
        Ok((ok_packets > 0 && landed).then_some(end))
    }

    /// The end of the last packet, by reading the whole stream without decoding.
    fn demuxed_end(&mut self) -> Result<Option<u64>, DecodeError> {
        let Timeline::Affine { offset } = self.source.layout.timeline else {
            return Ok(None);
        };
        self.reopen()?;
        let track_id = self.source.layout.track_id;
        let mut end: Option<u64> = None;
        loop {
            match self.format.next_packet() {
                Ok(Some(p)) if p.track_id == track_id => {
                    let packet_end = p
                        .pts
                        .get()
                        .saturating_add(offset)
                        .saturating_add(p.dur.get() as i64);
                    end = end.max(u64::try_from(packet_end).ok());
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.fresh = false;
        Ok(end)
    }

    fn malformed(&self, reason: &str) -> DecodeError {
        DecodeError::Malformed {
            path: self.source.label.clone(),
            reason: reason.into(),
        }
    }

    fn reopen(&mut self) -> Result<(), DecodeError> {
        let layout = &self.source.layout;
        self.format = open_format(
            &self.source.data,
            &self.source.label,
            layout.extension.as_deref(),
        )?;
        self.new_decoder()?;
        self.fresh = true;
        self.next_ordinal = Some(0);
        Ok(())
    }

    /// Replaces the decoder with a new one. `reset()` is not enough: symphonia's AAC decoder
    /// keeps its noise-substitution generator across resets, so output after a seek would
    /// depend on what was decoded before (measured on the corpus's `love_40s.m4a`).
    fn new_decoder(&mut self) -> Result<(), DecodeError> {
        self.decoder = make_decoder(&self.source.layout.params, &self.source.label)?;
        self.decoder_is_new = true;
        Ok(())
    }

    /// Positions the reader so that the next packet starts at or before linear frame `target`.
    fn seek_linear(&mut self, target: u64) -> Result<(), DecodeError> {
        if target == 0 {
            return if self.fresh { Ok(()) } else { self.reopen() };
        }
        let layout = self.source.layout.clone();
        let ts = match &layout.timeline {
            Timeline::Affine { offset } => target as i64 - offset,
            Timeline::Indexed {
                index,
                seek_by_pts: true,
            } => index.pts(index.packet_at_or_before(target).unwrap_or(0)),
            Timeline::Indexed {
                index,
                seek_by_pts: false,
            } => {
                let first = index.packet_at_or_before(target).unwrap_or(0);
                return self.skip_to_packet(first);
            }
        };
        let seek = SeekTo::Timestamp {
            ts: Timestamp::new(ts),
            track_id: layout.track_id,
        };
        match self.format.seek(SeekMode::Accurate, seek) {
            Ok(_) => {
                self.new_decoder()?;
                self.fresh = false;
                self.next_ordinal = None;
                Ok(())
            }
            // Some readers cannot seek (or not there): decode from the start instead.
            Err(_) => self.reopen(),
        }
    }

    /// Reopens and demuxes, without decoding, up to packet `ordinal` of the track.
    fn skip_to_packet(&mut self, ordinal: usize) -> Result<(), DecodeError> {
        if self.next_ordinal.is_none_or(|next| next > ordinal) {
            self.reopen()?;
        }
        let track_id = self.source.layout.track_id;
        while self.next_ordinal.is_some_and(|next| next < ordinal) {
            match self.format.next_packet() {
                Ok(Some(p)) if p.track_id == track_id => {
                    self.next_ordinal = self.next_ordinal.map(|n| n + 1);
                    self.fresh = false;
                }
                Ok(Some(_)) => {}
                // The end came before the packet: the read will report what is missing.
                Ok(None) | Err(_) => break,
            }
        }
        self.new_decoder()
    }

    /// Decodes packets from the current position, handing each to `accept` until it returns
    /// false or the stream ends.
    fn pump(&mut self, mut accept: impl FnMut(Placed<'_>) -> bool) -> Result<(), DecodeError> {
        let layout = self.source.layout.clone();
        let channels = self.source.info.channels as usize;
        let mut hint = 0usize;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) if p.track_id == layout.track_id => p,
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(SymphoniaError::IoError(e))
                    if e.kind() != std::io::ErrorKind::UnexpectedEof =>
                {
                    return Err(DecodeError::Io {
                        path: self.source.label.clone(),
                        source: e,
                    })
                }
                // A truncated or damaged tail ends the stream where readable packets end.
                Err(_) => return Ok(()),
            };
            self.fresh = false;
            if matches!(layout.timeline, Timeline::Affine { .. }) {
                self.next_ordinal = None;
            }
            let (packet_start, nominal) = match &layout.timeline {
                Timeline::Affine { offset } => {
                    let start = packet.pts.get().checked_add(*offset).filter(|s| *s >= 0);
                    let start = start.ok_or_else(|| {
                        self.malformed("packet timestamp before the stream start")
                    })?;
                    (start as u64, packet.dur.get())
                }
                Timeline::Indexed { index, .. } => {
                    let i = match self.next_ordinal {
                        Some(i) if i < index.len() => i,
                        Some(_) => {
                            return Err(
                                self.malformed("more packets than when opened (file changed?)")
                            )
                        }
                        None => index.find(packet.pts.get(), hint).ok_or_else(|| {
                            self.malformed("packet missing from the index (file changed?)")
                        })?,
                    };
                    hint = i + 1;
                    self.next_ordinal = Some(i + 1);
                    index.span(i)
                }
            };
            if nominal > MAX_PACKET_FRAMES {
                return Err(self.malformed("packet longer than any codec allows"));
            }
            self.mapped.clear();
            // A decoder that panics on a damaged packet (symphonia's can) is treated like one
            // that reports it, and replaced: its state is unknown.
            let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.decoder.decode(&packet).map(|buffer| {
                    buffer.copy_to_vec_interleaved(&mut self.decoded);
                })
            }))
            .unwrap_or(Err(SymphoniaError::ResetRequired));
            let ok = match decoded {
                Ok(()) => {
                    layout.channel_map.map_into(&self.decoded, &mut self.mapped);
                    true
                }
                Err(SymphoniaError::IoError(_) | SymphoniaError::DecodeError(_)) => {
                    self.mapped.resize(nominal as usize * channels, 0.0);
                    false
                }
                Err(SymphoniaError::ResetRequired) => {
                    self.decoder = make_decoder(&layout.params, &self.source.label)?;
                    self.mapped.resize(nominal as usize * channels, 0.0);
                    false
                }
                Err(e) => return Err(self.malformed(&e.to_string())),
            };
            let n = (self.mapped.len() / channels) as u64;
            // A decoder that has just been reset may output less than a packet's worth: what it
            // gives is the end of the packet's span.
            let start = if n <= nominal {
                packet_start + nominal - n
            } else {
                packet_start
            };
            if !accept(Placed {
                packet_start,
                start,
                frames: &self.mapped,
                ok,
            }) {
                return Ok(());
            }
        }
    }
}

/// Copies the part of each placed packet that falls in `[cursor, end)`.
struct Delivery {
    cursor: u64,
    end: u64,
    channels: usize,
    target: u64,
    overshoot: bool,
    first: bool,
}

impl Delivery {
    fn accept(&mut self, placed: Placed<'_>, sink: &mut impl FnMut(&[f32])) -> bool {
        if std::mem::take(&mut self.first) && placed.packet_start > self.target {
            self.overshoot = true;
            return false;
        }
        let ch = self.channels;
        let block_end = placed.start + (placed.frames.len() / ch) as u64;
        if block_end <= self.cursor {
            return true;
        }
        if placed.start > self.cursor {
            // A hole in the timeline (a packet the decoder skipped): silence keeps positions exact.
            const ZEROS: [f32; 4096] = [0.0; 4096];
            let mut missing = (placed.start.min(self.end) - self.cursor) as usize * ch;
            while missing > 0 {
                let n = missing.min(ZEROS.len() / ch * ch);
                sink(&ZEROS[..n]);
                missing -= n;
            }
            self.cursor = placed.start.min(self.end);
        }
        if self.cursor >= self.end {
            return false;
        }
        let from = (self.cursor - placed.start) as usize;
        let to = (block_end.min(self.end) - placed.start) as usize;
        sink(&placed.frames[from * ch..to * ch]);
        self.cursor = placed.start + to as u64;
        self.cursor < self.end
    }
}
