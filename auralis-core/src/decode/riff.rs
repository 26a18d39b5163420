//! The frames a WAV file really holds: the bytes of its `data` chunk that are present in the
//! file, divided by the frame size.
//!
//! A truncated WAV (or one whose header claims more data than it has) makes symphonia's reader
//! return a last packet padded with zeros to its nominal length (its `read_boxed_slice` does not
//! shorten the buffer at the end of the file), which would add up to 1151 frames of silence
//! that are not in the file (measured: the whole last packet then differs from the file's
//! samples). Reading the RIFF chunk headers gives the exact count; written here
//! because it is 40 lines and no crate exposes it without decoding.

use std::io::{Read, Seek, SeekFrom};

/// Frames present in the file's data chunk, or `None` if it is not a readable RIFF/WAVE file.
pub(crate) fn wav_frames_present<R: Read + Seek>(mut reader: R) -> Option<u64> {
    let file_len = reader.seek(SeekFrom::End(0)).ok()?;
    reader.seek(SeekFrom::Start(0)).ok()?;
    let mut header = [0u8; 12];
    reader.read_exact(&mut header).ok()?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return None;
    }
    let mut pos = 12u64;
    let mut block_align: Option<u64> = None;
    while pos + 8 <= file_len {
        reader.seek(SeekFrom::Start(pos)).ok()?;
        let mut chunk = [0u8; 8];
        reader.read_exact(&mut chunk).ok()?;
        let size = u64::from(u32::from_le_bytes(chunk[4..8].try_into().ok()?));
        let body = pos + 8;
        match &chunk[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 14];
                reader.read_exact(&mut fmt).ok()?;
                block_align = Some(u64::from(u16::from_le_bytes([fmt[12], fmt[13]])));
            }
            b"data" => {
                let present = size.min(file_len - body);
                return block_align.filter(|&b| b > 0).map(|b| present / b);
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        pos = body.checked_add(size + (size & 1))?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(data_bytes: usize, claimed: u32) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        out.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x02\0\x44\xac\0\0\x10\xb1\x02\0\x04\0\x10\0");
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        out.extend_from_slice(b"data");
        out.extend_from_slice(&claimed.to_le_bytes());
        out.extend(std::iter::repeat_n(0u8, data_bytes));
        out
    }

    #[test]
    fn counts_only_the_bytes_present() {
        let cursor = |v: Vec<u8>| std::io::Cursor::new(v);
        assert_eq!(wav_frames_present(cursor(wav(4000, 4000))), Some(1000));
        assert_eq!(
            wav_frames_present(cursor(wav(4002, 4_000_000_000))),
            Some(1000)
        );
        assert_eq!(wav_frames_present(cursor(wav(4000, 400))), Some(100));
        assert_eq!(wav_frames_present(cursor(b"RIFX".to_vec())), None);
    }
}
