//! An Opus decoder for symphonia, on libopus (already linked for encoding, through the `opus`
//! crate).
//!
//! symphonia demuxes Opus (Ogg and Matroska/WebM) but has no Opus decoder, so `.opus` files
//! and Opus in WebM/Matroska were refused. [`OpusDecoder`] implements symphonia's
//! `AudioDecoder` and is registered in this module's codec registry ([`codecs`]) beside
//! symphonia's own decoders, so the reader, the timeline and everything after them are the
//! same for Opus as for every other codec.
//!
//! - The identification header (`OpusHead`, RFC 7845 §5.1) comes from the track's extra data
//!   (the Ogg identification packet, or Matroska's `CodecPrivate`); it is parsed here in full,
//!   because the channel mapping table (stream and coupled counts, channel order) is needed to
//!   decode more than two channels and symphonia's parser does not keep it.
//! - Mapping family 0 (mono, stereo) and 1 (1 to 8 channels in Vorbis order) are decoded with
//!   libopus's multistream decoder; the channels are handed over in symphonia's order (by
//!   position), so the fold-down treats 5.1 Opus like 5.1 FLAC. Families 2 and 3 (ambisonics) and
//!   255 (no defined layout) are refused as unsupported.
//! - The header's output gain (Q7.8 dB) is applied to every sample, as RFC 7845 requires.
//! - Pre-skip and end trimming are not done here (gapless trimming is the timeline's job, as
//!   for the other codecs): the decoder returns every sample of every packet.
//! - A packet libopus rejects is a decode error: the reader puts silence of the packet's length
//!   in its place, as for any damaged packet.

use std::sync::{Mutex, OnceLock};

use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, Channels, GenericAudioBufferRef,
    Position,
};
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{
    CodecRegistry, RegisterableAudioDecoder, SupportedAudioCodec,
};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::errors::{Error, Result};
use symphonia::core::packet::PacketRef;

/// Opus always decodes at 48 kHz here (the rate every Opus stream can be decoded at).
const RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms.
const MAX_PACKET_FRAMES: usize = 5760;

/// symphonia's decoders plus [`OpusDecoder`].
pub(crate) fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<OpusDecoder>();
        registry
    })
}

/// The parts of an `OpusHead` a decoder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpusHead {
    pub(crate) channels: usize,
    pub(crate) pre_skip: u16,
    /// Output gain in Q7.8 dB.
    pub(crate) gain_q8: i16,
    pub(crate) streams: u8,
    pub(crate) coupled: u8,
    /// For each output channel (Vorbis order), the decoded stream channel it takes.
    pub(crate) mapping: Vec<u8>,
}

impl OpusHead {
    /// Parses an identification header. Errors say what is wrong or unsupported.
    pub(crate) fn parse(bytes: &[u8]) -> Result<OpusHead> {
        let bad = |what: &'static str| Err(Error::DecodeError(what));
        if bytes.len() < 19 || &bytes[..8] != b"OpusHead" {
            return bad("opus: missing or short OpusHead identification header");
        }
        // Versions 0-15 share this layout (RFC 7845: the major version is the high nibble).
        if bytes[8] >> 4 != 0 {
            return Err(Error::Unsupported("opus: OpusHead major version above 0"));
        }
        let channels = usize::from(bytes[9]);
        let pre_skip = u16::from_le_bytes([bytes[10], bytes[11]]);
        let gain_q8 = i16::from_le_bytes([bytes[16], bytes[17]]);
        let family = bytes[18];
        let (streams, coupled, mapping) = match family {
            0 => {
                if !(1..=2).contains(&channels) {
                    return bad("opus: mapping family 0 needs 1 or 2 channels");
                }
                (1, (channels - 1) as u8, (0..channels as u8).collect())
            }
            1 => {
                if !(1..=8).contains(&channels) {
                    return bad("opus: mapping family 1 needs 1 to 8 channels");
                }
                let Some(table) = bytes.get(19..21 + channels) else {
                    return bad("opus: channel mapping table cut short");
                };
                let (streams, coupled) = (table[0], table[1]);
                if streams == 0 || coupled > streams {
                    return bad("opus: invalid stream counts");
                }
                let decoded = usize::from(streams) + usize::from(coupled);
                let mapping = table[2..].to_vec();
                if mapping
                    .iter()
                    .any(|&m| m != 255 && usize::from(m) >= decoded)
                {
                    return bad("opus: channel mapping refers to a missing stream");
                }
                (streams, coupled, mapping)
            }
            _ => return Err(Error::Unsupported(
                "opus: channel mapping family other than 0 and 1 (ambisonics or undefined layout)",
            )),
        };
        Ok(OpusHead {
            channels,
            pre_skip,
            gain_q8,
            streams,
            coupled,
            mapping,
        })
    }

    /// Speaker positions of the channels in Vorbis order (RFC 7845 §5.1.1.2).
    fn positions(&self) -> Vec<Position> {
        use Position as P;
        let order: &[Position] = match self.channels {
            1 => &[P::FRONT_LEFT],
            2 => &[P::FRONT_LEFT, P::FRONT_RIGHT],
            3 => &[P::FRONT_LEFT, P::FRONT_CENTER, P::FRONT_RIGHT],
            4 => &[P::FRONT_LEFT, P::FRONT_RIGHT, P::REAR_LEFT, P::REAR_RIGHT],
            5 => &[
                P::FRONT_LEFT,
                P::FRONT_CENTER,
                P::FRONT_RIGHT,
                P::REAR_LEFT,
                P::REAR_RIGHT,
            ],
            6 => &[
                P::FRONT_LEFT,
                P::FRONT_CENTER,
                P::FRONT_RIGHT,
                P::REAR_LEFT,
                P::REAR_RIGHT,
                P::LFE1,
            ],
            7 => &[
                P::FRONT_LEFT,
                P::FRONT_CENTER,
                P::FRONT_RIGHT,
                P::SIDE_LEFT,
                P::SIDE_RIGHT,
                P::REAR_CENTER,
                P::LFE1,
            ],
            _ => &[
                P::FRONT_LEFT,
                P::FRONT_CENTER,
                P::FRONT_RIGHT,
                P::SIDE_LEFT,
                P::SIDE_RIGHT,
                P::REAR_LEFT,
                P::REAR_RIGHT,
                P::LFE1,
            ],
        };
        order.to_vec()
    }

    /// The symphonia channel layout of the decoded output.
    pub(crate) fn layout(&self) -> Channels {
        Channels::Positioned(
            self.positions()
                .into_iter()
                .fold(Position::empty(), |all, p| all | p),
        )
    }

    /// The linear factor of the output gain.
    fn gain(&self) -> f32 {
        10f64.powf(f64::from(self.gain_q8) / (20.0 * 256.0)) as f32
    }
}

/// libopus behind symphonia's decoder interface (see the module docs).
pub(crate) struct OpusDecoder {
    params: AudioCodecParameters,
    head: OpusHead,
    /// libopus's decoder is `Send` but not `Sync`; symphonia wants both. Only `&mut self`
    /// methods use it, so the lock is never contended.
    decoder: Mutex<::opus::MSDecoder>,
    gain: f32,
    /// For each plane of `buf` (symphonia's order), the interleaved channel of libopus's
    /// output (Vorbis order) it takes.
    plane_source: Vec<usize>,
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    fn try_new(params: &AudioCodecParameters) -> Result<Self> {
        let extra = params.extra_data.as_deref().ok_or(Error::DecodeError(
            "opus: no OpusHead in the codec parameters",
        ))?;
        let head = OpusHead::parse(extra)?;
        let decoder = Self::libopus(&head)?;
        let positions = head.positions();
        // symphonia's planes follow position bit order; find each one's Vorbis-order channel.
        let mut by_bit: Vec<(u64, usize)> = positions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.bits(), i))
            .collect();
        by_bit.sort_unstable();
        let plane_source = by_bit.into_iter().map(|(_, i)| i).collect();
        let channels = head.layout();
        let mut params = params.clone();
        params
            .with_sample_rate(RATE)
            .with_channels(channels.clone());
        Ok(OpusDecoder {
            params,
            gain: head.gain(),
            decoder: Mutex::new(decoder),
            plane_source,
            interleaved: vec![0.0; MAX_PACKET_FRAMES * head.channels],
            buf: AudioBuffer::new(AudioSpec::new(RATE, channels), MAX_PACKET_FRAMES),
            head,
        })
    }

    fn libopus(head: &OpusHead) -> Result<::opus::MSDecoder> {
        ::opus::MSDecoder::new(RATE, head.streams, head.coupled, &head.mapping)
            .map_err(|_| Error::DecodeError("opus: libopus refused the channel mapping"))
    }

    fn decode_inner(&mut self, data: &[u8]) -> Result<()> {
        self.buf.clear();
        let decoder = self.decoder.get_mut().unwrap_or_else(|e| e.into_inner());
        // An empty packet would ask libopus for loss concealment: not audio from the file.
        if data.is_empty() {
            return Err(Error::DecodeError("opus: empty packet"));
        }
        let frames = decoder
            .decode_float(data, &mut self.interleaved, false)
            .map_err(|_| Error::DecodeError("opus: libopus could not decode a packet"))?;
        let ch = self.head.channels;
        self.buf.render_uninit(Some(frames));
        for (plane_index, &source) in self.plane_source.iter().enumerate() {
            let plane = self
                .buf
                .plane_mut(plane_index)
                .ok_or(Error::DecodeError("opus: missing audio plane"))?;
            for (out, frame) in plane.iter_mut().zip(self.interleaved.chunks_exact(ch)) {
                *out = frame[source] * self.gain;
            }
        }
        Ok(())
    }
}

impl AudioDecoder for OpusDecoder {
    fn reset(&mut self) {
        // libopus's multistream decoder has no reset call in the binding: start a new one (the
        // parameters were accepted once, so they are accepted again).
        if let Ok(fresh) = Self::libopus(&self.head) {
            self.decoder = Mutex::new(fresh);
        }
    }

    fn codec_info(&self) -> &CodecInfo {
        &Self::supported_codecs()[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        match self.decode_inner(packet.data) {
            Ok(()) => Ok(self.buf.as_generic_audio_buffer_ref()),
            Err(e) => {
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

impl RegisterableAudioDecoder for OpusDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        _opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>> {
        Ok(Box::new(OpusDecoder::try_new(params)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &[SupportedAudioCodec {
            id: CODEC_ID_OPUS,
            info: CodecInfo {
                short_name: "opus",
                long_name: "Opus (libopus)",
                profiles: &[],
            },
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(channels: u8, family: u8, table: &[u8]) -> Vec<u8> {
        let mut h = b"OpusHead".to_vec();
        h.extend([1, channels]);
        h.extend(312u16.to_le_bytes());
        h.extend(44_100u32.to_le_bytes());
        h.extend((-256i16).to_le_bytes());
        h.push(family);
        h.extend(table);
        h
    }

    #[test]
    fn parses_family_0_and_1_and_refuses_the_rest() {
        let stereo = OpusHead::parse(&head(2, 0, &[])).unwrap();
        assert_eq!(
            (stereo.channels, stereo.pre_skip, stereo.gain_q8),
            (2, 312, -256)
        );
        assert_eq!(
            (stereo.streams, stereo.coupled, &stereo.mapping[..]),
            (1, 1, &[0u8, 1][..])
        );
        assert!((stereo.gain() - 0.891_251).abs() < 1e-5, "-1 dB");

        let surround = OpusHead::parse(&head(6, 1, &[4, 2, 0, 4, 1, 2, 3, 5])).unwrap();
        assert_eq!((surround.streams, surround.coupled), (4, 2));
        // Vorbis order L C R RL RR LFE; symphonia's planes are FL FR FC LFE RL RR.
        let decoder = OpusDecoder::try_new(
            AudioCodecParameters::new()
                .for_codec(CODEC_ID_OPUS)
                .with_extra_data(head(6, 1, &[4, 2, 0, 4, 1, 2, 3, 5]).into_boxed_slice()),
        )
        .unwrap();
        assert_eq!(decoder.plane_source, [0, 2, 1, 5, 3, 4]);

        assert!(
            OpusHead::parse(&head(3, 0, &[])).is_err(),
            "3 channels in family 0"
        );
        assert!(
            OpusHead::parse(&head(6, 1, &[4, 2, 0, 4])).is_err(),
            "short table"
        );
        assert!(
            OpusHead::parse(&head(2, 1, &[1, 1, 0, 9])).is_err(),
            "mapping past the streams"
        );
        assert!(matches!(
            OpusHead::parse(&head(4, 2, &[])),
            Err(Error::Unsupported(_))
        ));
        assert!(OpusHead::parse(b"OpusHea").is_err());
        assert!(OpusHead::parse(&head(2, 0, &[])[..18]).is_err());
    }
}
