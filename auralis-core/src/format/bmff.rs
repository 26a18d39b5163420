//! ISO BMFF (the MP4 family) boxes: written and walked. One place for them: the fragmented MP4
//! writer ([`super::mp4`]), its strict reader and the decoder's edit-list reading
//! (`decode::mp4`) build on these.
//!
//! A box is a 32-bit big-endian size (of the whole box; 1: a 64-bit size follows the type; 0:
//! to the end of the file), a four-byte type and the body.

/// Writes a box: size, type, then what `body` writes.
pub(crate) fn bx(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - at).expect("boxes here are below 4 GiB");
    out[at..at + 4].copy_from_slice(&size.to_be_bytes());
}

/// Writes a full box (version and flags after the type).
pub(crate) fn full(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    bx(out, kind, |o| {
        o.push(version);
        o.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(o);
    });
}

pub(crate) fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn u64be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A box header at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    /// The four-byte type.
    pub kind: [u8; 4],
    /// Bytes of the header: 8, or 16 with a 64-bit size.
    pub header_len: usize,
    /// The whole box's size, header included; `None` for size 0 (to the end).
    pub size: Option<u64>,
}

/// The header of the box at the start of `buf`: `None` when `buf` ends inside it or it
/// declares a size smaller than itself.
pub fn header(buf: &[u8]) -> Option<BoxHeader> {
    let size32 = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?);
    let kind: [u8; 4] = buf.get(4..8)?.try_into().ok()?;
    let (size, header_len) = match size32 {
        0 => (None, 8),
        1 => (
            Some(u64::from_be_bytes(buf.get(8..16)?.try_into().ok()?)),
            16,
        ),
        n => (Some(u64::from(n)), 8),
    };
    if size.is_some_and(|s| s < header_len as u64) {
        return None;
    }
    Some(BoxHeader {
        kind,
        header_len,
        size,
    })
}

/// The whole length of the box at the start of `buf` (size 0: the rest of `buf`), from its
/// header alone.
pub fn box_len(buf: &[u8]) -> Option<usize> {
    let h = header(buf)?;
    match h.size {
        None => Some(buf.len()),
        Some(size) => usize::try_from(size).ok(),
    }
}

/// The boxes of `data` in order, as (type, body); stops at the first box that does not fit.
pub fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let h = header(rest)?;
        let size = match h.size {
            None => rest.len(),
            Some(size) => usize::try_from(size).ok()?,
        };
        if size > rest.len() {
            return None;
        }
        let (kind, body) = (&rest[4..8], &rest[h.header_len..size]);
        rest = &rest[size..];
        Some((kind, body))
    })
}

/// The body of the first box of type `kind` in `data`.
pub fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| *k == kind).map(|(_, body)| body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_written_are_walked_back_with_their_bodies_and_bad_sizes_stop_the_walk() {
        let mut data = Vec::new();
        bx(&mut data, b"moof", |o| u32be(o, 7));
        full(&mut data, b"tfdt", 1, 0, |o| u64be(o, 9));
        let walked: Vec<_> = boxes(&data).collect();
        assert_eq!(walked.len(), 2);
        assert_eq!(
            (walked[0].0, walked[0].1),
            (&b"moof"[..], &7u32.to_be_bytes()[..])
        );
        assert_eq!(walked[1].1[..4], [1, 0, 0, 0]);
        assert_eq!(child(&data, b"tfdt").map(<[u8]>::len), Some(12));
        assert_eq!(box_len(&data), Some(12));
        // A 64-bit size, a size to the end, a size below the header, a cut header.
        let mut large = vec![0, 0, 0, 1];
        large.extend(b"mdat");
        large.extend(20u64.to_be_bytes());
        large.extend([0xAB; 4]);
        assert_eq!(
            header(&large).map(|h| (h.header_len, h.size)),
            Some((16, Some(20)))
        );
        assert_eq!(boxes(&large).next().map(|(_, b)| b.len()), Some(4));
        assert_eq!(
            box_len(&[0, 0, 0, 0, b'm', b'd', b'a', b't', 1, 2]),
            Some(10)
        );
        assert_eq!(header(&[0, 0, 0, 7, b'f', b'r', b'e', b'e']), None);
        assert_eq!(header(&[0, 0, 0, 8, b'f']), None);
        let mut cut = data.clone();
        cut.truncate(data.len() - 1);
        assert_eq!(boxes(&cut).count(), 1);
    }
}
