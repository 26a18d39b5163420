//! Error types, one enum per phase, and [`Error`] that any of them converts into.
//!
//! Messages say what was wrong and, where there is one, the valid range, so that a backend can
//! show them to an operator as they are.

use std::path::PathBuf;

/// Why a source could not be opened or read.
///
/// Every variant names the file (`"<memory>"` for in-memory sources).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The path does not exist.
    #[error("{path}: file not found")]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The path exists but is a directory or another non-regular file.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path as given.
        path: PathBuf,
    },
    /// The file is empty (0 bytes).
    #[error("{path}: file is empty")]
    EmptyFile {
        /// The path as given.
        path: PathBuf,
    },
    /// An I/O error while reading.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No supported container or codec was recognised.
    #[error("{path}: unsupported format: {reason}")]
    UnsupportedFormat {
        /// The path as given.
        path: PathBuf,
        /// What the prober or codec registry said.
        reason: String,
    },
    /// The container or the coded audio is malformed.
    #[error("{path}: malformed audio: {reason}")]
    Malformed {
        /// The path as given.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The stream parameters are out of the supported range (sample rate, channel count,
    /// duration).
    #[error("{path}: {what}")]
    Unsupported {
        /// The path as given.
        path: PathBuf,
        /// What is out of range and the valid range.
        what: String,
    },
    /// The file holds no audio frames at all.
    #[error("{path}: the audio stream holds no frames")]
    NoAudio {
        /// The path as given.
        path: PathBuf,
    },
    /// The file ended before the length measured when it was opened: it was modified or
    /// truncated while in use.
    #[error("{path}: audio ended at frame {got}, expected {expected} (was the file modified?)")]
    EndedEarly {
        /// The path as given.
        path: PathBuf,
        /// Frames expected (source rate).
        expected: u64,
        /// Frames actually decoded.
        got: u64,
    },
    /// The file changed or disappeared after it was opened: its size or modification time
    /// differs. Chunks of the old and new versions must not be mixed; open it again.
    #[error("{path}: the file changed or disappeared since it was opened; open it again")]
    Changed {
        /// The path as given.
        path: PathBuf,
    },
    /// A range outside the track was requested.
    #[error("{path}: frame range {start}..{end} is outside the track (0..{frames})")]
    RangeOutOfBounds {
        /// The path as given.
        path: PathBuf,
        /// Requested start frame.
        start: u64,
        /// Requested end frame (exclusive).
        end: u64,
        /// Frames in the track.
        frames: u64,
    },
}

/// Why a chunk plan or a chunk request is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The chunk length is not a positive multiple of 20 ms.
    #[error("invalid chunk length {seconds} s: must be a positive multiple of 0.02 s (20 ms), at most {max_seconds} s")]
    InvalidChunkLength {
        /// The requested length.
        seconds: f64,
        /// The largest accepted length.
        max_seconds: f64,
    },
    /// A chunk index outside the track.
    #[error("invalid chunk index {index} (track has {total} chunks: 0..={last})", last = total.saturating_sub(1))]
    ChunkIndexOutOfRange {
        /// The requested index.
        index: u64,
        /// How many chunks the track has.
        total: u64,
    },
    /// A time outside the track, or not finite.
    #[error("invalid time {seconds} s (track is {duration_s} s long)")]
    TimeOutOfRange {
        /// The requested time.
        seconds: f64,
        /// The track's duration.
        duration_s: f64,
    },
    /// The track has no frames, so it has no chunks.
    #[error("the track is empty: it has no chunks")]
    EmptyTrack,
    /// A frame where a segment would start (a switch at the playhead) that is not on the
    /// 20 ms packet grid.
    #[error("frame {frame} is not on the 20 ms packet grid (a multiple of 960 frames at 48 kHz)")]
    OffPacketGrid {
        /// The frame given.
        frame: u64,
    },
}

/// Why mastering settings are invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MasteringError {
    /// A preset name that does not exist.
    #[error("unknown preset {name:?} (valid: {valid})")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// An intensity outside [0, 1] or not finite.
    #[error("invalid intensity {value}: must be a number from 0 to 1")]
    InvalidIntensity {
        /// The value given.
        value: f64,
    },
}

/// Why encoding failed or its settings are invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A bitrate outside 32 000..=512 000 bit/s.
    #[error("invalid bitrate {bitrate_bps} bit/s (valid: 32000..=512000)")]
    InvalidBitrate {
        /// The value given.
        bitrate_bps: u32,
    },
    /// A complexity above 10.
    #[error("invalid complexity {complexity} (valid: 0..=10)")]
    InvalidComplexity {
        /// The value given.
        complexity: u8,
    },
    /// libopus reported an error.
    #[error("Opus encoder: {reason}")]
    Codec {
        /// What it said.
        reason: String,
    },
    /// The audio handed to the encoder has the wrong length for the chunk (a caller's error,
    /// not the codec's).
    #[error("encoder input holds {got} samples, expected {expected}")]
    InputLength {
        /// Samples expected (frames with pre-roll and look-ahead, times channels).
        expected: usize,
        /// Samples given.
        got: usize,
    },
}

/// Any error of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or decoding the source failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The chunk plan or a chunk request is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The mastering settings are invalid.
    #[error(transparent)]
    Mastering(#[from] MasteringError),
    /// Encoding failed or its settings are invalid.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A setting outside its valid range (other than those the phases above check).
    #[error("invalid {name} {value}: {valid}")]
    InvalidArgument {
        /// The setting.
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// The valid range.
        valid: &'static str,
    },
    /// A cache entry passed its checksum but cannot be read by this library version.
    #[error("unreadable cache entry ({what}): {reason}")]
    CorruptCache {
        /// What the entry holds.
        what: &'static str,
        /// Why it cannot be read.
        reason: String,
    },
    /// Writing an output (or the temporary file behind it) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A bug in the library: a worker thread stopped (panicked) before finishing its work.
    #[error("internal error: {what}")]
    Internal {
        /// What stopped.
        what: String,
    },
}

/// The one classification of every [`Error`], for the bindings: each maps every kind to its own
/// code (C status, Python exception) with an exhaustive `match`, so a new kind does not compile
/// until each boundary has decided what it is. Not `#[non_exhaustive]` on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file does not exist.
    NotFound,
    /// An I/O error, or a path that is not a regular file.
    Io,
    /// Not audio in a supported format, or its parameters out of range (rate, channels,
    /// duration, size).
    UnsupportedFormat,
    /// The audio is malformed, empty or ended early.
    Decode,
    /// The file changed or disappeared since it was opened.
    SourceChanged,
    /// A chunk index, a time or a frame range outside the track.
    IndexOutOfRange,
    /// An argument outside its valid range.
    InvalidArgument,
    /// The Opus encoder failed.
    Encode,
    /// The cache holds an entry this library cannot read.
    CorruptCache,
    /// A bug in the library (a worker panicked).
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::NotFound,
        ErrorKind::Io,
        ErrorKind::UnsupportedFormat,
        ErrorKind::Decode,
        ErrorKind::SourceChanged,
        ErrorKind::IndexOutOfRange,
        ErrorKind::InvalidArgument,
        ErrorKind::Encode,
        ErrorKind::CorruptCache,
        ErrorKind::Internal,
    ];
}

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode(d) => match d {
                DecodeError::NotFound { .. } => ErrorKind::NotFound,
                DecodeError::NotAFile { .. } | DecodeError::Io { .. } => ErrorKind::Io,
                DecodeError::UnsupportedFormat { .. } | DecodeError::Unsupported { .. } => {
                    ErrorKind::UnsupportedFormat
                }
                DecodeError::EmptyFile { .. }
                | DecodeError::Malformed { .. }
                | DecodeError::NoAudio { .. }
                | DecodeError::EndedEarly { .. } => ErrorKind::Decode,
                DecodeError::Changed { .. } => ErrorKind::SourceChanged,
                DecodeError::RangeOutOfBounds { .. } => ErrorKind::IndexOutOfRange,
            },
            Error::Plan(p) => match p {
                PlanError::ChunkIndexOutOfRange { .. } | PlanError::TimeOutOfRange { .. } => {
                    ErrorKind::IndexOutOfRange
                }
                PlanError::EmptyTrack => ErrorKind::Decode,
                PlanError::InvalidChunkLength { .. } | PlanError::OffPacketGrid { .. } => {
                    ErrorKind::InvalidArgument
                }
            },
            Error::Mastering(m) => match m {
                MasteringError::UnknownPreset { .. } | MasteringError::InvalidIntensity { .. } => {
                    ErrorKind::InvalidArgument
                }
            },
            Error::Encode(e) => match e {
                EncodeError::InvalidBitrate { .. }
                | EncodeError::InvalidComplexity { .. }
                | EncodeError::InputLength { .. } => ErrorKind::InvalidArgument,
                EncodeError::Codec { .. } => ErrorKind::Encode,
            },
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::CorruptCache { .. } => ErrorKind::CorruptCache,
            Error::Io { .. } => ErrorKind::Io,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }
}
