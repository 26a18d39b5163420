//! What symphonia's Matroska reader does not report: the `DiscardPadding` of a track's last
//! block, which says how many decoded samples at the end of an Opus track are padding (the
//! end trimming Ogg Opus gets from its last granule position).
//!
//! A flat walk over the file's EBML element headers (a few bytes each; block payloads are
//! skipped, not read): `Segment`, `Cluster` and `BlockGroup` are entered, everything else is
//! stepped over. Entering instead of skipping these three makes elements of unknown size (live
//! recordings) work too. Anything unreadable ends the walk with what was found, since the
//! padding is a refinement: without it the track keeps its last packet whole, as ffmpeg does
//! for Matroska files written without `DiscardPadding`.

use std::io::{Read, Seek};

use crate::format::ebml::ids::{
    BLOCK, BLOCK_GROUP, CLUSTER, DISCARD_PADDING, SEGMENT, SIMPLE_BLOCK,
};
use crate::format::ebml::{read_header as element_header, read_vint as vint};

/// Nanoseconds of `DiscardPadding` on the last block of track `track` (0 when it has none),
/// or `None` when the file holds no block of that track that could be read.
pub(crate) fn last_block_discard_padding_ns(mut r: impl Read + Seek, track: u64) -> Option<i64> {
    let mut last: Option<i64> = None;
    // The block group being read: its track (once its Block is seen) and its padding.
    let mut group: Option<(Option<u64>, i64)> = None;
    let commit = |group: &mut Option<(Option<u64>, i64)>, last: &mut Option<i64>| {
        if let Some((Some(t), padding)) = group.take() {
            if t == track {
                *last = Some(padding);
            }
        }
    };
    while let Some((id, size)) = element_header(&mut r) {
        match id {
            SEGMENT | CLUSTER => commit(&mut group, &mut last),
            BLOCK_GROUP => {
                commit(&mut group, &mut last);
                group = Some((None, 0));
            }
            SIMPLE_BLOCK | BLOCK => {
                let size = size?;
                let (block_track, used) = vint(&mut r)?;
                if id == SIMPLE_BLOCK {
                    commit(&mut group, &mut last);
                    if block_track == track {
                        last = Some(0);
                    }
                } else if let Some(g) = group.as_mut() {
                    g.0 = Some(block_track);
                }
                r.seek_relative(i64::try_from(size.checked_sub(used)?).ok()?)
                    .ok()?;
            }
            DISCARD_PADDING => {
                let size = size?;
                if size > 8 {
                    return last;
                }
                let mut b = [0u8; 8];
                r.read_exact(&mut b[..size as usize]).ok()?;
                // A signed big-endian integer of `size` bytes.
                let value = if size == 0 {
                    0
                } else {
                    i64::from_be_bytes(b) >> (64 - 8 * size)
                };
                if let Some(g) = group.as_mut() {
                    g.1 = value;
                }
            }
            _ => {
                let Some(size) = size else { break };
                if r.seek_relative(i64::try_from(size).ok()?).is_err() {
                    break;
                }
            }
        }
    }
    commit(&mut group, &mut last);
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn element(id: &[u8], data: &[u8]) -> Vec<u8> {
        let mut e = id.to_vec();
        e.push(0x80 | data.len() as u8);
        e.extend(data);
        e
    }

    #[test]
    fn finds_the_padding_of_the_tracks_last_block() {
        let simple = |track: u8| element(&[0xA3], &[0x80 | track, 0, 0, 0x80, 1, 2]);
        let group = |track: u8, padding: &[u8]| {
            let mut g = element(&[0xA1], &[0x80 | track, 0, 0, 0, 9]);
            g.extend(element(&[0x75, 0xA2], padding));
            element(&[0xA0], &g)
        };
        let mut cluster = element(&[0xE7], &[0]);
        cluster.extend(simple(1));
        cluster.extend(group(1, &[0x00, 0x7A, 0x12, 0x00])); // 8 000 000 ns
        cluster.extend(simple(2));
        let mut file = element(&[0x1A, 0x45, 0xDF, 0xA3], &[0x42, 0x86, 0x81, 1]);
        // Segment and Cluster of unknown size.
        file.extend([
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        file.extend([0x1F, 0x43, 0xB6, 0x75, 0xFF]);
        file.extend(&cluster[..]);
        assert_eq!(
            last_block_discard_padding_ns(Cursor::new(&file), 1),
            Some(8_000_000)
        );
        assert_eq!(
            last_block_discard_padding_ns(Cursor::new(&file), 2),
            Some(0)
        );
        assert_eq!(last_block_discard_padding_ns(Cursor::new(&file), 3), None);
        // A negative padding is read as signed; a cut file keeps what was found.
        let negative = group(1, &[0xFF]);
        assert_eq!(
            last_block_discard_padding_ns(Cursor::new(&negative), 1),
            Some(-1)
        );
        assert_eq!(
            last_block_discard_padding_ns(Cursor::new(&file[..file.len() - 3]), 1),
            Some(8_000_000)
        );
    }
}
