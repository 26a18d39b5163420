//! Opening a file's format and decoder, and measuring what the headers do not say: packet
//! scans, Matroska's end trimming, the first packet's timestamp.

use super::*;

pub(super) trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

pub(super) fn open_format(
    data: &SourceData,
    label: &Path,
    extension: Option<&str>,
) -> Result<Box<dyn FormatReader>, DecodeError> {
    match probe(data, extension, true) {
        // A truncated file: symphonia's Ogg reader looks for the last page within the file's
        // last 64 KiB and fails when it finds only a cut-off one; its Matroska reader follows
        // the SeekHead to Cues past the end. Reading the file as a stream (no length, no
        // seeking), neither looks, and the reader's own measuring finds where readable packets
        // end. When that fails too, the first error says what is wrong.
        Err(SymphoniaError::IoError(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            Err(SymphoniaError::IoError(e))
        }
        Err(first) => probe(data, extension, false).map_err(|_| first),
        ok => ok,
    }
    .map_err(|e| match e {
        SymphoniaError::IoError(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            io_error(label, e)
        }
        SymphoniaError::DecodeError(msg) => DecodeError::Malformed {
            path: label.to_path_buf(),
            reason: msg.into(),
        },
        other => DecodeError::UnsupportedFormat {
            path: label.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

pub(super) fn probe(
    data: &SourceData,
    extension: Option<&str>,
    sized: bool,
) -> Result<Box<dyn FormatReader>, SymphoniaError> {
    let media: Box<dyn MediaSource> = match data {
        SourceData::File(path) => Box::new(File::open(path)?),
        SourceData::Memory(bytes) => Box::new(Cursor::new(bytes.clone())),
    };
    let media: Box<dyn MediaSource> = if sized {
        media
    } else {
        Box::new(LengthUnknown(media))
    };
    let mss = MediaSourceStream::new(media, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    symphonia::default::get_probe().probe(
        &hint,
        mss,
        FormatOptions::default(),
        MetadataOptions::default(),
    )
}

/// A media source read as a stream: no length, no seeking (see [`open_format`]). Range reads of
/// such sources decode from the start.
pub(super) struct LengthUnknown(Box<dyn MediaSource>);

impl std::io::Read for LengthUnknown {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Seek for LengthUnknown {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl MediaSource for LengthUnknown {
    fn is_seekable(&self) -> bool {
        false
    }

    fn byte_len(&self) -> Option<u64> {
        None
    }
}

pub(super) fn make_decoder(
    params: &AudioCodecParameters,
    label: &Path,
) -> Result<Box<dyn AudioDecoder>, DecodeError> {
    // Gapless trimming off: this module trims by itself (see `timeline`).
    let options = AudioDecoderOptions::default().gapless(false);
    // symphonia's decoders can panic on a damaged codec header (its Vorbis codebook parser
    // indexes out of bounds on some; found by the `decode_probe` fuzz target): that is a
    // malformed file, not a crash.
    let made = std::panic::catch_unwind(|| libopus::codecs().make_audio_decoder(params, &options))
        .unwrap_or_else(|_| {
            Err(SymphoniaError::DecodeError(
                "the codec header is malformed (the decoder failed on it)",
            ))
        });
    made.map_err(|e| match e {
        SymphoniaError::Unsupported(what) => DecodeError::UnsupportedFormat {
            path: label.to_path_buf(),
            reason: format!("codec not supported: {what}"),
        },
        other => DecodeError::Malformed {
            path: label.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

pub(super) fn io_error(label: &Path, source: std::io::Error) -> DecodeError {
    DecodeError::Io {
        path: label.to_path_buf(),
        source,
    }
}

/// How [`scan_packets`] learns each packet's true output length.
#[derive(Debug, Clone)]
pub(super) enum Counting {
    /// AAC-LC: always 1024.
    Aac,
    /// The demuxer's duration plus what it marked for trimming (Ogg Vorbis).
    Demuxer,
    /// From the Opus packet's table-of-contents byte (RFC 6716 §3.1).
    OpusToc,
    /// From the FLAC frame header's block size.
    FlacHeader,
    /// From the Vorbis setup header's modes (Vorbis in Matroska).
    VorbisHeaders(timeline::VorbisBlocks),
    /// By decoding the packet (Vorbis in Matroska when its headers do not read).
    Decoded,
}

/// Reads packets until the end of the stream, or until a demuxing error (a truncated file):
/// the index then ends where readable packets end.
pub(super) fn scan_packets(
    format: &mut dyn FormatReader,
    track_id: u32,
    mut counting: Counting,
    decoder: &mut dyn AudioDecoder,
    label: &Path,
) -> Result<PacketIndex, DecodeError> {
    let mut index = PacketIndex::default();
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id == track_id => {
                let frames = match &mut counting {
                    Counting::Aac => 1024,
                    Counting::Demuxer => timeline::demuxed_packet_frames(&packet),
                    Counting::OpusToc => timeline::opus_packet_frames(&packet.data),
                    Counting::FlacHeader => timeline::flac_frame_frames(&packet.data),
                    Counting::VorbisHeaders(blocks) => blocks.packet_frames(&packet.data),
                    Counting::Decoded => {
                        let decoded =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                decoder.decode(&packet).map(|b| b.frames() as u64)
                            }));
                        match decoded {
                            Ok(Ok(frames)) => frames,
                            // A damaged packet (or one the decoder panics on): nothing.
                            Ok(Err(_)) => 0,
                            Err(_) => {
                                return Err(DecodeError::Malformed {
                                    path: label.to_path_buf(),
                                    reason: "a packet the decoder failed on".into(),
                                })
                            }
                        }
                    }
                };
                index.push(packet.pts.get(), frames);
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
                return Err(io_error(label, e))
            }
            Err(_) => break,
        }
    }
    if index.len() == 0 {
        return Err(DecodeError::NoAudio {
            path: label.to_path_buf(),
        });
    }
    Ok(index)
}

/// Priming and length of a Matroska track: Opus's pre-skip (from its header, which Matroska's
/// `CodecDelay` repeats) and the last block's `DiscardPadding`; for Vorbis, the first packet,
/// whose output only primes the decoder (as Ogg's granule positions say). Other codecs have
/// neither, and keep every decoded frame.
pub(super) fn matroska_trim(
    params: &AudioCodecParameters,
    timeline: &Timeline,
    track: &symphonia::core::formats::Track,
    raw: Option<Box<dyn ReadSeek>>,
) -> (u64, Option<u64>) {
    let Timeline::Indexed { index, .. } = timeline else {
        return (0, None);
    };
    match params.codec {
        CODEC_ID_OPUS => {
            let head = params
                .extra_data
                .as_deref()
                .and_then(|e| libopus::OpusHead::parse(e).ok());
            let delay = head.map_or(0, |h| u64::from(h.pre_skip));
            let padding_ns = raw
                .and_then(|r| matroska::last_block_discard_padding_ns(r, u64::from(track.id)))
                .unwrap_or(0)
                .max(0) as u64;
            let padding = (padding_ns as u128 * 48_000).div_ceil(1_000_000_000) as u64;
            let frames = index.total().saturating_sub(delay).saturating_sub(padding);
            (delay, Some(frames))
        }
        CODEC_ID_VORBIS => (index.span(0).1, None),
        _ => (0, None),
    }
}

pub(super) fn first_packet_pts(
    format: &mut dyn FormatReader,
    track_id: u32,
    label: &Path,
) -> Result<i64, DecodeError> {
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id == track_id => return Ok(packet.pts.get()),
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(DecodeError::NoAudio {
                    path: label.to_path_buf(),
                })
            }
            Err(SymphoniaError::IoError(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
                return Err(io_error(label, e))
            }
            Err(e) => {
                return Err(DecodeError::Malformed {
                    path: label.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        }
    }
}
