//! PCM and WAV outputs of a stream: the unmastered audio of a time range, a chunk's mastered
//! PCM (cached) and WAV, and the whole mastered track as one WAV written chunk by chunk.
//! WAV files are written by [`crate::format::wav`] (32-bit float, or 16-bit with position-addressed
//! TPDF dither).

use std::io::{Seek, Write};

use super::{Kind, Stream, SILENCE_DB};
use crate::cache::CacheEntry;
use crate::error::Error;
use crate::format::wav::{write_wav, WavFormat};
use crate::units::OutputRate;

impl Stream {
    /// The unmastered 48 kHz audio of `[start_s, end_s)`, clamped to the track (for the Python
    /// layer's `load_chunk`). Not cached.
    pub fn original_pcm(&self, start_s: f64, end_s: f64) -> Result<Vec<f32>, Error> {
        let frames = self.inner.plan.frames();
        if !(start_s.is_finite() && end_s.is_finite()) || start_s > end_s {
            return Err(crate::PlanError::TimeOutOfRange {
                seconds: if start_s.is_finite() { end_s } else { start_s },
                duration_s: self.inner.plan.duration_s(),
            }
            .into());
        }
        let at = |s: f64| crate::units::seconds_to_frames(s.max(0.0)).min(frames);
        let (a, b) = (at(start_s), at(end_s));
        let renderer = &self.inner.track.renderer;
        self.run(|| {
            let mut reader = renderer.source().reader()?;
            Ok(renderer.render_range(&mut reader, a, b)?)
        })
    }

    /// Chunk `index`'s mastered audio: interleaved 48 kHz `f32`, exactly its frames. Cached.
    pub fn chunk_pcm(&self, index: u64) -> Result<Vec<f32>, Error> {
        let (target, key) = self.prepare_request(index, None, None, Kind::Pcm)?;
        let _foreground = self.inner.engine.inner.prefetch.foreground();
        let (entry, _) = self.inner.engine.cache().get_or_compute(key, || {
            let pcm = target.run(|| {
                crate::pipeline::mastered_pcm(
                    &target.inner.track.renderer,
                    &target.inner.plan,
                    index,
                    &target.inner.mastering.params,
                )
            })?;
            Ok::<_, Error>(pcm_entry(&pcm))
        })?;
        let pcm = entry_pcm(&entry);
        self.note_level(index, rms_db(&pcm));
        Ok(pcm)
    }

    /// Chunk `index` as a WAV file (48 kHz, exactly its frames) in `format`. Made from the
    /// cached PCM ([`Self::chunk_pcm`]), so both formats share one cache entry.
    pub fn chunk_wav(&self, index: u64, format: WavFormat) -> Result<Vec<u8>, Error> {
        let pcm = self.chunk_pcm(index)?;
        let start = self.inner.plan.chunk(index)?.start_frame;
        let mut out = std::io::Cursor::new(Vec::new());
        write_wav(
            &mut out,
            self.info().channels,
            format,
            std::iter::once(Ok((start, pcm))),
        )?;
        Ok(out.into_inner())
    }

    /// Writes the whole mastered track as a WAV (48 kHz, exact length) in `format`, chunk by
    /// chunk through the chunk cache ([`Self::chunk_pcm`]): memory stays at one chunk, chunks
    /// already made are not made again, and the file's samples are exactly the chunks' samples
    /// joined (in either format).
    pub fn write_full_wav<W: Write + Seek>(&self, out: W, format: WavFormat) -> Result<(), Error> {
        let chunks = self
            .inner
            .plan
            .chunks()
            .map(|c| Ok((c.start_frame, self.chunk_pcm(c.index)?)));
        write_wav(out, self.info().channels, format, chunks)
    }

    /// The whole mastered track as one WAV file in memory (see [`Self::write_full_wav`]).
    pub fn full_wav(&self, format: WavFormat) -> Result<Vec<u8>, Error> {
        let mut out = std::io::Cursor::new(Vec::new());
        self.write_full_wav(&mut out, format)?;
        Ok(out.into_inner())
    }
}

impl Stream {
    /// Frames of the track on `rate`'s timeline (at [`OutputRate::Opus`], `info().frames`).
    pub fn frames_at(&self, rate: OutputRate) -> u64 {
        self.inner.track.renderer.frames_at(rate)
    }

    /// The rate in Hz of `rate`'s outputs for this track.
    pub fn rate_hz(&self, rate: OutputRate) -> u32 {
        self.inner.track.renderer.rate_hz(rate)
    }

    /// Frames `[start, end)` of `rate`'s timeline, mastered with the stream's settings:
    /// interleaved `f32` at [`Self::rate_hz`]. A pure function of the file, the settings, the
    /// rate and the range (see [`crate::units`]), kept in the engine's memory cache under all
    /// four, so a range asked for again (a seek back, a switch back to a preset) is served from
    /// memory (not written to the disk cache: a range costs less to make again than its size
    /// on disk, and its consumer keeps its own copy, see
    /// [`crate::cache::ChunkCache::get_or_compute_in_memory`]). The range is
    /// checked before any work: [`crate::DecodeError::RangeOutOfBounds`] past the track.
    pub fn pcm_range(&self, rate: OutputRate, start: u64, end: u64) -> Result<Vec<f32>, Error> {
        self.check_range_at(rate, start, end)?;
        let settings = &self.inner.settings;
        let key = self.inner.track.key(&format!(
            "pcm@{}/{}/range {start}-{end}",
            rate.name(),
            settings.mastering().key_part()
        ));
        let _foreground = self.inner.engine.inner.prefetch.foreground();
        // The request that computes the range hands its samples back as they are (no copy back
        // out of the entry).
        let mut computed = None;
        let (entry, _) = self
            .inner
            .engine
            .cache()
            .get_or_compute_in_memory(key, || {
                let pcm = self.run(|| {
                    let renderer = &self.inner.track.renderer;
                    let params = &self.inner.mastering.params;
                    let parts = range_parts(start, end, renderer.rate_hz(rate));
                    let pieces = crate::parallel::map_indexed(
                        parts.len(),
                        renderer.threads(),
                        || None,
                        |reader: &mut Option<crate::RangeReader>, i| {
                            let reader = match reader {
                                Some(r) => r,
                                None => reader.insert(renderer.source().reader()?),
                            };
                            let (a, b) = parts[i];
                            renderer.render_at(reader, rate, a, b, Some(params))
                        },
                    );
                    let mut pcm = Vec::with_capacity(
                        (end - start) as usize * usize::from(renderer.channels()),
                    );
                    for piece in pieces {
                        pcm.extend_from_slice(&piece?);
                    }
                    Ok(pcm)
                })?;
                let entry = pcm_entry(&pcm);
                computed = Some(pcm);
                Ok::<_, Error>(entry)
            })?;
        Ok(computed.unwrap_or_else(|| entry_pcm(&entry)))
    }

    /// Frames `[start, end)` of `rate`'s timeline unmastered (at the source rate: the decoded
    /// samples as they are). Not cached.
    pub fn original_range(
        &self,
        rate: OutputRate,
        start: u64,
        end: u64,
    ) -> Result<Vec<f32>, Error> {
        self.check_range_at(rate, start, end)?;
        let renderer = &self.inner.track.renderer;
        self.run(|| {
            let mut reader = renderer.source().reader()?;
            Ok(renderer.render_at(&mut reader, rate, start, end, None)?)
        })
    }

    /// Frames `[start, end)` of [`Self::pcm_range`] as a WAV file at [`Self::rate_hz`] in
    /// `format` (16-bit TPDF dither addressed by the position `start`, so a range's bytes do not
    /// depend on what was written before).
    pub fn wav_range(
        &self,
        rate: OutputRate,
        start: u64,
        end: u64,
        format: WavFormat,
    ) -> Result<Vec<u8>, Error> {
        let pcm = self.pcm_range(rate, start, end)?;
        let mut out = std::io::Cursor::new(Vec::new());
        crate::format::wav::write_wav_at(
            &mut out,
            self.rate_hz(rate),
            self.info().channels,
            format,
            std::iter::once(Ok((start, pcm))),
        )?;
        Ok(out.into_inner())
    }

    fn check_range_at(&self, rate: OutputRate, start: u64, end: u64) -> Result<(), Error> {
        Ok(self.inner.track.renderer.check_range_at(rate, start, end)?)
    }
}

/// Seconds of a [`Stream::pcm_range`] part: a range is mastered in parts of this length on the
/// renderer's threads, each from rest [`crate::units::WARMUP_SECONDS`] before it, on a grid that
/// starts at the range's start (so a range's samples depend on the range alone, not on the
/// thread count). A 10 s chunk is two parts of 3 + 5 s of work side by side instead of 13 s on
/// one core.
pub const RANGE_PART_SECONDS: u64 = 5;

/// The parts `[a, b)` of `[start, end)` at `rate_hz` (see [`RANGE_PART_SECONDS`]); one part for
/// an empty range.
fn range_parts(start: u64, end: u64, rate_hz: u32) -> Vec<(u64, u64)> {
    let step = RANGE_PART_SECONDS * u64::from(rate_hz);
    let mut parts = vec![];
    let mut a = start;
    loop {
        let b = a.saturating_add(step).min(end);
        parts.push((a, b));
        if b >= end {
            return parts;
        }
        a = b;
    }
}

/// Samples as a cache entry (little-endian `f32`s).
fn pcm_entry(pcm: &[f32]) -> CacheEntry {
    CacheEntry::new(
        pcm.iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

/// The samples of an entry made by [`pcm_entry`].
fn entry_pcm(entry: &CacheEntry) -> Vec<f32> {
    entry
        .bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

/// RMS over all samples in dBFS, [`SILENCE_DB`] at least.
pub fn rms_db(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return SILENCE_DB;
    }
    let mean = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / samples.len() as f64;
    (10.0 * mean.log10()).max(SILENCE_DB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_cut_in_parts_from_their_own_start() {
        assert_eq!(range_parts(7, 7, 100), vec![(7, 7)]);
        assert_eq!(range_parts(7, 507, 100), vec![(7, 507)]);
        assert_eq!(
            range_parts(7, 1_200, 100),
            vec![(7, 507), (507, 1_007), (1_007, 1_200)]
        );
    }

    #[test]
    fn rms_of_a_full_scale_square_is_0_db_and_silence_is_the_floor() {
        assert!(rms_db(&[1.0, -1.0, 1.0, -1.0]).abs() < 1e-12);
        assert!((rms_db(&[0.5; 8]) - 20.0 * 0.5f64.log10()).abs() < 1e-9);
        assert_eq!(rms_db(&[0.0; 8]), SILENCE_DB);
        assert_eq!(rms_db(&[]), SILENCE_DB);
    }
}
