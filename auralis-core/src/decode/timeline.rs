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
//! * Opus (in Ogg and Matroska) is indexed too, each packet's length read from its
//!   table-of-contents byte.
//! * Matroska timestamps are milliseconds, not frames: every codec there is indexed (Opus by its
//!   TOC, FLAC by its frame headers, Vorbis by decoding each packet once when opened) and read
//!   like Ogg, by ordinal from the start.

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

/// How many frames an Ogg Vorbis packet really decodes to: symphonia's Ogg demuxer moves the
/// frames it wants trimmed out of `dur`.
pub(crate) fn demuxed_packet_frames(packet: &Packet) -> u64 {
    packet.dur.get() + packet.trim_start.get() + packet.trim_end.get()
}

/// Frames (at 48 kHz) of an Opus packet, from its table-of-contents byte and, for code 3, its
/// frame count byte (RFC 6716 §3.1, §3.2.5). A packet too short to say is 0 frames (it will not
/// decode either). Multistream packets: the first stream's TOC speaks for all of them.
pub(crate) fn opus_packet_frames(data: &[u8]) -> u64 {
    let Some(&toc) = data.first() else { return 0 };
    let config = toc >> 3;
    // Frame length in 1/400 s units (2.5 ms = 120 frames at 48 kHz).
    let units: u64 = match config {
        0..=11 => [4, 8, 16, 24][usize::from(config % 4)],
        12..=15 => [4, 8][usize::from(config % 2)],
        _ => [1, 2, 4, 8][usize::from(config % 4)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => data.get(1).map_or(0, |b| u64::from(b & 0x3F)),
    };
    units * 120 * count
}

/// Frames in a FLAC frame, from its header's block-size code (FLAC format, "FRAME_HEADER").
/// A header that does not parse is 0 frames.
pub(crate) fn flac_frame_frames(data: &[u8]) -> u64 {
    if data.len() < 5 || data[0] != 0xFF || data[1] & 0xFE != 0xF8 {
        return 0;
    }
    let code = data[2] >> 4;
    match code {
        1 => 192,
        2..=5 => 576 << (code - 2),
        8..=15 => 256 << (code - 8),
        6 | 7 => {
            // The block size follows the UTF-8-style coded frame or sample number.
            let lead = data[4];
            let coded = if lead < 0x80 {
                1
            } else {
                lead.leading_ones() as usize
            };
            let at = 4 + coded;
            if code == 6 {
                data.get(at).map_or(0, |&b| u64::from(b) + 1)
            } else {
                data.get(at..at + 2)
                    .map_or(0, |b| u64::from(u16::from_be_bytes([b[0], b[1]])) + 1)
            }
        }
        _ => 0,
    }
}

/// Output lengths of Vorbis packets from the headers alone (for Matroska, whose timestamps
/// cannot tell them): each audio packet names a mode, each mode a short or long block, and a
/// packet decodes to a quarter of the previous block plus a quarter of its own (symphonia's
/// decoder, gapless trimming off: the first packet counts its own block twice).
///
/// The modes sit at the end of the setup header, after codebooks, floors and residues that
/// would take a whole Vorbis decoder to walk. They are read backwards instead: the last set bit
/// is the framing flag; before it come the modes, 41 bits each (block flag, then a window type
/// and a transform type that must both be 0, then a mapping number), preceded by their count
/// minus one in 6 bits. The largest count whose modes are well-formed and whose count field
/// agrees is taken (the same reading ffmpeg's Vorbis parser does).
#[derive(Debug, Clone)]
pub(crate) struct VorbisBlocks {
    short: u64,
    long: u64,
    mode_long: Vec<bool>,
    mode_bits: u32,
    previous: Option<u64>,
}

impl VorbisBlocks {
    /// From the identification and setup headers; `None` if they do not read as such.
    pub(crate) fn from_headers(ident: &[u8], setup: &[u8]) -> Option<Self> {
        if ident.len() < 30 || ident[0] != 1 || &ident[1..7] != b"vorbis" {
            return None;
        }
        if setup.len() < 8 || setup[0] != 5 || &setup[1..7] != b"vorbis" {
            return None;
        }
        let (short, long) = (1u64 << (ident[28] & 0x0F), 1u64 << (ident[28] >> 4));
        let bit = |i: usize| (setup[i / 8] >> (i % 8)) & 1 == 1;
        let bits =
            |from: usize, n: usize| (0..n).fold(0u32, |v, k| v | u32::from(bit(from + k)) << k);
        let framing = (0..setup.len() * 8).rev().find(|&i| bit(i))?;
        // How many well-formed modes end at the framing bit.
        let mut fit = 0;
        while fit < 64 && framing >= 41 * (fit + 1) + 6 + 7 * 8 {
            let start = framing - 41 * (fit + 1);
            if bits(start + 1, 16) != 0 || bits(start + 17, 16) != 0 {
                break;
            }
            fit += 1;
        }
        let count = (1..=fit)
            .rev()
            .find(|&n| bits(framing - 41 * n - 6, 6) as usize == n - 1)?;
        let mode_long = (0..count)
            .map(|j| bit(framing - 41 * (count - j)))
            .collect();
        Some(VorbisBlocks {
            short,
            long,
            mode_long,
            mode_bits: usize::BITS - (count - 1).leading_zeros(),
            previous: None,
        })
    }

    /// Frames the next packet decodes to (0 for one that is not an audio packet).
    pub(crate) fn packet_frames(&mut self, packet: &[u8]) -> u64 {
        let Some(&first) = packet.first() else {
            return 0;
        };
        if first & 1 != 0 {
            return 0;
        }
        let mut mode = 0usize;
        for k in 0..self.mode_bits as usize {
            let i = 1 + k;
            let Some(byte) = packet.get(i / 8) else {
                return 0;
            };
            mode |= usize::from((byte >> (i % 8)) & 1) << k;
        }
        let Some(&long) = self.mode_long.get(mode) else {
            return 0;
        };
        let n = if long { self.long } else { self.short };
        let previous = self.previous.replace(n).unwrap_or(n);
        (previous + n) / 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_and_flac_packet_lengths() {
        // SILK 10/20/40/60 ms, hybrid 10/20, CELT 2.5/5/10/20 (RFC 6716 table 2).
        for (config, frames) in [
            (0u8, 480),
            (1, 960),
            (2, 1920),
            (3, 2880),
            (12, 480),
            (13, 960),
        ]
        .into_iter()
        .chain([(16, 120), (17, 240), (18, 480), (31, 960)])
        {
            assert_eq!(
                opus_packet_frames(&[config << 3]),
                frames,
                "config {config}"
            );
            assert_eq!(opus_packet_frames(&[config << 3 | 1]), 2 * frames);
            assert_eq!(opus_packet_frames(&[config << 3 | 3, 0x83]), 3 * frames);
        }
        assert_eq!(opus_packet_frames(&[]), 0);
        assert_eq!(opus_packet_frames(&[3]), 0, "code 3 without its count byte");

        assert_eq!(flac_frame_frames(&[0xFF, 0xF8, 0xC9, 0x18, 0x00]), 4096);
        assert_eq!(flac_frame_frames(&[0xFF, 0xF8, 0x19, 0x18, 0x00]), 192);
        assert_eq!(flac_frame_frames(&[0xFF, 0xF9, 0x39, 0x18, 0x00]), 1152);
        // 8-bit and 16-bit explicit sizes after a one- and a two-byte coded number.
        assert_eq!(flac_frame_frames(&[0xFF, 0xF8, 0x69, 0x18, 0x05, 99]), 100);
        assert_eq!(
            flac_frame_frames(&[0xFF, 0xF8, 0x79, 0x18, 0xC2, 0x80, 0x01, 0x2B]),
            300
        );
        assert_eq!(
            flac_frame_frames(&[0xFF, 0xF8, 0x79, 0x18, 0xC2, 0x80]),
            0,
            "cut short"
        );
        assert_eq!(
            flac_frame_frames(&[0x00, 0xF8, 0xC9, 0x18, 0x00]),
            0,
            "no sync"
        );
    }
}
