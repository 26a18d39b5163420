//! Decoding: any supported file to interleaved `f32` frames at the source rate, with exact
//! random access.
//!
//! [`Source::open`] probes a file with symphonia (WAV, AIFF, FLAC, MP3, Ogg Vorbis, Ogg Opus,
//! AAC and ALAC in MP4/M4A, Opus, Vorbis and FLAC in Matroska/WebM), checks its parameters, and
//! measures its true length in frames: encoder priming and padding are removed (MP3 LAME/Xing
//! info, Ogg pre-skip and end granule, MP4 edit lists, Opus pre-skip and Matroska's
//! `DiscardPadding`), and a header that claims more audio than the file holds is not believed.
//! Opening a source never decodes the whole file unless the header gives no usable length (and
//! for Vorbis in Matroska, whose packet lengths only a decode tells: about 1 % of the track's
//! duration in time).
//!
//! Opus is decoded by libopus (the `libopus` module registers it with symphonia), always at
//! 48 kHz, with the header's output gain applied; mapping family 1 (up to 7.1) folds down like
//! any multichannel source.
//!
//! [`RangeReader::read`] returns exactly the frames a linear decode from the start gives for a
//! range `[start, end)`, without decoding from the start: it seeks, decodes a warm-up before the
//! target (4096 frames for MP3, AAC and Vorbis, whose output after a seek differs for up to
//! ~900 frames; one second for Opus, whose decoder state converges slowly: measured on music,
//! 80 ms of warm-up left differences of -31 dB RMS, 200 ms -65 dB, 400 ms -125 dB, one second
//! none; none for PCM, FLAC and ALAC), and places every packet's output by its position on the
//! timeline (see the `timeline` module), never by counting what came out since the seek.
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
mod libopus;
mod matroska;
mod mp4;
mod open;
mod reader;
mod riff;
mod timeline;

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_FLAC, CODEC_ID_OPUS, CODEC_ID_VORBIS,
};
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
use open::{
    first_packet_pts, make_decoder, matroska_trim, open_format, scan_packets, Counting, ReadSeek,
};
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

/// Frames decoded and discarded before a seek target in Opus (see [`RangeReader`]'s notes on
/// Opus: its decoder converges towards, but never exactly onto, a continuous decode).
const OPUS_WARMUP_FRAMES: u64 = 48_000;

/// What a source is, as opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// Codec short name as symphonia reports it: `vorbis`, `opus`, `flac`, `mp3`, `aac`,
    /// `alac`, `pcm_s16le`, ...
    pub codec: String,
    /// Container short name: `ogg`, `flac`, `mp3`, `isomp4`, `wave`, `aiff`, `matroska`.
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
///
/// ```
/// use auralis_core::Source;
///
/// // Source::open("track.flac") for a file.
/// let source = Source::from_bytes(auralis_core::demo::demo_wav(), Some("wav"))?;
/// let info = source.info();
/// assert_eq!((info.sample_rate, info.channels, info.container.as_str()), (44_100, 2, "wave"));
/// // Any range, exactly: frames [44100, 44110) at the source rate, interleaved.
/// let samples = source.read_range(44_100, 44_110)?;
/// assert_eq!(samples.len(), 10 * 2);
/// assert!(source.read_range(0, info.frames + 1).is_err());
/// # Ok::<(), auralis_core::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Source {
    data: SourceData,
    label: PathBuf,
    info: SourceInfo,
    layout: Arc<Layout>,
    tags: Arc<Tags>,
}

/// What a file's tags say of it (ID3, Vorbis comments, MP4 and Matroska tags, as symphonia
/// reads them): each `None` when the file does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tags {
    /// The track's title.
    pub title: Option<String>,
    /// Its artist.
    pub artist: Option<String>,
    /// The album.
    pub album: Option<String>,
    /// The album's artist.
    pub album_artist: Option<String>,
    /// Its number on its disc.
    pub track: Option<u64>,
    /// Its disc's number.
    pub disc: Option<u64>,
}

/// The tags of a probed file: the media-level tags of every metadata revision, later ones
/// winning.
fn read_tags(format: &mut dyn FormatReader) -> Tags {
    use symphonia::core::meta::StandardTag as T;
    let mut tags = Tags::default();
    let mut metadata = format.metadata();
    loop {
        if let Some(revision) = metadata.current() {
            let per_track = revision
                .per_track
                .iter()
                .flat_map(|t| t.metadata.tags.iter());
            for tag in revision.media.tags.iter().chain(per_track) {
                let text = |v: &std::sync::Arc<String>| {
                    let v = v.trim();
                    (!v.is_empty()).then(|| v.to_owned())
                };
                match &tag.std {
                    Some(T::TrackTitle(v)) => tags.title = text(v).or(tags.title.take()),
                    Some(T::Artist(v)) => tags.artist = text(v).or(tags.artist.take()),
                    Some(T::Album(v)) => tags.album = text(v).or(tags.album.take()),
                    Some(T::AlbumArtist(v)) => {
                        tags.album_artist = text(v).or(tags.album_artist.take())
                    }
                    Some(T::TrackNumber(n)) => tags.track = Some(*n),
                    Some(T::DiscNumber(n)) => tags.disc = Some(*n),
                    _ => {}
                }
            }
        }
        if metadata.pop().is_none() {
            break;
        }
    }
    tags
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

    /// What the file's tags say (title, artist, album, track and disc numbers).
    pub fn tags(&self) -> &Tags {
        &self.tags
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
        let tags = Arc::new(read_tags(format.as_mut()));
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
        let mut decoder = make_decoder(&params, &label)?;
        let codec = decoder.codec_info().short_name.to_owned();
        let container = format.format_info().short_name.to_owned();
        // Opus's decoder knows the layout from its header (Matroska says only "6 channels").
        let channels = match &decoder.codec_params().channels {
            Some(c) if params.codec == CODEC_ID_OPUS => c.clone(),
            _ => channels,
        };

        // Matroska timestamps are in milliseconds: every codec there is indexed, by the
        // packets' own lengths.
        let matroska = container == "matroska";
        let counting = match params.codec {
            CODEC_ID_AAC => Some(Counting::Aac),
            CODEC_ID_OPUS => Some(Counting::OpusToc),
            CODEC_ID_VORBIS if matroska => Some(
                params
                    .extra_data
                    .as_deref()
                    .filter(|e| e.len() > 30)
                    .and_then(|e| timeline::VorbisBlocks::from_headers(&e[..30], &e[30..]))
                    .map_or(Counting::Decoded, Counting::VorbisHeaders),
            ),
            CODEC_ID_VORBIS => Some(Counting::Demuxer),
            CODEC_ID_FLAC if matroska => Some(Counting::FlacHeader),
            _ if matroska => Some(Counting::Decoded),
            _ => None,
        };
        let timeline = if let Some(counting) = counting {
            let index = scan_packets(
                format.as_mut(),
                track.id,
                counting,
                decoder.as_mut(),
                &label,
            )?;
            Timeline::Indexed {
                index: Arc::new(index),
                seek_by_pts: container != "ogg" && !matroska,
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
        } else if matroska {
            matroska_trim(&params, &timeline, &track, open_raw())
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
        } else if params.codec == CODEC_ID_OPUS {
            // Ogg Opus: symphonia reports the last granule position, which counts the
            // pre-skip (RFC 7845 §4).
            let delay = u64::from(track.delay.unwrap_or(0));
            (delay, track.num_frames.map(|n| n.saturating_sub(delay)))
        } else {
            (u64::from(track.delay.unwrap_or(0)), track.num_frames)
        };

        let warmup = match codec.as_str() {
            "mp1" | "mp2" | "mp3" | "aac" | "vorbis" => LOSSY_WARMUP_FRAMES,
            "opus" => OPUS_WARMUP_FRAMES,
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
            tags,
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
