//! Decoding: any supported file to interleaved `f32` frames at the source rate, with exact
//! random access.
//!
//! [`Source::open`] probes a file with symphonia (WAV, AIFF, FLAC, MP3, Ogg Vorbis, AAC and ALAC
//! in MP4/M4A), checks its parameters, and measures its true length in frames: encoder priming
//! and padding are removed (MP3 LAME/Xing info, Ogg pre-skip and end granule, MP4 edit lists),
//! and a header that claims more audio than the file holds is not believed. Opening a source
//! never decodes the whole file unless the header gives no usable length.
//!
//! [`RangeReader::read`] returns exactly the frames a linear decode from the start gives for a
//! range `[start, end)`, without decoding from the start: it seeks, decodes a warm-up before the
//! target (4096 frames for MP3, AAC and Vorbis, whose output after a seek differs for up to
//! ~900 frames; none for PCM, FLAC and ALAC), and places every packet's output by its position
//! on the timeline (see the `timeline` module), never by counting what came out since the seek.
//!
//! One exception to "exactly": AAC's perceptual noise substitution (PNS) fills some bands with
//! noise from a generator that runs from the start of decoding, so after any seek those bands
//! get other (equally valid) noise. Every seek starts a new decoder, so a range's samples are
//! still a pure function of the file and the range; they differ from a linear decode only in
//! noise-substituted bands (measured on the corpus's `love_40s.m4a`: at most -59 dB RMS over a
//! range, and bit-exact where the encoder used no PNS). ffmpeg behaves the same after a seek.
//!
//! Output channels: mono stays mono, stereo stays stereo, more channels fold down to stereo
//! (coefficients in the `downmix` module). Non-finite samples become 0.
//!
//! Damaged files: a packet that fails to decode becomes silence of its nominal length, so the
//! timeline stays exact; a file cut short decodes what is there (its length is what is really
//! there, whatever the header says); a file where no packet decodes is a
//! [`DecodeError::Malformed`]. Nothing is allocated from a header's claims.

mod downmix;
mod mp4;
mod reader;
mod riff;
mod timeline;

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use symphonia::core::codecs::audio::well_known::{CODEC_ID_AAC, CODEC_ID_VORBIS};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

pub use reader::RangeReader;

use crate::error::DecodeError;
use downmix::ChannelMap;
use timeline::{PacketIndex, Timeline};

/// Lowest accepted source sample rate.
pub const MIN_SAMPLE_RATE_HZ: u32 = 8_000;
/// Highest accepted source sample rate.
pub const MAX_SAMPLE_RATE_HZ: u32 = 192_000;
/// Most source channels accepted (7.1).
pub const MAX_CHANNELS: usize = 8;
/// Longest accepted track.
pub const MAX_DURATION_S: u64 = 4 * 3600;
/// Largest file (or in-memory source) opened: 8 GiB, more than 4 hours of 24-bit 96 kHz
/// stereo WAV. Checked before anything is read.
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// Frames decoded and discarded before a seek target for codecs whose decoders need to
/// settle after a reset (measured: up to ~900 frames differ from a continuous decode; 4096
/// makes it bit-exact).
const LOSSY_WARMUP_FRAMES: u64 = 4096;

/// What a source is, as opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// Codec short name as symphonia reports it: `vorbis`, `flac`, `mp3`, `aac`, `alac`,
    /// `pcm_s16le`, ...
    pub codec: String,
    /// Container short name: `ogg`, `flac`, `mp3`, `isomp4`, `wave`, `aiff`.
    pub container: String,
    /// Source sample rate in Hz.
    pub sample_rate: u32,
    /// Channels coded in the file.
    pub source_channels: u16,
    /// Channels delivered by readers: 1 or 2.
    pub channels: u16,
    /// Content frames at the source rate, priming and padding removed.
    pub frames: u64,
}

impl SourceInfo {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

#[derive(Debug, Clone)]
enum SourceData {
    File(PathBuf),
    Memory(Arc<[u8]>),
}

/// Everything a reader needs to know about the stream, fixed when the source is opened.
#[derive(Debug)]
struct Layout {
    track_id: u32,
    params: AudioCodecParameters,
    extension: Option<String>,
    timeline: Timeline,
    /// Linear frame of content frame 0.
    delay: u64,
    warmup: u64,
    channel_map: ChannelMap,
}

/// An opened audio source: a file or bytes in memory, probed and measured.
///
/// Cheap to clone; `Send + Sync`. Each [`RangeReader`] made from it has its own file handle
/// and decoder, so threads read independently.
#[derive(Debug, Clone)]
pub struct Source {
    data: SourceData,
    label: PathBuf,
    info: SourceInfo,
    layout: Arc<Layout>,
}

fn check_size(bytes: u64, path: &Path) -> Result<(), DecodeError> {
    if bytes > MAX_FILE_BYTES {
        return Err(DecodeError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "file is {bytes} bytes, larger than the {} GiB limit",
                MAX_FILE_BYTES >> 30
            ),
        });
    }
    Ok(())
}

impl Source {
    /// Opens and measures a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DecodeError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DecodeError::NotFound {
                path: path.to_path_buf(),
            },
            _ => DecodeError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        if !meta.is_file() {
            return Err(DecodeError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        if meta.len() == 0 {
            return Err(DecodeError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        check_size(meta.len(), path)?;
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_owned);
        Self::open_data(
            SourceData::File(path.to_path_buf()),
            path.to_path_buf(),
            extension,
        )
    }

    /// Opens audio held in memory. `extension` (without the dot) helps the prober, as a file
    /// name would.
    pub fn from_bytes(
        bytes: impl Into<Arc<[u8]>>,
        extension: Option<&str>,
    ) -> Result<Self, DecodeError> {
        let bytes = bytes.into();
        let label = PathBuf::from("<memory>");
        if bytes.is_empty() {
            return Err(DecodeError::EmptyFile { path: label });
        }
        check_size(bytes.len() as u64, &label)?;
        Self::open_data(
            SourceData::Memory(bytes),
            label,
            extension.map(str::to_owned),
        )
    }

    /// What the source is.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// The file's path, or `None` for an in-memory source.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            SourceData::File(p) => Some(p),
            SourceData::Memory(_) => None,
        }
    }

    /// A reader with its own file handle and decoder.
    pub fn reader(&self) -> Result<RangeReader, DecodeError> {
        RangeReader::new(self.clone())
    }

    /// Frames `[start, end)` as interleaved samples (convenience; allocates).
    pub fn read_range(&self, start: u64, end: u64) -> Result<Vec<f32>, DecodeError> {
        let mut out = Vec::new();
        self.reader()?
            .read(start, end, |block| out.extend_from_slice(block))?;
        Ok(out)
    }

    fn open_data(
        data: SourceData,
        label: PathBuf,
        extension: Option<String>,
    ) -> Result<Self, DecodeError> {
        let mut format = open_format(&data, &label, extension.as_deref())?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| DecodeError::UnsupportedFormat {
                path: label.clone(),
                reason: "no audio track with a supported codec".into(),
            })?
            .clone();
        let params = match &track.codec_params {
            Some(CodecParameters::Audio(p)) => p.clone(),
            _ => {
                return Err(DecodeError::UnsupportedFormat {
                    path: label,
                    reason: "the track has no audio codec parameters".into(),
                })
            }
        };
        let sample_rate = params.sample_rate.unwrap_or(0);
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate) {
            return Err(DecodeError::Unsupported {
                path: label,
                what: format!(
                    "sample rate {sample_rate} Hz is out of range ({MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz)"
                ),
            });
        }
        let channels = params.channels.clone().unwrap_or_default();
        let source_channels = channels.count();
        if !(1..=MAX_CHANNELS).contains(&source_channels) {
            return Err(DecodeError::Unsupported {
                path: label,
                what: format!("{source_channels} channels is out of range (1..={MAX_CHANNELS})"),
            });
        }
        let decoder = make_decoder(&params, &label)?;
        let codec = decoder.codec_info().short_name.to_owned();
        let container = format.format_info().short_name.to_owned();

        let is_aac = params.codec == CODEC_ID_AAC;
        let indexed = is_aac || params.codec == CODEC_ID_VORBIS;
        let timeline = if indexed {
            Timeline::Indexed {
                index: Arc::new(scan_packets(format.as_mut(), track.id, is_aac, &label)?),
                seek_by_pts: container != "ogg",
            }
        } else {
            let first_pts = first_packet_pts(format.as_mut(), track.id, &label)?;
            Timeline::Affine { offset: -first_pts }
        };

        let open_raw = || -> Option<Box<dyn ReadSeek>> {
            match &data {
                SourceData::File(p) => File::open(p)
                    .ok()
                    .map(|f| Box::new(BufReader::new(f)) as Box<dyn ReadSeek>),
                SourceData::Memory(b) => Some(Box::new(Cursor::new(b.clone()))),
            }
        };
        let (delay, declared) = if container == "isomp4" {
            let edit = open_raw().and_then(|r| mp4::read_edit(r, sample_rate));
            match edit {
                Some(edit) => (edit.delay, edit.frames),
                None => (0, None),
            }
        } else if container == "wave" {
            // The header's count may exceed what the file holds (see the `riff` module). Then
            // symphonia reads the last packet past the end of the data and returns garbage for
            // it, so only the complete packets count.
            let present = open_raw().and_then(riff::wav_frames_present);
            let packet = params.max_frames_per_packet.unwrap_or(1).max(1);
            let declared = match (track.num_frames, present) {
                (Some(n), Some(p)) if p < n => Some(p / packet * packet),
                (n, p) => n.or(p),
            };
            (u64::from(track.delay.unwrap_or(0)), declared)
        } else {
            (u64::from(track.delay.unwrap_or(0)), track.num_frames)
        };

        let warmup = match codec.as_str() {
            "mp1" | "mp2" | "mp3" | "aac" | "vorbis" => LOSSY_WARMUP_FRAMES,
            _ => 0,
        };
        let layout = Arc::new(Layout {
            track_id: track.id,
            params,
            extension,
            timeline,
            delay,
            warmup,
            channel_map: ChannelMap::new(&channels),
        });
        let mut source = Source {
            data,
            label: label.clone(),
            info: SourceInfo {
                codec,
                container,
                sample_rate,
                source_channels: source_channels as u16,
                channels: layout.channel_map.out_channels() as u16,
                frames: 0,
            },
            layout,
        };
        let linear_end = source.reader()?.measure_end(declared.map(|d| d + delay))?;
        let frames = linear_end.saturating_sub(delay);
        let frames = declared.map_or(frames, |d| d.min(frames));
        if frames == 0 {
            return Err(DecodeError::NoAudio { path: label });
        }
        if frames > MAX_DURATION_S * u64::from(sample_rate) {
            return Err(DecodeError::Unsupported {
                path: label,
                what: format!(
                    "duration {:.0} s exceeds the limit of {MAX_DURATION_S} s",
                    frames as f64 / f64::from(sample_rate)
                ),
            });
        }
        source.info.frames = frames;
        Ok(source)
    }
}

trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

fn open_format(
    data: &SourceData,
    label: &Path,
    extension: Option<&str>,
) -> Result<Box<dyn FormatReader>, DecodeError> {
    let media: Box<dyn MediaSource> = match data {
        SourceData::File(path) => Box::new(File::open(path).map_err(|e| io_error(label, e))?),
        SourceData::Memory(bytes) => Box::new(Cursor::new(bytes.clone())),
    };
    let mss = MediaSourceStream::new(media, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
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

fn make_decoder(
    params: &AudioCodecParameters,
    label: &Path,
) -> Result<Box<dyn AudioDecoder>, DecodeError> {
    // Gapless trimming off: this module trims by itself (see `timeline`).
    let options = AudioDecoderOptions::default().gapless(false);
    symphonia::default::get_codecs()
        .make_audio_decoder(params, &options)
        .map_err(|e| match e {
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

fn io_error(label: &Path, source: std::io::Error) -> DecodeError {
    DecodeError::Io {
        path: label.to_path_buf(),
        source,
    }
}

/// Reads packets until the end of the stream, or until a demuxing error (a truncated file):
/// the index then ends where readable packets end.
fn scan_packets(
    format: &mut dyn FormatReader,
    track_id: u32,
    is_aac: bool,
    label: &Path,
) -> Result<PacketIndex, DecodeError> {
    let mut index = PacketIndex::default();
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id == track_id => {
                index.push(
                    packet.pts.get(),
                    timeline::true_packet_frames(&packet, is_aac),
                );
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

fn first_packet_pts(
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
