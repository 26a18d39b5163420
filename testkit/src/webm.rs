//! A strict reader for the WebM auralis-core writes: it checks element structure and sizes, the
//! header fields MSE depends on, and returns the Opus packets with their timing. Anything
//! outside that subset (another codec, lacing, several tracks) is an error, not a guess.

use auralis_core::format::ebml::{self, ids, VintError};
use auralis_core::units::ns_to_frames;

/// Why bytes are not the WebM this crate writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebmError {
    /// Structure or content is invalid at `offset`.
    #[error("invalid WebM at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset in the input.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
}

fn bad<T>(offset: usize, reason: impl Into<String>) -> Result<T, WebmError> {
    Err(WebmError::Malformed {
        offset,
        reason: reason.into(),
    })
}

/// One Opus packet as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Absolute timestamp in ms (cluster timestamp + relative timestamp).
    pub timestamp_ms: i64,
    /// SimpleBlock keyframe flag (BlockGroups have none).
    pub keyframe: bool,
    /// The Opus packet.
    pub data: Vec<u8>,
    /// DiscardPadding in ns, for the block carrying it.
    pub discard_padding_ns: Option<i64>,
    /// BlockDuration in ms, for a BlockGroup carrying it.
    pub duration_ms: Option<u64>,
}

impl Block {
    /// The frames a player keeps of this block's `decoded` frames: its duration when it has one
    /// (a queue's cut block), else all of them, less its DiscardPadding (what Chromium plays).
    pub fn kept_frames(&self, decoded: usize) -> usize {
        let padding = self
            .discard_padding_ns
            .map_or(0, |ns| ns_to_frames(ns.max(0) as u64) as usize);
        let length = self
            .duration_ms
            .map_or(decoded, |ms| (ms as usize * 48).min(decoded));
        length.saturating_sub(padding)
    }
}

/// What a WebM file holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Channel count (track Audio element and OpusHead, which must agree).
    pub channels: u8,
    /// OpusHead pre-skip in frames.
    pub pre_skip: u16,
    /// CodecDelay in ns.
    pub codec_delay_ns: u64,
    /// SeekPreRoll in ns.
    pub seek_pre_roll_ns: u64,
    /// Info Duration in ms, when present.
    pub duration_ms: Option<f64>,
    /// Whether the Segment has an unknown size (a live/MSE stream).
    pub segment_size_unknown: bool,
    /// Byte offset where the first Cluster starts (the end of the init segment).
    pub first_cluster_offset: Option<usize>,
    /// Every block, in order.
    pub blocks: Vec<Block>,
    /// Cluster timestamps (ms), in order.
    pub cluster_timestamps_ms: Vec<i64>,
    /// Cue points: (time in ms, cluster position relative to the Segment's data).
    pub cues: Vec<(u64, u64)>,
    /// Offset of the Segment's data (positions in Cues and SeekHead count from here).
    pub segment_data_offset: usize,
}

/// An element ID at `pos` (marker kept) and its length.
fn read_id(buf: &[u8], pos: usize) -> Result<(u32, usize), WebmError> {
    ebml::id_at(buf, pos).map_err(|e| WebmError::Malformed {
        offset: pos,
        reason: match e {
            VintError::Truncated => "truncated ID",
            VintError::TooLong => "ID longer than 4 bytes",
        }
        .into(),
    })
}

/// A size at `pos` (`None` is the reserved "unknown size") and its length.
fn read_size(buf: &[u8], pos: usize) -> Result<(Option<u64>, usize), WebmError> {
    ebml::size_at(buf, pos).map_err(|e| WebmError::Malformed {
        offset: pos,
        reason: match e {
            VintError::Truncated => "truncated size",
            VintError::TooLong => "size longer than 8 bytes",
        }
        .into(),
    })
}

/// An element's ID and the range of its body.
struct Element {
    id: u32,
    start: usize,
    body: std::ops::Range<usize>,
    unknown_size: bool,
}

/// The elements in `buf[range]`; an unknown size runs to the end of the range.
fn children(buf: &[u8], range: std::ops::Range<usize>) -> Result<Vec<Element>, WebmError> {
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let (id, id_len) = read_id(buf, pos)?;
        let (size, size_len) = read_size(buf, pos + id_len)?;
        let body_start = pos + id_len + size_len;
        let body_end = match size {
            Some(size) => body_start
                .checked_add(usize::try_from(size).unwrap_or(usize::MAX))
                .filter(|&end| end <= range.end)
                .ok_or(WebmError::Malformed {
                    offset: pos,
                    reason: format!("element {id:#X} runs past its parent"),
                })?,
            None => range.end,
        };
        out.push(Element {
            id,
            start: pos,
            body: body_start..body_end,
            unknown_size: size.is_none(),
        });
        pos = body_end;
    }
    Ok(out)
}

fn uint(buf: &[u8], e: &Element) -> Result<u64, WebmError> {
    let body = &buf[e.body.clone()];
    if body.len() > 8 {
        return bad(e.start, "unsigned integer longer than 8 bytes");
    }
    Ok(body.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn sint(buf: &[u8], e: &Element) -> Result<i64, WebmError> {
    let body = &buf[e.body.clone()];
    if body.is_empty() || body.len() > 8 {
        return bad(e.start, "signed integer of 0 or more than 8 bytes");
    }
    let sign = if body[0] & 0x80 != 0 { -1i64 } else { 0 };
    Ok(body.iter().fold(sign, |acc, &b| (acc << 8) | i64::from(b)))
}

fn float(buf: &[u8], e: &Element) -> Result<f64, WebmError> {
    let body = &buf[e.body.clone()];
    match body.len() {
        4 => Ok(f64::from(f32::from_be_bytes(
            body.try_into().expect("4 bytes"),
        ))),
        8 => Ok(f64::from_be_bytes(body.try_into().expect("8 bytes"))),
        _ => bad(e.start, "float of a size other than 4 or 8"),
    }
}

/// Parses a WebM file (or an init segment alone).
pub fn parse(buf: &[u8]) -> Result<Parsed, WebmError> {
    let top = children(buf, 0..buf.len())?;
    let [header, segment] = top.as_slice() else {
        return bad(
            0,
            format!(
                "expected an EBML header and one Segment, found {} top-level elements",
                top.len()
            ),
        );
    };
    if header.id != ids::EBML || segment.id != ids::SEGMENT {
        return bad(
            0,
            "the file does not start with an EBML header followed by a Segment",
        );
    }
    let doc_type = children(buf, header.body.clone())?
        .into_iter()
        .find(|e| e.id == ids::DOC_TYPE)
        .map(|e| buf[e.body].to_vec());
    if doc_type.as_deref() != Some(b"webm") {
        return bad(header.start, "DocType is not webm");
    }
    let mut parsed = Parsed {
        segment_size_unknown: segment.unknown_size,
        segment_data_offset: segment.body.start,
        ..Parsed::default()
    };
    let mut saw_tracks = false;
    for element in children(buf, segment.body.clone())? {
        match element.id {
            ids::INFO => {
                for e in children(buf, element.body.clone())? {
                    match e.id {
                        ids::TIMESTAMP_SCALE if uint(buf, &e)? != 1_000_000 => {
                            return bad(e.start, "TimestampScale is not 1 ms");
                        }
                        ids::DURATION => parsed.duration_ms = Some(float(buf, &e)?),
                        _ => {}
                    }
                }
            }
            ids::TRACKS => {
                let entries = children(buf, element.body.clone())?;
                let [entry] = entries.as_slice() else {
                    return bad(element.start, "expected exactly one track");
                };
                read_track(buf, entry, &mut parsed)?;
                saw_tracks = true;
            }
            ids::CLUSTER => {
                parsed.first_cluster_offset.get_or_insert(element.start);
                read_cluster(buf, &element, &mut parsed)?;
            }
            ids::CUES => {
                for point in children(buf, element.body.clone())? {
                    let fields = children(buf, point.body.clone())?;
                    let time = fields
                        .iter()
                        .find(|e| e.id == ids::CUE_TIME)
                        .map(|e| uint(buf, e))
                        .transpose()?;
                    let positions = fields.iter().find(|e| e.id == ids::CUE_TRACK_POSITIONS);
                    let cluster = match positions {
                        Some(p) => children(buf, p.body.clone())?
                            .iter()
                            .find(|e| e.id == ids::CUE_CLUSTER_POSITION)
                            .map(|e| uint(buf, e))
                            .transpose()?,
                        None => None,
                    };
                    match (time, cluster) {
                        (Some(t), Some(c)) => parsed.cues.push((t, c)),
                        _ => return bad(point.start, "CuePoint without time or cluster position"),
                    }
                }
            }
            ids::SEEK_HEAD => {}
            other => {
                return bad(
                    element.start,
                    format!("unexpected element {other:#X} in the Segment"),
                )
            }
        }
    }
    if !saw_tracks {
        return bad(segment.start, "no Tracks element");
    }
    let discards = parsed
        .blocks
        .iter()
        .filter(|b| b.discard_padding_ns.is_some())
        .count();
    if discards > 1
        || parsed
            .blocks
            .iter()
            .rev()
            .skip(1)
            .any(|b| b.discard_padding_ns.is_some())
    {
        return bad(
            segment.start,
            "DiscardPadding on a block other than the last one",
        );
    }
    Ok(parsed)
}

/// The packets of a media segment (Clusters and nothing else), in order.
pub fn parse_clusters(buf: &[u8]) -> Result<Vec<Block>, WebmError> {
    let mut parsed = Parsed::default();
    for element in children(buf, 0..buf.len())? {
        if element.id != ids::CLUSTER || element.unknown_size {
            return bad(
                element.start,
                "a media segment holds Clusters of known size only",
            );
        }
        read_cluster(buf, &element, &mut parsed)?;
    }
    Ok(parsed.blocks)
}

fn read_track(buf: &[u8], entry: &Element, parsed: &mut Parsed) -> Result<(), WebmError> {
    let mut codec_ok = false;
    let mut head_channels = None;
    for e in children(buf, entry.body.clone())? {
        match e.id {
            ids::TRACK_NUMBER if uint(buf, &e)? != 1 => {
                return bad(e.start, "track number is not 1")
            }
            ids::TRACK_TYPE if uint(buf, &e)? != 2 => return bad(e.start, "track is not audio"),
            ids::CODEC_ID => codec_ok = &buf[e.body.clone()] == b"A_OPUS",
            ids::CODEC_PRIVATE => {
                let head = &buf[e.body.clone()];
                if head.len() != 19 || &head[..8] != b"OpusHead" || head[18] != 0 {
                    return bad(e.start, "CodecPrivate is not a mapping-family-0 OpusHead");
                }
                head_channels = Some(head[9]);
                parsed.pre_skip = u16::from_le_bytes([head[10], head[11]]);
            }
            ids::CODEC_DELAY => parsed.codec_delay_ns = uint(buf, &e)?,
            ids::SEEK_PRE_ROLL => parsed.seek_pre_roll_ns = uint(buf, &e)?,
            ids::AUDIO => {
                for a in children(buf, e.body.clone())? {
                    match a.id {
                        ids::CHANNELS => parsed.channels = uint(buf, &a)? as u8,
                        ids::SAMPLING_FREQUENCY if float(buf, &a)? != 48_000.0 => {
                            return bad(a.start, "sampling frequency is not 48 kHz")
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !codec_ok {
        return bad(entry.start, "codec is not A_OPUS");
    }
    if head_channels != Some(parsed.channels) || !(1..=2).contains(&parsed.channels) {
        return bad(
            entry.start,
            "OpusHead and Audio disagree on the channel count (or it is not 1 or 2)",
        );
    }
    Ok(())
}

fn read_block(buf: &[u8], e: &Element, cluster_ms: i64, simple: bool) -> Result<Block, WebmError> {
    let body = &buf[e.body.clone()];
    if body.len() < 4 || body[0] != 0x81 {
        return bad(e.start, "block is not for track 1");
    }
    let flags = body[3];
    if flags & 0x06 != 0 {
        return bad(e.start, "laced block");
    }
    Ok(Block {
        timestamp_ms: cluster_ms + i64::from(i16::from_be_bytes([body[1], body[2]])),
        keyframe: simple && flags & 0x80 != 0,
        data: body[4..].to_vec(),
        discard_padding_ns: None,
        duration_ms: None,
    })
}

fn read_cluster(buf: &[u8], cluster: &Element, parsed: &mut Parsed) -> Result<(), WebmError> {
    let elements = children(buf, cluster.body.clone())?;
    let Some(first) = elements.first().filter(|e| e.id == ids::TIMESTAMP) else {
        return bad(cluster.start, "Cluster does not start with its Timestamp");
    };
    let cluster_ms = uint(buf, first)? as i64;
    parsed.cluster_timestamps_ms.push(cluster_ms);
    for e in &elements[1..] {
        match e.id {
            ids::SIMPLE_BLOCK => parsed.blocks.push(read_block(buf, e, cluster_ms, true)?),
            ids::BLOCK_GROUP => {
                let parts = children(buf, e.body.clone())?;
                let block = parts.iter().find(|p| p.id == ids::BLOCK);
                let Some(block) = block else {
                    return bad(e.start, "BlockGroup without a Block");
                };
                let mut b = read_block(buf, block, cluster_ms, false)?;
                if let Some(d) = parts.iter().find(|p| p.id == ids::DISCARD_PADDING) {
                    b.discard_padding_ns = Some(sint(buf, d)?);
                }
                if let Some(d) = parts.iter().find(|p| p.id == ids::BLOCK_DURATION) {
                    b.duration_ms = Some(uint(buf, d)?);
                }
                parsed.blocks.push(b);
            }
            other => {
                return bad(
                    e.start,
                    format!("unexpected element {other:#X} in a Cluster"),
                )
            }
        }
    }
    Ok(())
}

/// The packets of a media segment this crate wrote (Clusters only, as [`auralis_core::format::webm::media_segment`]
/// makes them), with its first frame and the last packet's padding: the chunk it was muxed
/// from. Packets off the 20 ms grid, DiscardPadding before the last packet or of a whole packet
/// are errors.
pub fn media_segment_packets(
    segment: &[u8],
) -> Result<auralis_core::opus::EncodedChunk, WebmError> {
    use auralis_core::units::PACKET_FRAMES;
    let blocks = parse_clusters(segment)?;
    let Some(first) = blocks.first() else {
        return bad(0, "a media segment without packets");
    };
    let Ok(first_ms) = u64::try_from(first.timestamp_ms) else {
        return bad(0, "a negative timestamp");
    };
    let first_frame = first_ms * 48;
    let mut padding_frames = 0;
    for (j, b) in blocks.iter().enumerate() {
        if b.timestamp_ms * 48 != (first_frame + (j * PACKET_FRAMES) as u64) as i64 {
            return bad(0, format!("packet {j} is off the 20 ms grid"));
        }
        if let Some(ns) = b.discard_padding_ns {
            if j + 1 != blocks.len() || ns < 0 {
                return bad(0, "DiscardPadding before the last packet");
            }
            padding_frames = ns_to_frames(ns as u64);
        }
    }
    if padding_frames >= PACKET_FRAMES as u64 {
        return bad(0, "padding of a whole packet or more");
    }
    let count = blocks.len() as u64;
    Ok(auralis_core::opus::EncodedChunk {
        frames: count * PACKET_FRAMES as u64 - padding_frames,
        start_frame: first_frame,
        padding_frames,
        packets: blocks.into_iter().map(|b| b.data).collect(),
    })
}
