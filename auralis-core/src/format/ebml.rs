//! EBML, the binary layout under Matroska and WebM: element IDs, variable-size integers and
//! element headers, written and read. One place for them: the WebM writer
//! ([`super::webm`]), its strict reader and the decoder's Matroska trimming
//! (`decode::matroska`) all build on these.
//!
//! An element is an ID (1 to 4 bytes, its length marker kept as part of the value), a size (a
//! variable-size integer of 1 to 8 bytes whose marker bit is removed; all value bits set means
//! "unknown size", running to the end of the parent) and the body.

use std::io::Read;

/// Element IDs used here (Matroska/WebM).
pub mod ids {
    #![allow(missing_docs)]
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;
    pub const DISCARD_PADDING: u32 = 0x75A2;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// The size field of an element whose size is unknown (it runs to the end of its parent).
pub(crate) const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

pub(crate) fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().position(|&b| b != 0).unwrap_or(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// The length in bytes of `size` written by [`put_size`].
pub(crate) fn size_len(size: u64) -> usize {
    (1..=8)
        .find(|&l| size < (1u64 << (7 * l)) - 1)
        .expect("sizes are below 2^56")
}

/// A size as the shortest EBML variable-length integer (all-ones values are reserved).
pub(crate) fn put_size(out: &mut Vec<u8>, size: u64) {
    let len = size_len(size);
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

pub(crate) fn element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(out, id);
    put_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

pub(crate) fn uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    element(out, id, &bytes[skip..]);
}

/// A signed integer element: the shortest two's-complement form whose top bit is the sign.
pub(crate) fn sint(out: &mut Vec<u8>, id: u32, value: i64) {
    let bytes = value.to_be_bytes();
    let mut skip = 0;
    while skip < 7 {
        let (this, next) = (bytes[skip], bytes[skip + 1]);
        let redundant = (this == 0x00 && next & 0x80 == 0) || (this == 0xFF && next & 0x80 != 0);
        if !redundant {
            break;
        }
        skip += 1;
    }
    element(out, id, &bytes[skip..]);
}

pub(crate) fn float(out: &mut Vec<u8>, id: u32, value: f64) {
    element(out, id, &value.to_be_bytes());
}

pub(crate) fn master(out: &mut Vec<u8>, id: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    build(&mut body);
    element(out, id, &body);
}

/// Why an ID or size could not be read from a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VintError {
    /// The bytes end inside it.
    Truncated,
    /// Its length marker says more bytes than allowed (4 for IDs, 8 for sizes).
    TooLong,
}

/// The ID at `buf[pos..]` (marker kept) and its length.
pub fn id_at(buf: &[u8], pos: usize) -> Result<(u32, usize), VintError> {
    let first = *buf.get(pos).ok_or(VintError::Truncated)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return Err(VintError::TooLong);
    }
    let bytes = buf.get(pos..pos + len).ok_or(VintError::Truncated)?;
    Ok((
        bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
        len,
    ))
}

/// The size at `buf[pos..]` (`None`: unknown) and its length.
pub fn size_at(buf: &[u8], pos: usize) -> Result<(Option<u64>, usize), VintError> {
    let first = *buf.get(pos).ok_or(VintError::Truncated)?;
    if first == 0 {
        return Err(VintError::TooLong);
    }
    let len = first.leading_zeros() as usize + 1;
    let bytes = buf.get(pos..pos + len).ok_or(VintError::Truncated)?;
    Ok(unmark(bytes))
}

/// A size's value from its bytes (`None`: the reserved all-ones "unknown size").
fn unmark(bytes: &[u8]) -> (Option<u64>, usize) {
    let len = bytes.len();
    // The length marker is bit `8 - len`; for an 8-byte size the first byte holds no value bits.
    let mut value = u64::from(bytes[0]) & (0xFF_u64 >> len);
    for &b in &bytes[1..] {
        value = (value << 8) | u64::from(b);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    ((value != all_ones).then_some(value), len)
}

/// The whole length (ID, size and body) of the element at the start of `buf`, if it has a
/// known size that fits in `buf`.
pub fn element_len(buf: &[u8]) -> Option<usize> {
    let (_, id_len) = id_at(buf, 0).ok()?;
    let (size, size_len) = size_at(buf, id_len).ok()?;
    let total = (id_len + size_len).checked_add(usize::try_from(size?).ok()?)?;
    (total <= buf.len()).then_some(total)
}

/// An element header read from a stream: its ID and size (`None`: unknown), or `None` at the
/// end of the stream or on a malformed header.
pub(crate) fn read_header(r: &mut impl Read) -> Option<(u32, Option<u64>)> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b).ok()?;
    let len = b[0].leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let mut id = u32::from(b[0]);
    for _ in 1..len {
        r.read_exact(&mut b).ok()?;
        id = id << 8 | u32::from(b[0]);
    }
    let mut size = [0u8; 8];
    let size_len = read_vint_bytes(r, &mut size)?;
    Some((id, unmark(&size[..size_len]).0))
}

/// A variable-size integer read from a stream (marker removed; the all-ones value is returned
/// as it is) and its length in bytes.
pub(crate) fn read_vint(r: &mut impl Read) -> Option<(u64, u64)> {
    let mut bytes = [0u8; 8];
    let len = read_vint_bytes(r, &mut bytes)?;
    let mut value = u64::from(bytes[0]) & (0xFF >> len);
    for &b in &bytes[1..len] {
        value = value << 8 | u64::from(b);
    }
    Some((value, len as u64))
}

/// Reads a variable-size integer's bytes into `out`; its length.
fn read_vint_bytes(r: &mut impl Read, out: &mut [u8; 8]) -> Option<usize> {
    r.read_exact(&mut out[..1]).ok()?;
    let len = out[0].leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    r.read_exact(&mut out[1..len]).ok()?;
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_back_as_written_in_both_readers_and_all_ones_is_unknown() {
        for size in [0u64, 1, 126, 127, 16_382, 16_383, 1 << 30, (1 << 56) - 2] {
            let mut out = Vec::new();
            put_id(&mut out, ids::CLUSTER);
            put_size(&mut out, size);
            let (id, id_len) = id_at(&out, 0).unwrap();
            assert_eq!((id, id_len), (ids::CLUSTER, 4));
            let (read, len) = size_at(&out, id_len).unwrap();
            assert_eq!((read, len), (Some(size), out.len() - 4), "{size}");
            assert_eq!(
                read_header(&mut std::io::Cursor::new(&out)),
                Some((ids::CLUSTER, Some(size)))
            );
        }
        let mut unknown = vec![0x1F, 0x43, 0xB6, 0x75];
        unknown.extend(UNKNOWN_SIZE);
        assert_eq!(size_at(&unknown, 4), Ok((None, 8)));
        assert_eq!(
            read_header(&mut std::io::Cursor::new(&unknown)),
            Some((ids::CLUSTER, None))
        );
        assert_eq!(size_at(&[0x00], 0), Err(VintError::TooLong));
        assert_eq!(id_at(&[0x08], 0), Err(VintError::TooLong));
        assert_eq!(size_at(&[0x40], 0), Err(VintError::Truncated));
        assert_eq!(element_len(&[0xA3, 0x83, 1, 2, 3, 4]), Some(5));
        assert_eq!(element_len(&[0xA3, 0x83, 1, 2]), None);
    }
}
