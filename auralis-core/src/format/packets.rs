//! A chunk's encoded form as the cache keeps it: its Opus packets, its place on the track, its
//! frames and whether it ends the track. Neutral to the container: a chunk is encoded once and
//! muxed into WebM or MP4 from this when it is served, so no container is parsed back on a
//! cache hit (a WebM entry re-read to serve MP4 was the old way).
//!
//! Written here, not with a serialization crate, because the layout is a header and two runs of
//! bytes, and reading it back must check every length against the chunk's own geometry (a
//! corrupt or foreign entry is [`Error::CorruptCache`], never a short or misplaced chunk):
//!
//! ```text
//! "AUOP" | version 1 | flags (bit 0: the track's last chunk) | 0u16
//! start_frame u64 | frames u64 | padding_frames u32 | packet count u32   (little-endian)
//! packet sizes, u16 each | the packets, back to back
//! ```

use super::Container;
use crate::error::Error;
use crate::opus::EncodedChunk;

const MAGIC: &[u8; 4] = b"AUOP";
const VERSION: u8 = 1;
const HEADER: usize = 4 + 1 + 1 + 2 + 8 + 8 + 4 + 4;
const LAST: u8 = 1;

/// `chunk` (`is_last`: it ends the track, so its last packet's padding is signalled) in the
/// cache's form.
pub(crate) fn encode(chunk: &EncodedChunk, is_last: bool) -> Vec<u8> {
    let payload: usize = chunk.packets.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(HEADER + 2 * chunk.packets.len() + payload);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(if is_last { LAST } else { 0 });
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&chunk.start_frame.to_le_bytes());
    out.extend_from_slice(&chunk.frames.to_le_bytes());
    let padding = u32::try_from(chunk.padding_frames).expect("padding is below one packet");
    out.extend_from_slice(&padding.to_le_bytes());
    let count = u32::try_from(chunk.packets.len()).expect("a chunk has few packets");
    out.extend_from_slice(&count.to_le_bytes());
    for p in &chunk.packets {
        let size = u16::try_from(p.len()).expect("an Opus packet is at most 1275 bytes");
        out.extend_from_slice(&size.to_le_bytes());
    }
    for p in &chunk.packets {
        out.extend_from_slice(p);
    }
    out
}

/// An entry read in place: its packets borrowed from the entry's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkView<'a> {
    pub(crate) packets: Vec<&'a [u8]>,
    pub(crate) start_frame: u64,
    pub(crate) frames: u64,
    pub(crate) padding_frames: u64,
    /// The chunk ends the track: its last packet's padding is signalled.
    pub(crate) is_last: bool,
}

impl ChunkView<'_> {
    /// The chunk's media segment in `container` (no packet copied but into the output).
    pub(crate) fn media_segment(&self, container: Container) -> Vec<u8> {
        let padding = if self.is_last { self.padding_frames } else { 0 };
        container.segment_of(&self.packets, self.start_frame, padding)
    }
}

/// An entry read back, owned (the tests' reader; serving borrows through [`view`]): the chunk
/// and whether it ends the track. Anything that is not an entry
/// this module wrote, or whose lengths disagree with its geometry, is [`Error::CorruptCache`].
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<(EncodedChunk, bool), Error> {
    let v = view(bytes)?;
    let chunk = EncodedChunk {
        packets: v.packets.iter().map(|p| p.to_vec()).collect(),
        start_frame: v.start_frame,
        frames: v.frames,
        padding_frames: v.padding_frames,
    };
    Ok((chunk, v.is_last))
}

/// An entry read in place, checked as [`decode`] checks it.
pub(crate) fn view(bytes: &[u8]) -> Result<ChunkView<'_>, Error> {
    let corrupt = |reason: &str| Error::CorruptCache {
        what: "a cached chunk",
        reason: reason.to_owned(),
    };
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return Err(corrupt("not an encoded chunk"));
    }
    if bytes[4] != VERSION || bytes[5] & !LAST != 0 {
        return Err(corrupt("an unknown version or flag"));
    }
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (start_frame, frames) = (u64_at(8), u64_at(16));
    let (padding_frames, count) = (u64::from(u32_at(24)), u32_at(28) as usize);
    if count != crate::units::packet_count(frames) || count == 0 {
        return Err(corrupt("a packet count that does not fit its frames"));
    }
    if padding_frames != crate::units::padding_frames(frames) {
        return Err(corrupt("padding that does not fit its frames"));
    }
    let sizes_end = HEADER + 2 * count;
    let Some(sizes) = bytes.get(HEADER..sizes_end) else {
        return Err(corrupt("cut in its packet sizes"));
    };
    let mut packets = Vec::with_capacity(count);
    let mut at = sizes_end;
    for size in sizes.chunks_exact(2) {
        let size = usize::from(u16::from_le_bytes([size[0], size[1]]));
        let Some(packet) = bytes.get(at..at + size).filter(|p| !p.is_empty()) else {
            return Err(corrupt("an empty or cut packet"));
        };
        packets.push(packet);
        at += size;
    }
    if at != bytes.len() {
        return Err(corrupt("bytes past its last packet"));
    }
    Ok(ChunkView {
        packets,
        start_frame,
        frames,
        padding_frames,
        is_last: bytes[5] & LAST != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{mp4, webm};

    fn chunk(count: usize, padding: u64) -> EncodedChunk {
        EncodedChunk {
            packets: (0..count).map(|i| vec![i as u8; 1 + i % 300]).collect(),
            start_frame: 960 * 1500,
            frames: (count * 960) as u64 - padding,
            padding_frames: padding,
        }
    }

    #[test]
    fn an_entry_reads_back_whole_and_muxes_to_the_containers_bytes() {
        for (c, is_last) in [(chunk(1500, 0), false), (chunk(237, 411), true)] {
            let bytes = encode(&c, is_last);
            let (back, last) = decode(&bytes).unwrap();
            assert_eq!((&back, last), (&c, is_last));
            for container in Container::ALL {
                assert_eq!(
                    view(&bytes).unwrap().media_segment(container),
                    container.media_segment(&c, is_last)
                );
            }
            assert_eq!(
                Container::Webm.media_segment(&back, last),
                webm::media_segment(&c, is_last)
            );
            assert_eq!(
                Container::Mp4.media_segment(&back, last),
                mp4::media_segment(&c, is_last)
            );
        }
    }

    #[test]
    fn anything_else_is_a_corrupt_cache_entry() {
        let good = encode(&chunk(60, 100), true);
        let mut bad_cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..HEADER - 1].to_vec(),
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), &[0]].concat(),
            webm::media_segment(&chunk(60, 100), true), // the old WebM form
        ];
        let mut flipped = good.clone();
        flipped[4] = 2; // version
        bad_cases.push(flipped);
        let mut count = good.clone();
        count[28] = 61; // 61 packets for 60 packets' frames
        bad_cases.push(count);
        let mut padding = good.clone();
        padding[24] = 99;
        bad_cases.push(padding);
        let mut empty_packet = good.clone();
        empty_packet[HEADER] = 0;
        empty_packet[HEADER + 1] = 0;
        bad_cases.push(empty_packet);
        for (i, bytes) in bad_cases.iter().enumerate() {
            let e = decode(bytes).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::CorruptCache, "case {i}: {e}");
        }
    }
}
