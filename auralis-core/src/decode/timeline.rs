//! Where each packet's audio lies on the decoder's output timeline.
//!
//! The *linear timeline* is the concatenation of everything the decoder outputs with gapless
//! trimming off, packet after packet, from the first packet of the file. A source's content
//! frame `f` is linear frame `f + delay` (the encoder's priming). Range reads seek, then need the
//! linear position of the packet they landed on:
//!
//! * For PCM, FLAC, ALAC and MP3, symphonia's packet timestamps count decoded frames exactly, so
//!   the position is the timestamp plus a constant ([`Timeline::Affine`]).
//! * For Vorbis and AAC they do not. Ogg granule positions written by common encoders are off by
//!   448 frames around long/short block switches, and symphonia then trims real audio in the
//!   middle of the stream (measured on the corpus's `frantic_45s.ogg`: four 10 ms dropouts
//!   against ffmpeg's decode); MP4 sample tables written by ffmpeg give some AAC packets 1472 or
//!   576 frames where the decoder outputs 1024. For these codecs the source is demuxed once when
//!   opened (no decoding, a few milliseconds) into a [`PacketIndex`] of timestamp → linear
//!   position, with each packet's true output length ([`Timeline::Indexed`]).
//! * Ogg timestamps are not even stable: after a seek, symphonia's Ogg reader numbers the packets
//!   between two irregular granules 448 frames differently than a pass from the start does
//!   (measured). So Ogg packets are identified by their ordinal from the start of the file, and
//!   an Ogg range read reaches its first packet by demuxing (not decoding) from the start;
//!   MP4's sample-table timestamps are stable, so AAC in MP4 seeks and looks packets up by
//!   timestamp.

use std::sync::Arc;

use symphonia::core::packet::Packet;

/// Positions of packets on the linear timeline.
#[derive(Debug, Clone)]
pub(crate) enum Timeline {
    /// `linear = pts + offset`, packet length = its `dur`.
    Affine { offset: i64 },
    /// Looked up in an index built when the source was opened. `seek_by_pts`: the container's
    /// seeks give packets the same timestamps as a pass from the start (MP4: yes; Ogg: no, so
    /// reads skip packets from the start instead of seeking).
    Indexed {
        /// The index.
        index: Arc<PacketIndex>,
        /// Whether timestamps after a seek can be looked up.
        seek_by_pts: bool,
    },
}

/// Every packet of the track in file order: its timestamp and where its output starts.
#[derive(Debug, Default)]
pub(crate) struct PacketIndex {
    pts: Vec<i64>,
    /// `linear[i]` is where packet `i` starts; `linear[len]` is the end of the stream.
    linear: Vec<u64>,
}

impl PacketIndex {
    pub(crate) fn push(&mut self, pts: i64, frames: u64) {
        let start = self.linear.last().copied().unwrap_or(0);
        if self.linear.is_empty() {
            self.linear.push(0);
        }
        self.pts.push(pts);
        self.linear.push(start + frames);
    }

    pub(crate) fn total(&self) -> u64 {
        self.linear.last().copied().unwrap_or(0)
    }

    pub(crate) fn len(&self) -> usize {
        self.pts.len()
    }

    /// The index of the last packet that starts at or before `linear`.
    pub(crate) fn packet_at_or_before(&self, linear: u64) -> Option<usize> {
        let starts = &self.linear[..self.pts.len()];
        match starts.partition_point(|&s| s <= linear) {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// Finds a packet by timestamp, trying `hint` first (the packet after the previous one).
    pub(crate) fn find(&self, pts: i64, hint: usize) -> Option<usize> {
        if self.pts.get(hint) == Some(&pts) {
            return Some(hint);
        }
        // Timestamps are non-decreasing in file order (granules may jump, never go back), so
        // the first packet with this timestamp is the one a seek lands on.
        let i = self.pts.partition_point(|&p| p < pts);
        (self.pts.get(i) == Some(&pts)).then_some(i)
    }

    pub(crate) fn pts(&self, i: usize) -> i64 {
        self.pts[i]
    }

    /// Start and length of packet `i`.
    pub(crate) fn span(&self, i: usize) -> (u64, u64) {
        (self.linear[i], self.linear[i + 1] - self.linear[i])
    }
}

/// How many frames a Vorbis or AAC packet really decodes to, from what the demuxer reports.
pub(crate) fn true_packet_frames(packet: &Packet, is_aac: bool) -> u64 {
    if is_aac {
        // AAC-LC (the profile symphonia decodes) always outputs 1024 frames per packet.
        1024
    } else {
        // symphonia's Ogg demuxer moves the frames it wants trimmed out of `dur`.
        packet.dur.get() + packet.trim_start.get() + packet.trim_end.get()
    }
}
