//! The edit list of the first sound track of an ISO-BMFF (MP4/M4A) file.
//!
//! Encoders put AAC's priming (usually 1024 frames) and end padding in the file and describe the
//! playable part with an edit list (`moov/trak/edts/elst`). symphonia 0.6 parses that box but
//! does not apply it, so a plain decode is 1024 frames late and a little long. This module reads
//! just enough of the box tree to get the edit (media start and playable length); the decoder
//! applies it. Written here because no maintained crate reads edit lists without also taking
//! over demuxing.

use std::io::{Read, Seek, SeekFrom};

use crate::format::bmff::{boxes, child};

/// The playable part of the sound track, in the track's sample-rate units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mp4Edit {
    /// Frames to skip at the start of the decoded stream (encoder priming).
    pub(crate) delay: u64,
    /// Playable frames after the skip, when the edit gives a duration.
    pub(crate) frames: Option<u64>,
}

/// Largest `moov` box read into memory; larger ones are ignored (no edit applied).
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// Finds the edit of the first sound track, if the file has one. `sample_rate` converts the
/// movie and media timescales to frames. Never fails: a missing or malformed box means "no edit".
pub(crate) fn read_edit<R: Read + Seek>(mut reader: R, sample_rate: u32) -> Option<Mp4Edit> {
    let moov = find_top_level_moov(&mut reader)?;
    parse_moov(&moov, sample_rate)
}

fn find_top_level_moov<R: Read + Seek>(reader: &mut R) -> Option<Vec<u8>> {
    let end = reader.seek(SeekFrom::End(0)).ok()?;
    let mut pos = 0u64;
    reader.seek(SeekFrom::Start(0)).ok()?;
    while pos + 8 <= end {
        reader.seek(SeekFrom::Start(pos)).ok()?;
        let mut header = [0u8; 16];
        reader.read_exact(&mut header[..8]).ok()?;
        let mut size = u64::from(u32::from_be_bytes(header[0..4].try_into().ok()?));
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        let mut header_len = 8;
        if size == 1 {
            reader.read_exact(&mut header[8..16]).ok()?;
            size = u64::from_be_bytes(header[8..16].try_into().ok()?);
            header_len = 16;
        } else if size == 0 {
            size = end - pos;
        }
        if size < header_len || pos.checked_add(size)? > end {
            return None;
        }
        if &kind == b"moov" {
            let body = size - header_len;
            if body > MAX_MOOV_BYTES {
                return None;
            }
            let mut buf = vec![0u8; body as usize];
            reader.read_exact(&mut buf).ok()?;
            return Some(buf);
        }
        pos += size;
    }
    None
}

fn be_u32(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes(
        data.get(at..at + 4)?.try_into().ok()?,
    )))
}

fn be_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// Timescale of a `mvhd` or `mdhd` body (both put it at the same place per version).
fn header_timescale(body: &[u8]) -> Option<u64> {
    match body.first()? {
        0 => be_u32(body, 12),
        1 => be_u32(body, 20),
        _ => None,
    }
}

fn parse_moov(moov: &[u8], sample_rate: u32) -> Option<Mp4Edit> {
    let movie_timescale = header_timescale(child(moov, b"mvhd")?)?;
    let trak = boxes(moov)
        .filter(|(k, _)| *k == b"trak")
        .map(|(_, b)| b)
        .find(|trak| {
            child(trak, b"mdia")
                .and_then(|mdia| child(mdia, b"hdlr"))
                .and_then(|hdlr| hdlr.get(8..12))
                == Some(b"soun".as_slice())
        })?;
    let media_timescale = header_timescale(child(child(trak, b"mdia")?, b"mdhd")?)?;
    let elst = child(child(trak, b"edts")?, b"elst")?;
    if movie_timescale == 0 || media_timescale == 0 {
        return None;
    }
    let version = *elst.first()?;
    let count = be_u32(elst, 4)?;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut delay: Option<u64> = None;
    let mut duration_movie: u64 = 0;
    for i in 0..count.min(1024) as usize {
        let at = 8 + i * entry_len;
        let (segment_duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                be_u32(elst, at)?,
                i64::from(be_u32(elst, at + 4)? as u32 as i32),
            )
        };
        // media_time -1 is an empty edit (a pause before the track starts); streaming players
        // ignore it, and so do we.
        if media_time < 0 {
            continue;
        }
        if delay.is_none() {
            delay = Some(media_time as u64);
        }
        duration_movie = duration_movie.saturating_add(segment_duration);
    }
    let delay_media = delay?;
    let rate = u64::from(sample_rate);
    let to_frames = |value: u64, timescale: u64| -> u64 {
        // Rounded, never truncated: (value * rate + timescale/2) / timescale, in u128.
        ((u128::from(value) * u128::from(rate) + u128::from(timescale / 2)) / u128::from(timescale))
            as u64
    };
    Some(Mp4Edit {
        delay: to_frames(delay_media, media_timescale),
        frames: (duration_movie > 0).then(|| to_frames(duration_movie, movie_timescale)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn header_v0(timescale: u32) -> Vec<u8> {
        let mut body = vec![0u8; 12];
        body.extend_from_slice(&timescale.to_be_bytes());
        body.extend_from_slice(&[0u8; 8]);
        body
    }

    fn movie(elst_entries: &[(u32, i32)], handler: &[u8; 4]) -> Vec<u8> {
        let mut elst = vec![0u8, 0, 0, 0];
        elst.extend_from_slice(&(elst_entries.len() as u32).to_be_bytes());
        for (duration, media_time) in elst_entries {
            elst.extend_from_slice(&duration.to_be_bytes());
            elst.extend_from_slice(&media_time.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        let mdia = [mk_box(b"mdhd", &header_v0(44100)), mk_box(b"hdlr", &hdlr)].concat();
        let trak = [
            mk_box(b"edts", &mk_box(b"elst", &elst)),
            mk_box(b"mdia", &mdia),
        ]
        .concat();
        let moov = [mk_box(b"mvhd", &header_v0(1000)), mk_box(b"trak", &trak)].concat();
        [
            mk_box(b"ftyp", b"M4A \0\0\0\0"),
            mk_box(b"mdat", &[0u8; 100]),
            mk_box(b"moov", &moov),
        ]
        .concat()
    }

    #[test]
    fn edit_list_gives_priming_and_length_in_frames() {
        let file = movie(&[(40_000, 1024)], b"soun");
        let edit = read_edit(std::io::Cursor::new(file), 44100).unwrap();
        assert_eq!(
            edit,
            Mp4Edit {
                delay: 1024,
                frames: Some(1_764_000)
            }
        );
    }

    #[test]
    fn empty_edits_are_skipped() {
        let file = movie(&[(500, -1), (40_000, 2112)], b"soun");
        let edit = read_edit(std::io::Cursor::new(file), 44100).unwrap();
        assert_eq!(
            edit,
            Mp4Edit {
                delay: 2112,
                frames: Some(1_764_000)
            }
        );
    }

    #[test]
    fn non_sound_tracks_and_garbage_give_no_edit() {
        assert_eq!(
            read_edit(std::io::Cursor::new(movie(&[(1, 1)], b"vide")), 44100),
            None
        );
        assert_eq!(
            read_edit(std::io::Cursor::new(vec![0xffu8; 64]), 44100),
            None
        );
        assert_eq!(read_edit(std::io::Cursor::new(Vec::new()), 44100), None);
    }
}
