//! What a page played, against what it should have played: the expected audio and its
//! joins, the captured audio aligned to it, and the measures the tests hold them to.

use auralis_core::pipeline;

use super::*;

/// What a page should play: the mastered track (the reference for quality) and the decode of
/// the packets it appends (the reference for timing), with the chunk joins.
pub(crate) struct Expected {
    pub(crate) reference: Vec<f32>,
    pub(crate) decoded: Vec<f32>,
    pub(crate) joins: Vec<usize>,
    /// The most a join window may lie above the median window, dB.
    pub(crate) excess_limit: f64,
    /// Joins of two tracks (a queue's), measured against `baseline` instead of the median
    /// window: a track join is a discontinuity of the music, which costs any encoder more.
    pub(crate) track_joins: Vec<usize>,
    /// One continuous encode of the reference, decoded: what the music itself costs the codec.
    pub(crate) baseline: Option<Vec<f32>>,
}

/// What a recording shows against [`Expected`], once aligned.
pub(crate) struct Heard {
    pub(crate) offset: usize,
    /// Error against the mastered track over the whole recording, dB re signal.
    pub(crate) overall: f64,
    /// Error against the decoded packets, dB re signal.
    pub(crate) vs_decoded: f64,
    /// The worst join window's error above the median window's, dB (track joins aside).
    pub(crate) excess: f64,
    /// The worst track join window's error above the same window of a continuous encode, dB.
    pub(crate) track_excess: Option<f64>,
    /// The worst join window's (any join's) error above the same window of a continuous
    /// encode, dB.
    pub(crate) excess_over_baseline: Option<f64>,
    /// Per join, the best shift against the decoded packets just before and just after it.
    pub(crate) drift: Vec<(i64, i64)>,
    /// Whether the recording reaches a second past the last join.
    pub(crate) complete: bool,
}

impl Expected {
    pub(crate) fn new(f: &Fixture, dirs: &[&str]) -> Self {
        let source = auralis_core::Source::open(&f.wav).unwrap();
        let renderer = auralis_core::Renderer::new(source.clone());
        let mastering =
            auralis_core::Mastering::prepare(&source, auralis_core::Preset::Adaptive, None, 0)
                .unwrap();
        let plan = renderer.plan(5.0).unwrap();
        Expected {
            reference: pipeline::mastered_track(&renderer, &plan, &mastering.params).unwrap(),
            // What the browser should play, sample for sample: the packets of the chunks it
            // appends, from the files it fetches, through one libopus decoder.
            decoded: decode_played(f, dirs),
            joins: plan
                .chunks()
                .skip(1)
                .map(|c| c.start_frame as usize)
                .collect(),
            excess_limit: 3.0,
            track_joins: Vec::new(),
            baseline: None,
        }
    }

    /// Aligns a recording (interleaved stereo 48 kHz) and measures it.
    pub(crate) fn measure(&self, captured: &[f32]) -> Heard {
        let reference = &self.reference;
        let offset = align(captured, reference);
        let heard = &captured[offset * 2..(offset * 2 + reference.len()).min(captured.len())];
        let n = heard.len().min(reference.len()).min(self.decoded.len());
        let nsr = |want: &[f32]| {
            auralis_testkit::joins::nsr_db(&heard[..n], &want[..n], 2, 0, n / 2).unwrap()
        };
        // The recording must cover every join and a second after the last (its very end may be
        // cut when the page's last audio callbacks come late on a loaded machine).
        let complete = heard.len() >= 2 * (self.joins.last().unwrap() + 48_000);
        // The worst of `joins` against a continuous encode of the same audio, when there is one.
        let over_baseline = |joins: &[usize]| {
            self.baseline.as_ref().map(|baseline| {
                auralis_testkit::joins::worst_join_excess_over_baseline_db(
                    &heard[..n],
                    baseline,
                    &reference[..n],
                    2,
                    joins,
                )
            })
        };
        // Drift: where the audio just before and just after each join sits against the decoded
        // packets, once the whole recording is aligned (a gap or an overlap of k samples at a
        // join shows as k after it).
        let drift = if complete {
            self.joins
                .iter()
                .map(|&j| {
                    (
                        local_shift(heard, &self.decoded, j - 4800),
                        local_shift(heard, &self.decoded, j),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Heard {
            offset,
            overall: nsr(reference),
            vs_decoded: nsr(&self.decoded),
            excess: auralis_testkit::joins::worst_join_excess_db(
                &heard[..n],
                &reference[..n],
                2,
                &self
                    .joins
                    .iter()
                    .copied()
                    .filter(|j| !self.track_joins.contains(j))
                    .collect::<Vec<_>>(),
            ),
            track_excess: over_baseline(&self.track_joins),
            excess_over_baseline: over_baseline(&self.joins),
            drift,
            complete,
        }
    }
}

impl std::fmt::Display for Heard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "aligned at {}; error {:.1} dB re signal ({:.1} dB against the decoded packets); \
             worst join {:.2} dB above the median; shift before/after each join {:?} samples",
            self.offset, self.overall, self.vs_decoded, self.excess, self.drift
        )?;
        if let (Some(t), Some(a)) = (self.track_excess, self.excess_over_baseline) {
            write!(
                f,
                "; against a continuous encode: worst track join {t:.2} dB, worst join {a:.2} dB"
            )?;
        }
        Ok(())
    }
}

impl Heard {
    /// The criteria: the whole track heard, matching it, 0 samples of drift at every join, no
    /// join window worse than 3 dB above the median.
    pub(crate) fn assert_gapless(&self, label: &str, excess_limit: f64) {
        assert!(
            self.complete,
            "{label}: the recording does not reach past the last join"
        );
        assert!(
            self.overall < -15.0,
            "{label}: the recording does not match the track ({:.1} dB): misaligned?",
            self.overall
        );
        assert!(
            self.drift.iter().all(|&(a, b)| a == 0 && b == 0),
            "{label}: drift at a join (shift before/after each join): {:?} samples",
            self.drift
        );
        // With a continuous encode of the same audio to compare with (queues of real music,
        // whose windows differ more than a single excerpt's), every join is held to it;
        // otherwise to the median window.
        match self.excess_over_baseline {
            Some(a) => assert!(
                a <= excess_limit,
                "{label}: a join is {a:.2} dB above a continuous encode"
            ),
            None => assert!(
                self.excess <= excess_limit,
                "{label}: a join is {:.2} dB above the median error",
                self.excess
            ),
        }
    }
}

/// The packets of chunk `i` from render output `dirs[i]` (a WebM chunk file or an MP4 media
/// segment, as its manifest names it), decoded one after the other by one libopus decoder and
/// cut to the track's length.
pub(crate) fn decode_played(f: &Fixture, dirs: &[&str]) -> Vec<f32> {
    let mut packets = Vec::new();
    let mut frames = 0;
    for (index, dir) in dirs.iter().enumerate() {
        let dir = f.root.path().join(dir);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        frames = manifest["frames"].as_u64().unwrap() as usize;
        let entry = &manifest["chunks"][index];
        let bytes = std::fs::read(dir.join(entry["file"].as_str().unwrap())).unwrap();
        let chunk = if manifest["container"] == "mp4" {
            auralis_testkit::mp4::contiguous_packets(&bytes).unwrap().2
        } else {
            let init = manifest["init"]["bytes"].as_u64().unwrap() as usize;
            auralis_testkit::webm::media_segment_packets(&bytes[init..])
                .unwrap()
                .packets
        };
        packets.extend(chunk);
    }
    let mut out = auralis_testkit::decode_packets(&packets, 2);
    out.truncate(frames * 2);
    out
}

pub(crate) use auralis_testkit::joins::local_shift;
