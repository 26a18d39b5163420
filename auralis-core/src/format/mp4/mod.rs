//! Fragmented MP4 (ISO BMFF, CMAF-style) for Opus in the browser's Media Source Extensions, for
//! Safari and iOS, which take Opus in MP4 and not in WebM before Safari 17.4; and a plain MP4
//! for whole-track downloads.
//!
//! Written here for the same reason as [`crate::format::webm`]: what MSE needs is a small, exact subset
//! (timestamps on the 48 kHz grid, an init segment shared by every chunk, fragments that can be
//! appended in any order), and the muxer crates write whole files with their own timing. The
//! layout follows "Encapsulation of Opus in ISO Base Media File Format" (opus-codec.org):
//!
//! * [`init_segment`]: `ftyp` (`iso6`, compatible `iso6`, `mp41`, `Opus`) and `moov`: `mvhd`
//!   (timescale 48 000), one audio `trak` whose `edts`/`elst` presents exactly the track's
//!   frames from media time 0 (so a player that honours edit lists stops at the track's end),
//!   `mdhd` timescale 48 000, an `Opus` sample entry with a `dOps` box (version 0, big-endian,
//!   PreSkip 0 like the WebM init segment: chunks carry no priming, their pre-roll is encoded
//!   and dropped before the chunk), empty sample tables, an `sgpd` of type `roll` with
//!   roll distance [`ROLL_DISTANCE`] (-4 packets: the decoder's 80 ms pre-roll); and `mvex`
//!   (`mehd` with the track's frames, `trex` with every sample a sync sample). It depends only
//!   on the channel count and the track's length, never on the bitrate or the mastering, so a
//!   player may switch either at a chunk boundary without a new init segment.
//! * [`fragment`]: `moof` (`mfhd` with a sequence number that grows along the track, `traf`
//!   with `tfhd` (default-base-is-moof), `tfdt` = the exact 48 kHz frame of the first packet,
//!   `trun` with each packet's size and duration, `sbgp` putting every sample in the `roll`
//!   group) and `mdat`. One fragment per second of audio, like WebM's clusters, so a server can
//!   send the first one as soon as it is encoded. Durations are 960 frames, except the track's
//!   last packet, whose duration stops at the track's end: the durations of a chunk sum to its
//!   frames.
//! * [`write_whole_track_file`]: one continuous encode in a plain (unfragmented) MP4 with `moov`
//!   before `mdat`, PreSkip and an edit list (`media_time` = the encoder's 312-frame look-ahead,
//!   `segment_duration` = the track's frames) that trim it to the exact length.
//!
//! The same Opus packets go into WebM or MP4: a chunk is encoded once and muxed into either.

use super::bmff::{bx, full, u16be, u32be, u64be};
use crate::opus::EncodedChunk;
use crate::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES};

/// The MIME type of this container as Chromium, Firefox and WebKitGTK accept it.
pub const MIME: &str = "audio/mp4; codecs=\"opus\"";
/// The same type as Safari accepts it (capital O: Safari answers false for `opus`).
pub const MIME_SAFARI: &str = "audio/mp4; codecs=\"Opus\"";
/// Packets per fragment: 1 s, as WebM's clusters.
pub const FRAGMENT_PACKETS: usize = super::webm::CLUSTER_PACKETS;
/// Roll distance of every sample, in packets: a decoder needs the 4 packets (80 ms) before a
/// packet to decode it exactly.
pub const ROLL_DISTANCE: i16 = -4;
const TIMESCALE: u32 = 48_000;
const TRACK_ID: u32 = 1;

/// The unity transformation matrix of `mvhd` and `tkhd`.
fn matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        u32be(out, v);
    }
}

fn ftyp(out: &mut Vec<u8>, major: &[u8; 4], compatible: &[&[u8; 4]]) {
    bx(out, b"ftyp", |o| {
        o.extend_from_slice(major);
        u32be(o, 0);
        for b in compatible {
            o.extend_from_slice(*b);
        }
    });
}

fn mvhd(out: &mut Vec<u8>, duration: u64) {
    full(out, b"mvhd", 1, 0, |o| {
        u64be(o, 0); // creation time: fixed, so the bytes are deterministic
        u64be(o, 0); // modification time
        u32be(o, TIMESCALE);
        u64be(o, duration);
        u32be(o, 0x0001_0000); // rate 1.0
        u16be(o, 0x0100); // volume 1.0
        o.extend_from_slice(&[0; 10]);
        matrix(o);
        o.extend_from_slice(&[0; 24]);
        u32be(o, TRACK_ID + 1);
    });
}

fn tkhd(out: &mut Vec<u8>, duration: u64) {
    // Flags: enabled, in movie.
    full(out, b"tkhd", 1, 0x3, |o| {
        u64be(o, 0);
        u64be(o, 0);
        u32be(o, TRACK_ID);
        u32be(o, 0);
        u64be(o, duration);
        o.extend_from_slice(&[0; 8]);
        u16be(o, 0); // layer
        u16be(o, 1); // alternate group
        u16be(o, 0x0100); // volume 1.0
        u16be(o, 0);
        matrix(o);
        u32be(o, 0); // width
        u32be(o, 0); // height
    });
}

/// An edit list of one edit: `duration` frames of the media from `media_time`.
fn edts(out: &mut Vec<u8>, duration: u64, media_time: u64) {
    bx(out, b"edts", |o| {
        full(o, b"elst", 1, 0, |o| {
            u32be(o, 1);
            u64be(o, duration);
            u64be(o, media_time);
            u16be(o, 1); // rate 1
            u16be(o, 0);
        });
    });
}

/// The `dOps` box (Opus Specific Box): version 0, channels, pre-skip, input rate 48 kHz, gain 0,
/// mapping family 0 (mono or stereo). Big-endian, unlike OpusHead, and without its magic.
fn dops(out: &mut Vec<u8>, channels: u8, pre_skip: u16) {
    bx(out, b"dOps", |o| {
        o.push(0);
        o.push(channels);
        u16be(o, pre_skip);
        u32be(o, 48_000);
        u16be(o, 0);
        o.push(0);
    });
}

fn sample_entry(out: &mut Vec<u8>, channels: u8, pre_skip: u16) {
    bx(out, b"Opus", |o| {
        o.extend_from_slice(&[0; 6]);
        u16be(o, 1); // data reference index
        o.extend_from_slice(&[0; 8]);
        u16be(o, u16::from(channels));
        u16be(o, 16); // sample size
        u16be(o, 0);
        u16be(o, 0);
        u32be(o, TIMESCALE << 16);
        dops(o, channels, pre_skip);
    });
}

/// The `roll` sample group description: one entry, [`ROLL_DISTANCE`].
fn sgpd_roll(out: &mut Vec<u8>) {
    full(out, b"sgpd", 1, 0, |o| {
        o.extend_from_slice(b"roll");
        u32be(o, 2); // default length
        u32be(o, 1);
        o.extend_from_slice(&ROLL_DISTANCE.to_be_bytes());
    });
}

/// Puts `samples` samples in the `roll` group's first description.
fn sbgp_roll(out: &mut Vec<u8>, samples: u32) {
    full(out, b"sbgp", 0, 0, |o| {
        o.extend_from_slice(b"roll");
        u32be(o, 1);
        u32be(o, samples);
        u32be(o, 1);
    });
}

/// Sample tables: `tables` writes `stts`, `stsc`, `stsz`, `stco` (empty for fragments).
fn trak(
    out: &mut Vec<u8>,
    channels: u8,
    pre_skip: u16,
    presented: u64,
    media_time: u64,
    media_duration: u64,
    tables: impl FnOnce(&mut Vec<u8>),
) {
    bx(out, b"trak", |o| {
        tkhd(o, if media_duration == 0 { 0 } else { presented });
        edts(o, presented, media_time);
        bx(o, b"mdia", |o| {
            full(o, b"mdhd", 1, 0, |o| {
                u64be(o, 0);
                u64be(o, 0);
                u32be(o, TIMESCALE);
                u64be(o, media_duration);
                u16be(o, 0x55C4); // language "und"
                u16be(o, 0);
            });
            full(o, b"hdlr", 0, 0, |o| {
                u32be(o, 0);
                o.extend_from_slice(b"soun");
                o.extend_from_slice(&[0; 12]);
                o.extend_from_slice(b"SoundHandler\0");
            });
            bx(o, b"minf", |o| {
                full(o, b"smhd", 0, 0, |o| u32be(o, 0));
                bx(o, b"dinf", |o| {
                    full(o, b"dref", 0, 0, |o| {
                        u32be(o, 1);
                        full(o, b"url ", 0, 1, |_| {}); // flag 1: the media is in this file
                    });
                });
                bx(o, b"stbl", |o| {
                    full(o, b"stsd", 0, 0, |o| {
                        u32be(o, 1);
                        sample_entry(o, channels, pre_skip);
                    });
                    tables(o);
                    sgpd_roll(o);
                });
            });
        });
    });
}

/// The init segment of a stream with `channels` (1 or 2) channels and `track_frames` frames at
/// 48 kHz: byte-identical for every chunk, bitrate and mastering of the track.
pub fn init_segment(channels: u8, track_frames: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(768);
    ftyp(&mut out, b"iso6", &[b"iso6", b"mp41", b"Opus"]);
    bx(&mut out, b"moov", |o| {
        mvhd(o, 0);
        trak(o, channels, 0, track_frames, 0, 0, |o| {
            full(o, b"stts", 0, 0, |o| u32be(o, 0));
            full(o, b"stsc", 0, 0, |o| u32be(o, 0));
            full(o, b"stsz", 0, 0, |o| {
                u32be(o, 0);
                u32be(o, 0);
            });
            full(o, b"stco", 0, 0, |o| u32be(o, 0));
        });
        bx(o, b"mvex", |o| {
            full(o, b"mehd", 1, 0, |o| u64be(o, track_frames));
            full(o, b"trex", 0, 0, |o| {
                u32be(o, TRACK_ID);
                u32be(o, 1); // sample description index
                u32be(o, PACKET_FRAMES as u32); // default duration
                u32be(o, 0); // default size
                u32be(o, 0); // default flags: sync samples
            });
        });
    });
    out
}

/// The `mfhd` sequence number of the fragment whose first packet starts at `first_frame`: the
/// packet's index on the track, plus one. Fragments of a track get growing numbers whichever
/// chunk, part or bitrate they come from.
pub fn sequence_number(first_frame: u64) -> u32 {
    u32::try_from(first_frame / PACKET_FRAMES as u64 + 1).unwrap_or(u32::MAX)
}

/// One fragment (`moof` + `mdat`) of `packets` (at least one), the first starting at
/// `first_frame` on the track; the last one `padding_frames` (0: none) shorter than 960 frames
/// (the track's end). A chunk's media segment is its fragments one after the other.
pub fn fragment<P: AsRef<[u8]>>(packets: &[P], first_frame: u64, padding_frames: u64) -> Vec<u8> {
    let payload: usize = packets.iter().map(|p| p.as_ref().len()).sum();
    let mut out = Vec::with_capacity(payload + 64 + 8 * packets.len());
    write_fragment(&mut out, packets, first_frame, padding_frames);
    out
}

/// [`fragment`] appended to `out`.
fn write_fragment<P: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    packets: &[P],
    first_frame: u64,
    padding_frames: u64,
) {
    let payload: usize = packets.iter().map(|p| p.as_ref().len()).sum();
    let base = out.len();
    let count = u32::try_from(packets.len()).expect("a fragment holds at most 50 packets");
    let mut data_offset_at = 0;
    bx(out, b"moof", |o| {
        full(o, b"mfhd", 0, 0, |o| u32be(o, sequence_number(first_frame)));
        bx(o, b"traf", |o| {
            // Flags: default-base-is-moof (offsets count from this moof).
            full(o, b"tfhd", 0, 0x02_0000, |o| u32be(o, TRACK_ID));
            full(o, b"tfdt", 1, 0, |o| u64be(o, first_frame));
            // Flags: data offset, sample durations, sample sizes.
            full(o, b"trun", 0, 0x000301, |o| {
                u32be(o, count);
                data_offset_at = o.len();
                u32be(o, 0);
                let last = packets.len() - 1;
                for (j, p) in packets.iter().enumerate() {
                    let duration = if j == last {
                        PACKET_FRAMES as u64 - padding_frames
                    } else {
                        PACKET_FRAMES as u64
                    };
                    u32be(o, duration as u32);
                    u32be(o, p.as_ref().len() as u32);
                }
            });
            sbgp_roll(o, count);
        });
    });
    let data_offset = (out.len() - base + 8) as u32;
    out[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    mdat_header(out, payload as u64);
    for p in packets {
        out.extend_from_slice(p.as_ref());
    }
}

fn mdat_header(out: &mut Vec<u8>, payload: u64) {
    match u32::try_from(payload + 8) {
        Ok(size) => {
            u32be(out, size);
            out.extend_from_slice(b"mdat");
        }
        Err(_) => {
            u32be(out, 1); // 64-bit size follows
            out.extend_from_slice(b"mdat");
            u64be(out, payload + 16);
        }
    }
}

/// The media segment of an encoded chunk: its fragments. `is_last`: the chunk ends the track
/// (its last packet's duration stops at the track's end).
pub fn media_segment(chunk: &EncodedChunk, is_last: bool) -> Vec<u8> {
    let padding = if is_last { chunk.padding_frames } else { 0 };
    fragments(&chunk.packets, chunk.start_frame, padding)
}

/// The fragments of `packets` from `first_frame`, the last packet `padding_frames` short.
pub(crate) fn fragments<P: AsRef<[u8]>>(
    packets: &[P],
    first_frame: u64,
    padding_frames: u64,
) -> Vec<u8> {
    let groups = packets.len().div_ceil(FRAGMENT_PACKETS);
    let payload: usize = packets.iter().map(|p| p.as_ref().len()).sum();
    let mut out = Vec::with_capacity(payload + groups * 64 + 8 * packets.len());
    for (g, group) in packets.chunks(FRAGMENT_PACKETS).enumerate() {
        let first = first_frame + (g * FRAGMENT_PACKETS * PACKET_FRAMES) as u64;
        let padding = if g + 1 == groups { padding_frames } else { 0 };
        write_fragment(&mut out, group, first, padding);
    }
    out
}

/// Splits a media segment (as [`media_segment`] writes it) into its fragments (`moof` + `mdat`
/// pairs).
pub fn split_fragments(segment: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < segment.len() {
        // A fragment is two boxes: moof then mdat.
        let mut end = at;
        for _ in 0..2 {
            match super::bmff::box_len(&segment[end..]) {
                Some(len) if len <= segment.len() - end => end += len,
                _ => {
                    // Not ours: hand the rest over whole rather than lose bytes.
                    end = segment.len();
                    break;
                }
            }
        }
        out.push(&segment[at..end]);
        at = end;
    }
    out
}

/// A complete MP4 of a whole track from a continuous encode ([`crate::opus::encode_track`],
/// [`crate::opus::TrackEncoder`]): `moov` first (playable while it downloads), PreSkip and an
/// edit list trimming the encoder's look-ahead and the last packet's padding, so it decodes to
/// exactly `frames` frames where players honour edit lists. Written to `out` as it is made,
/// the packets (`sizes` of them, in order) copied from `packets`: memory holds the sample
/// tables (4 bytes a packet), not the file.
pub fn write_whole_track_file(
    frames: u64,
    channels: u8,
    sizes: &[usize],
    packets: &mut dyn std::io::Read,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let n = sizes.len() as u32;
    let media_duration = u64::from(n) * PACKET_FRAMES as u64;
    let moov = |chunk_offset: u64| {
        let mut o = Vec::new();
        bx(&mut o, b"moov", |o| {
            mvhd(o, frames);
            trak(
                o,
                channels,
                LOOKAHEAD_FRAMES as u16,
                frames,
                LOOKAHEAD_FRAMES as u64,
                media_duration,
                |o| {
                    full(o, b"stts", 0, 0, |o| {
                        u32be(o, 1);
                        u32be(o, n);
                        u32be(o, PACKET_FRAMES as u32);
                    });
                    full(o, b"stsc", 0, 0, |o| {
                        u32be(o, 1);
                        u32be(o, 1); // first chunk
                        u32be(o, n); // samples per chunk: one chunk holds them all
                        u32be(o, 1);
                    });
                    full(o, b"stsz", 0, 0, |o| {
                        u32be(o, 0);
                        u32be(o, n);
                        for &size in sizes {
                            u32be(o, size as u32);
                        }
                    });
                    full(o, b"co64", 0, 0, |o| {
                        u32be(o, 1);
                        u64be(o, chunk_offset);
                    });
                    sbgp_roll(o, n);
                },
            );
        });
        o
    };
    let mut head = Vec::new();
    ftyp(&mut head, b"isom", &[b"isom", b"iso6", b"mp41", b"Opus"]);
    let payload: u64 = sizes.iter().map(|&p| p as u64).sum();
    let mdat_header_len = if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let offset = (head.len() + moov(0).len()) as u64 + mdat_header_len;
    head.extend(moov(offset));
    mdat_header(&mut head, payload);
    out.write_all(&head)?;
    let copied = std::io::copy(&mut std::io::Read::take(packets, payload), out)?;
    if copied < payload {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_segment_depends_on_channels_and_length_only() {
        assert_eq!(init_segment(2, 480_000), init_segment(2, 480_000));
        assert_ne!(init_segment(1, 480_000), init_segment(2, 480_000));
        assert_ne!(init_segment(2, 480_001), init_segment(2, 480_000));
        assert_eq!(&init_segment(2, 1)[4..8], b"ftyp");
    }

    #[test]
    fn dops_is_big_endian_without_magic() {
        let mut o = Vec::new();
        dops(&mut o, 2, 312);
        assert_eq!(
            o,
            [0, 0, 0, 19, b'd', b'O', b'p', b's', 0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn a_fragment_points_its_data_offset_at_the_payload() {
        let packets = vec![vec![1u8, 2, 3], vec![4u8, 5]];
        let f = fragment(&packets, 96_000, 100);
        let moof_len = u32::from_be_bytes(f[..4].try_into().unwrap()) as usize;
        assert_eq!(&f[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(&f[moof_len + 8..], [1, 2, 3, 4, 5]);
        assert_eq!(
            split_fragments(&[f.clone(), f.clone()].concat()),
            [&f[..], &f[..]]
        );
        assert_eq!(sequence_number(96_000), 101);
    }
}
