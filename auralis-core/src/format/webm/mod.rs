//! WebM (a Matroska subset) for Opus in the browser's Media Source Extensions.
//!
//! Written here because what MSE needs is small and must be exact (timestamps on the 48 kHz
//! grid, DiscardPadding on the last block, an init segment shared by every chunk), and the
//! muxer crates write whole files with their own timing rules:
//!
//! * [`init_segment`]: EBML header, a Segment of unknown size, Info (TimestampScale 1 ms, no
//!   Duration) and one A_OPUS track whose OpusHead has pre-skip 0, with CodecDelay 0 and
//!   SeekPreRoll 80 ms. It depends only on the channel count, so it is byte-identical for every
//!   chunk of a stream.
//! * [`media_segment`]: Clusters of at most [`CLUSTER_PACKETS`] packets (1 s) with absolute
//!   timestamps (cluster timestamp = its first packet's time on the track), one SimpleBlock per
//!   20 ms packet (keyframe flag, no lacing); the track's very last packet is a BlockGroup with
//!   DiscardPadding (its padding past the end, in ns), the only one in the stream.
//! * A chunk file is `init_segment + media_segment`: a valid standalone WebM that MSE accepts as
//!   is, in any order.
//! * [`write_whole_track_file`]: one continuous encode with a real pre-skip and CodecDelay, Duration,
//!   a SeekHead and Cues.
//!
//! The workspace's test kit (`auralis-testkit`, not published) has a strict reader of what
//! this writes.

pub use super::ebml::ids;
use super::ebml::{element, float, master, put_id, put_size, sint, size_len, uint, UNKNOWN_SIZE};
use crate::opus::EncodedChunk;
use crate::units::{frames_to_ms, frames_to_ns, LOOKAHEAD_FRAMES, PACKET_FRAMES};

/// The MIME type for `MediaSource.isTypeSupported` and `addSourceBuffer`.
pub const MIME: &str = "audio/webm; codecs=\"opus\"";
/// Packets per Cluster: 1 s, the unit of progressive output (a server sends each cluster as
/// soon as it is encoded, and a client can start playing on the first one).
pub const CLUSTER_PACKETS: usize = 50;

const APP: &str = concat!("auralis-core ", env!("CARGO_PKG_VERSION"));

fn ebml_header(out: &mut Vec<u8>) {
    master(out, ids::EBML, |h| {
        uint(h, ids::EBML_VERSION, 1);
        uint(h, ids::EBML_READ_VERSION, 1);
        uint(h, ids::EBML_MAX_ID_LENGTH, 4);
        uint(h, ids::EBML_MAX_SIZE_LENGTH, 8);
        element(h, ids::DOC_TYPE, b"webm");
        uint(h, ids::DOC_TYPE_VERSION, 4);
        uint(h, ids::DOC_TYPE_READ_VERSION, 2);
    });
}

/// The Ogg Opus identification header (RFC 7845 §5.1) used as CodecPrivate.
fn opus_head(channels: u8, pre_skip: u16) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0); // mapping family 0: mono or stereo
    head
}

fn tracks(out: &mut Vec<u8>, channels: u8, pre_skip: u16) {
    master(out, ids::TRACKS, |t| {
        master(t, ids::TRACK_ENTRY, |e| {
            uint(e, ids::TRACK_NUMBER, 1);
            uint(e, ids::TRACK_UID, 1);
            uint(e, ids::TRACK_TYPE, 2);
            element(e, ids::CODEC_ID, b"A_OPUS");
            element(e, ids::CODEC_PRIVATE, &opus_head(channels, pre_skip));
            uint(e, ids::CODEC_DELAY, frames_to_ns(u64::from(pre_skip)));
            uint(e, ids::SEEK_PRE_ROLL, 80_000_000);
            master(e, ids::AUDIO, |a| {
                float(a, ids::SAMPLING_FREQUENCY, 48_000.0);
                uint(a, ids::CHANNELS, u64::from(channels));
            });
        });
    });
}

/// The init segment of a stream with `channels` (1 or 2) channels.
pub fn init_segment(channels: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    ebml_header(&mut out);
    put_id(&mut out, ids::SEGMENT);
    out.extend_from_slice(&UNKNOWN_SIZE);
    master(&mut out, ids::INFO, |i| {
        uint(i, ids::TIMESTAMP_SCALE, 1_000_000);
        element(i, ids::MUXING_APP, APP.as_bytes());
        element(i, ids::WRITING_APP, APP.as_bytes());
    });
    tracks(&mut out, channels, 0);
    out
}

/// Clusters for `packets` whose first packet starts at `first_frame` on the track; the last
/// packet carries `discard_padding_frames` (0: none) in a BlockGroup. Returns the bytes and,
/// per cluster, its offset in them and its timestamp in ms.
fn clusters<P: AsRef<[u8]>>(
    packets: &[P],
    first_frame: u64,
    discard_padding_frames: u64,
) -> (Vec<u8>, Vec<(usize, u64)>) {
    let mut out =
        Vec::with_capacity(packets.iter().map(|p| p.as_ref().len() + 8).sum::<usize>() + 64);
    let mut index = Vec::new();
    let groups = packets.len().div_ceil(CLUSTER_PACKETS);
    for (c, group) in packets.chunks(CLUSTER_PACKETS).enumerate() {
        let start = first_frame + (c * CLUSTER_PACKETS * PACKET_FRAMES) as u64;
        index.push((out.len(), frames_to_ms(start)));
        let padding = if c + 1 == groups {
            discard_padding_frames
        } else {
            0
        };
        write_cluster(&mut out, group, frames_to_ms(start), last_block(padding));
    }
    (out, index)
}

/// One Cluster of `packets` (at most [`CLUSTER_PACKETS`]), the first starting at `first_frame`
/// on the track, which must be a whole number of milliseconds (chunks and clusters start on
/// the 20 ms grid). The last packet carries `discard_padding_frames` (0: none) in a BlockGroup.
/// A media segment is its clusters one after the other, so a server can send each as soon as it
/// is made.
pub fn cluster<P: AsRef<[u8]>>(
    packets: &[P],
    first_frame: u64,
    discard_padding_frames: u64,
) -> Vec<u8> {
    debug_assert!(packets.len() <= CLUSTER_PACKETS && first_frame.is_multiple_of(48));
    cluster_at(
        packets,
        frames_to_ms(first_frame),
        last_block(discard_padding_frames),
    )
}

/// The end of a Cluster that ends a chunk with `padding_frames` past the track's end (0: a
/// plain end).
fn last_block(padding_frames: u64) -> LastBlock {
    if padding_frames > 0 {
        LastBlock::TrackEnd { padding_frames }
    } else {
        LastBlock::Plain
    }
}

/// How a Cluster's last block ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastBlock {
    /// A SimpleBlock like the others.
    Plain,
    /// The stream's end: a BlockGroup with DiscardPadding (the frames past the end).
    TrackEnd {
        /// Frames of the packet past the end.
        padding_frames: u64,
    },
    /// A cut inside a stream (a queue's track ending where the next one starts): a BlockGroup
    /// with DiscardPadding (the frames of the packet past the cut, which the next packet
    /// plays) and a BlockDuration (ms) that ends the block where the next block starts, so
    /// the two never overlap on the buffered timeline.
    Cut {
        /// Frames of the packet past the cut.
        padding_frames: u64,
        /// The block's duration on the timeline, ms.
        duration_ms: u64,
    },
}

/// A Cluster at `timestamp_ms` (its first packet's time, rounded to the millisecond for a
/// queue's tracks, which start anywhere on the 48 kHz grid), one block per 20 ms packet, the
/// last one ending as `last` says.
pub fn cluster_at<P: AsRef<[u8]>>(packets: &[P], timestamp_ms: u64, last: LastBlock) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(packets.iter().map(|p| p.as_ref().len() + 8).sum::<usize>() + 24);
    write_cluster(&mut out, packets, timestamp_ms, last);
    out
}

/// [`cluster_at`] appended to `out`. The Cluster's size is worked out first, so its header is
/// written before the body and every SimpleBlock goes straight into `out` (no body buffer
/// copied afterwards, no buffer per packet): muxing runs on the first serve of a cached chunk
/// in each container.
fn write_cluster<P: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    packets: &[P],
    timestamp_ms: u64,
    last: LastBlock,
) {
    debug_assert!(packets.len() <= CLUSTER_PACKETS);
    let relative = |j: usize| (frames_to_ms((j * PACKET_FRAMES) as u64) as i16).to_be_bytes();
    // The last packet's BlockGroup when the chunk's end is signalled (small: one packet).
    let end = match last {
        LastBlock::Plain => None,
        LastBlock::TrackEnd { padding_frames } => Some((padding_frames, None)),
        LastBlock::Cut {
            padding_frames,
            duration_ms,
        } => Some((padding_frames, Some(duration_ms))),
    }
    .filter(|&(padding, _)| padding > 0);
    let tail = match (packets.last(), end) {
        (Some(packet), Some((padding, duration))) => {
            let r = relative(packets.len() - 1);
            // Track 1, the relative timestamp, no flags (a Block has no keyframe flag).
            let mut block = vec![0x81, r[0], r[1], 0x00];
            block.extend_from_slice(packet.as_ref());
            let mut group = Vec::with_capacity(block.len() + 24);
            master(&mut group, ids::BLOCK_GROUP, |g| {
                element(g, ids::BLOCK, &block);
                if let Some(ms) = duration {
                    uint(g, ids::BLOCK_DURATION, ms);
                }
                // DiscardPadding is signed: a negative value would mean "skip at the start".
                sint(g, ids::DISCARD_PADDING, frames_to_ns(padding) as i64);
            });
            Some(group)
        }
        _ => None,
    };
    let simple = &packets[..packets.len() - usize::from(tail.is_some())];
    let mut timestamp = Vec::with_capacity(10);
    uint(&mut timestamp, ids::TIMESTAMP, timestamp_ms);
    let body = timestamp.len()
        + simple
            .iter()
            .map(|p| {
                let block = 4 + p.as_ref().len() as u64;
                1 + size_len(block) + block as usize
            })
            .sum::<usize>()
        + tail.as_ref().map_or(0, Vec::len);
    out.reserve(body + 12);
    put_id(out, ids::CLUSTER);
    put_size(out, body as u64);
    let at = out.len();
    out.extend_from_slice(&timestamp);
    for (j, packet) in simple.iter().enumerate() {
        let packet = packet.as_ref();
        let r = relative(j);
        // The SimpleBlock ID, its size (one or two bytes: an Opus packet is at most 1275
        // bytes), track 1, the relative timestamp, the keyframe flag, then the packet.
        let size = 4 + packet.len();
        debug_assert!(size < (1 << 14) - 1);
        let header = if size < 0x7F {
            [0xA3, 0x80 | size as u8, 0x81, r[0], r[1], 0x80, 0]
        } else {
            [
                0xA3,
                0x40 | (size >> 8) as u8,
                size as u8,
                0x81,
                r[0],
                r[1],
                0x80,
            ]
        };
        out.extend_from_slice(&header[..if size < 0x7F { 6 } else { 7 }]);
        out.extend_from_slice(packet);
    }
    if let Some(group) = tail {
        out.extend_from_slice(&group);
    }
    debug_assert_eq!(
        out.len() - at,
        body,
        "the Cluster's size was worked out exactly"
    );
}

/// Splits a media segment (as [`media_segment`] writes it) into its clusters.
pub fn split_clusters(segment: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < segment.len() {
        let Some(len) = super::ebml::element_len(&segment[at..]) else {
            // Not ours: hand the rest over whole rather than lose bytes.
            out.push(&segment[at..]);
            break;
        };
        out.push(&segment[at..at + len]);
        at += len;
    }
    out
}

/// The media segment of an encoded chunk. `is_last`: the chunk ends the track (its padding, if
/// any, is signalled with DiscardPadding).
pub fn media_segment(chunk: &EncodedChunk, is_last: bool) -> Vec<u8> {
    let padding = if is_last { chunk.padding_frames } else { 0 };
    clusters(&chunk.packets, chunk.start_frame, padding).0
}

/// The clusters of `packets` from `first_frame`, the last packet `padding_frames` short.
pub(crate) fn segment_of<P: AsRef<[u8]>>(
    packets: &[P],
    first_frame: u64,
    padding_frames: u64,
) -> Vec<u8> {
    clusters(packets, first_frame, padding_frames).0
}

/// A complete WebM of a whole track from a continuous encode ([`crate::opus::encode_track`],
/// [`crate::opus::TrackEncoder`]), written to `out` as it is made, the packets (`sizes` of them,
/// in order) read from `packets`: memory holds one Cluster, not the file. The layout is computed
/// first from the sizes alone (a Cluster's length depends only on its packets' lengths), since
/// the Segment's size and the SeekHead's Cues position come before the Clusters.
pub fn write_whole_track_file(
    frames: u64,
    padding_frames: u64,
    channels: u8,
    sizes: &[usize],
    packets: &mut dyn std::io::Read,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut info = Vec::new();
    master(&mut info, ids::INFO, |i| {
        uint(i, ids::TIMESTAMP_SCALE, 1_000_000);
        float(i, ids::DURATION, frames as f64 / 48.0);
        element(i, ids::MUXING_APP, APP.as_bytes());
        element(i, ids::WRITING_APP, APP.as_bytes());
    });
    let mut track_bytes = Vec::new();
    tracks(&mut track_bytes, channels, LOOKAHEAD_FRAMES as u16);
    let groups = sizes.len().div_ceil(CLUSTER_PACKETS);
    let group_start = |c: usize| (c * CLUSTER_PACKETS * PACKET_FRAMES) as u64;
    let group_padding = |c: usize| if c + 1 == groups { padding_frames } else { 0 };
    // Pass 1: each Cluster's length, from placeholder packets of the real sizes.
    let mut index = Vec::with_capacity(groups);
    let mut cluster_bytes = 0u64;
    for (c, group) in sizes.chunks(CLUSTER_PACKETS).enumerate() {
        let placeholders: Vec<Vec<u8>> = group.iter().map(|&n| vec![0; n]).collect();
        index.push((cluster_bytes, frames_to_ms(group_start(c))));
        cluster_bytes += cluster(&placeholders, group_start(c), group_padding(c)).len() as u64;
    }
    // Layout: SeekHead (fixed size, 8-byte positions), Info, Tracks, Clusters, Cues.
    let seek_head = |positions: [u64; 3]| {
        let mut out = Vec::new();
        master(&mut out, ids::SEEK_HEAD, |s| {
            for (id, pos) in [ids::INFO, ids::TRACKS, ids::CUES]
                .into_iter()
                .zip(positions)
            {
                master(s, ids::SEEK, |e| {
                    let mut idb = Vec::new();
                    put_id(&mut idb, id);
                    element(e, ids::SEEK_ID, &idb);
                    element(e, ids::SEEK_POSITION, &pos.to_be_bytes());
                });
            }
        });
        out
    };
    let head_len = seek_head([0; 3]).len() as u64;
    let info_pos = head_len;
    let tracks_pos = info_pos + info.len() as u64;
    let clusters_pos = tracks_pos + track_bytes.len() as u64;
    let cues_pos = clusters_pos + cluster_bytes;
    let mut cues = Vec::new();
    master(&mut cues, ids::CUES, |c| {
        for &(offset, ms) in &index {
            master(c, ids::CUE_POINT, |p| {
                uint(p, ids::CUE_TIME, ms);
                master(p, ids::CUE_TRACK_POSITIONS, |t| {
                    uint(t, ids::CUE_TRACK, 1);
                    uint(t, ids::CUE_CLUSTER_POSITION, clusters_pos + offset);
                });
            });
        }
    });
    let mut head = Vec::new();
    ebml_header(&mut head);
    put_id(&mut head, ids::SEGMENT);
    put_size(&mut head, cues_pos + cues.len() as u64);
    head.extend(seek_head([info_pos, tracks_pos, cues_pos]));
    head.extend_from_slice(&info);
    head.extend_from_slice(&track_bytes);
    out.write_all(&head)?;
    // Pass 2: the Clusters with the real packets.
    for (c, group) in sizes.chunks(CLUSTER_PACKETS).enumerate() {
        let mut group_packets = Vec::with_capacity(group.len());
        for &n in group {
            let mut packet = vec![0; n];
            packets.read_exact(&mut packet)?;
            group_packets.push(packet);
        }
        out.write_all(&cluster(&group_packets, group_start(c), group_padding(c)))?;
    }
    out.write_all(&cues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_vint_and_avoid_the_reserved_value() {
        let enc = |v| {
            let mut o = Vec::new();
            put_size(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0x80]);
        assert_eq!(enc(126), [0xFE]);
        assert_eq!(enc(127), [0x40, 0x7F]); // 0xFF alone would mean "unknown"
        assert_eq!(enc(16_382), [0x7F, 0xFE]);
        assert_eq!(enc(16_383), [0x20, 0x3F, 0xFF]);
    }

    #[test]
    fn signed_integers_keep_their_sign_bit() {
        let enc = |v| {
            let mut o = Vec::new();
            sint(&mut o, ids::DISCARD_PADDING, v);
            o[3..].to_vec() // after the 2-byte ID and the 1-byte size
        };
        assert_eq!(enc(13_500_000), [0x00, 0xCD, 0xFE, 0x60]);
        assert_eq!(enc(127), [0x7F]);
        assert_eq!(enc(128), [0x00, 0x80]);
        assert_eq!(enc(-1), [0xFF]);
        assert_eq!(enc(-129), [0xFF, 0x7F]);
    }

    #[test]
    fn the_init_segment_depends_only_on_the_channel_count() {
        assert_eq!(init_segment(2), init_segment(2));
        assert_ne!(init_segment(1), init_segment(2));
        assert_eq!(frames_to_ns(960), 20_000_000);
        assert_eq!(frames_to_ns(312), 6_500_000);
    }
}
