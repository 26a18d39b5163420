//! The whole mastered track as one file (the offline download): the chunks' mastered PCM, one
//! chunk at a time, through one continuous Opus encode, in WebM or MP4.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::outputs::mastered_pcm;
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringParams;
use crate::opus::{self, OpusSettings};
use crate::render::Renderer;

/// The whole mastered track as one file in `container`: a continuous encode, as WebM with
/// pre-skip, CodecDelay, Duration and Cues, or as MP4 with PreSkip and an edit list. The PCM is
/// made and encoded one chunk at a time, the next chunk mastered while one is encoded (at most
/// two chunks' PCM at once); the file's bytes are held in memory (see
/// [`write_whole_track_file`] for a bounded-memory version).
pub fn whole_track_file(
    renderer: &Renderer,
    params: &MasteringParams,
    settings: &OpusSettings,
    container: Container,
) -> Result<Vec<u8>, Error> {
    let mut packets = Vec::new();
    let encoded = encode_whole_track(renderer, params, settings, &mut packets)?;
    let mut out = Vec::with_capacity(packets.len() + packets.len() / 16 + 4096);
    encoded
        .write(container, &mut packets.as_slice(), &mut out)
        .map_err(|source| Error::Io {
            what: "writing the whole-track file in memory".into(),
            source,
        })?;
    Ok(out)
}

/// [`whole_track_file`] written to `out` with memory bounded whatever the track's length: the
/// PCM is made and encoded one chunk at a time, the packets go to a temporary file (in
/// `std::env::temp_dir()`, removed when done) while the track is encoded, then the container
/// is written from it (one Cluster or one copy buffer at a time). Returns the bytes written.
pub fn write_whole_track_file(
    renderer: &Renderer,
    params: &MasteringParams,
    settings: &OpusSettings,
    container: Container,
    out: &mut dyn std::io::Write,
) -> Result<u64, Error> {
    use std::io::{Seek, Write};
    let spill_error = |source| Error::Io {
        what: "the whole-track file's temporary packet file".into(),
        source,
    };
    let spill = SpillFile::create().map_err(spill_error)?;
    let mut writer = std::io::BufWriter::new(&spill.file);
    let encoded = encode_whole_track(renderer, params, settings, &mut writer)?;
    writer.flush().map_err(spill_error)?;
    drop(writer);
    (&spill.file)
        .seek(std::io::SeekFrom::Start(0))
        .map_err(spill_error)?;
    let mut counted = CountingWriter {
        inner: out,
        bytes: 0,
    };
    encoded
        .write(
            container,
            &mut std::io::BufReader::new(&spill.file),
            &mut counted,
        )
        .map_err(|source| Error::Io {
            what: "writing the whole-track file".into(),
            source,
        })?;
    Ok(counted.bytes)
}

/// What [`encode_whole_track`] made: enough to write the container around the packets.
struct EncodedTrack {
    frames: u64,
    padding_frames: u64,
    channels: u8,
    sizes: Vec<usize>,
}

impl EncodedTrack {
    fn write(
        &self,
        container: Container,
        packets: &mut dyn std::io::Read,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        container.write_whole_track_file(
            self.frames,
            self.padding_frames,
            self.channels,
            &self.sizes,
            packets,
            out,
        )
    }
}

/// Masters the track chunk by chunk (the chunks' own samples, see [`mastered_pcm`]) on a
/// second thread, one chunk ahead, and encodes it continuously on this one ([`opus::TrackEncoder`]: the packets of [`opus::encode_track`]),
/// appending the packets to `packets`.
fn encode_whole_track(
    renderer: &Renderer,
    params: &MasteringParams,
    settings: &OpusSettings,
    packets: &mut dyn std::io::Write,
) -> Result<EncodedTrack, Error> {
    settings.validate()?;
    let plan = renderer.plan(crate::plan::DEFAULT_CHUNK_SECONDS)?;
    let channels = renderer.channels() as usize;
    let mut encoder = opus::TrackEncoder::new(channels, renderer.frames(), settings)?;
    let mut sizes = Vec::with_capacity(encoder.packet_count());
    let mut sink = |packet: &[u8]| {
        sizes.push(packet.len());
        packets.write_all(packet).map_err(|source| Error::Io {
            what: "storing the whole track's packets".into(),
            source,
        })
    };
    // Chunk k + 1 is mastered (on the renderer's threads) while chunk k is encoded here: the
    // encoder is one continuous state and so one thread, and without the overlap the cores that
    // master wait for it. The rendezvous channel holds no chunk: at most two chunks' PCM exist
    // at once (the one being encoded and the next), so memory stays bounded by the chunk
    // length. The PCM is each chunk's own (`mastered_pcm`), so the bytes do not change.
    std::thread::scope(|scope| -> Result<(), Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<f32>, Error>>(0);
        let plan = &plan;
        scope.spawn(move || {
            for c in plan.chunks() {
                let pcm = mastered_pcm(renderer, plan, c.index, params);
                let failed = pcm.is_err();
                // A send fails when the encoder stopped (its own error): nothing more is wanted.
                if tx.send(pcm).is_err() || failed {
                    return;
                }
            }
        });
        // A mastering thread that panicked ends the channel early; the scope then panics in
        // turn, so no short file is ever returned.
        for pcm in rx.iter().take(plan.total_chunks() as usize) {
            encoder.push(&pcm?, &mut sink)?;
        }
        Ok(())
    })?;
    let padding_frames = encoder.padding_frames();
    encoder.finish(&mut sink)?;
    Ok(EncodedTrack {
        frames: renderer.frames(),
        padding_frames,
        channels: channels as u8,
        sizes,
    })
}

/// A temporary file, removed when dropped (on Unix its name is gone at once; the open file
/// lives on until dropped).
struct SpillFile {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl SpillFile {
    fn create() -> std::io::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "auralis-track-{}-{}-{nanos}.opus-packets",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let _ = std::fs::remove_file(&path);
        Ok(SpillFile { file, path })
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Counts what passes through to `inner`.
struct CountingWriter<'a> {
    inner: &'a mut dyn std::io::Write,
    bytes: u64,
}

impl std::io::Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
