//! The two containers a chunk's Opus packets go into: WebM (Chromium, Firefox, Safari 17.4+)
//! and fragmented MP4 (Safari and iOS, and every other MSE browser). A chunk is encoded once:
//! the packets, their place on the track and the track's end padding are the same in both, so
//! either container is a re-wrapping of the other.
//!
//! The cache keeps every chunk in one form neutral to both (`packets`: the packets, their place
//! and the padding), and each container is muxed from it when the chunk is served, so a chunk
//! rendered for one container is served in the other without encoding again or parsing a
//! container back.

use std::str::FromStr;

use super::{mp4, webm};
use crate::error::Error;
use crate::opus::EncodedChunk;

/// A container for a stream's chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Container {
    /// WebM (Matroska): `audio/webm; codecs="opus"`. The default.
    #[default]
    Webm,
    /// Fragmented MP4 (ISO BMFF): `audio/mp4; codecs="opus"` (Safari: `codecs="Opus"`).
    Mp4,
}

impl Container {
    /// Both containers, WebM first.
    pub const ALL: [Container; 2] = [Container::Webm, Container::Mp4];

    /// `webm` or `mp4`: the name in settings, URLs and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Container::Webm => "webm",
            Container::Mp4 => "mp4",
        }
    }

    /// The MIME type for `MediaSource.isTypeSupported` and `addSourceBuffer` (for MP4 the
    /// lower-case codec name; Safari wants [`mp4::MIME_SAFARI`]).
    pub fn mime(self) -> &'static str {
        match self {
            Container::Webm => webm::MIME,
            Container::Mp4 => mp4::MIME,
        }
    }

    /// The file extension of chunk files and init segments (`webm`, `mp4`).
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The file extension of a whole-track file (`webm`, `m4a`).
    pub fn whole_file_extension(self) -> &'static str {
        match self {
            Container::Webm => "webm",
            Container::Mp4 => "m4a",
        }
    }

    /// The init segment of a track with `channels` channels and `frames` frames at 48 kHz (WebM's
    /// depends on the channel count only).
    pub fn init_segment(self, channels: u8, frames: u64) -> Vec<u8> {
        match self {
            Container::Webm => webm::init_segment(channels),
            Container::Mp4 => mp4::init_segment(channels, frames),
        }
    }

    /// One unit of progressive output (a WebM Cluster, an MP4 fragment) of at most 50 packets,
    /// the first starting at `first_frame`; the last one `padding_frames` past the track's end.
    pub fn group<P: AsRef<[u8]>>(
        self,
        packets: &[P],
        first_frame: u64,
        padding_frames: u64,
    ) -> Vec<u8> {
        match self {
            Container::Webm => webm::cluster(packets, first_frame, padding_frames),
            Container::Mp4 => mp4::fragment(packets, first_frame, padding_frames),
        }
    }

    /// The media segment of an encoded chunk (`is_last`: it ends the track).
    pub fn media_segment(self, chunk: &EncodedChunk, is_last: bool) -> Vec<u8> {
        match self {
            Container::Webm => webm::media_segment(chunk, is_last),
            Container::Mp4 => mp4::media_segment(chunk, is_last),
        }
    }

    /// The media segment of `packets`, the first starting at `first_frame`, the last one
    /// `padding_frames` short (0 but for the track's last chunk): what
    /// [`Container::media_segment`] writes, from borrowed packets.
    pub(crate) fn segment_of<P: AsRef<[u8]>>(
        self,
        packets: &[P],
        first_frame: u64,
        padding_frames: u64,
    ) -> Vec<u8> {
        match self {
            Container::Webm => webm::segment_of(packets, first_frame, padding_frames),
            Container::Mp4 => mp4::fragments(packets, first_frame, padding_frames),
        }
    }

    /// Splits a media segment into its units of progressive output.
    pub fn split(self, segment: &[u8]) -> Vec<&[u8]> {
        match self {
            Container::Webm => webm::split_clusters(segment),
            Container::Mp4 => mp4::split_fragments(segment),
        }
    }

    /// A whole-track file from [`crate::opus::encode_track`]'s continuous encode, in memory
    /// (see [`Container::write_whole_track_file`]).
    pub fn whole_track_file(self, track: &EncodedChunk, channels: u8) -> Vec<u8> {
        let sizes: Vec<usize> = track.packets.iter().map(Vec::len).collect();
        let payload = track.packets.concat();
        let mut out = Vec::with_capacity(payload.len() + payload.len() / 16 + 4096);
        self.write_whole_track_file(
            track.frames,
            track.padding_frames,
            channels,
            &sizes,
            &mut payload.as_slice(),
            &mut out,
        )
        .expect("reading and writing memory does not fail");
        out
    }

    /// A whole-track file written to `out` as it is made, from a continuous encode's packets
    /// (`sizes` of them, read in order from `packets`) of a track of `frames` frames whose last
    /// packet has `padding_frames` past its end.
    pub fn write_whole_track_file(
        self,
        frames: u64,
        padding_frames: u64,
        channels: u8,
        sizes: &[usize],
        packets: &mut dyn std::io::Read,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        match self {
            Container::Webm => {
                webm::write_whole_track_file(frames, padding_frames, channels, sizes, packets, out)
            }
            Container::Mp4 => mp4::write_whole_track_file(frames, channels, sizes, packets, out),
        }
    }
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Container {
    type Err = Error;

    /// `webm` or `mp4` (any case); anything else is [`Error::InvalidArgument`].
    fn from_str(s: &str) -> Result<Self, Error> {
        Container::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidArgument {
                name: "container",
                value: s.to_owned(),
                valid: "webm or mp4",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_anything_else_is_a_named_error() {
        for c in Container::ALL {
            assert_eq!(c.name().parse::<Container>().unwrap(), c);
            assert_eq!(
                c.to_string().to_uppercase().parse::<Container>().unwrap(),
                c
            );
        }
        let e = "ogg".parse::<Container>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("container"), "{e}");
    }
}
