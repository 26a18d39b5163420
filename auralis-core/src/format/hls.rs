//! HLS media playlists over a stream's fragmented-MP4 chunks, for players that prefer HLS
//! (hls.js, Safari's and iOS's native players): `#EXT-X-MAP` names the init segment, one entry
//! per chunk names its media segment, and each `#EXTINF` is the chunk's exact duration (its
//! frames at 48 kHz, to the microsecond). Version 7, the first whose media playlists may
//! carry fragmented MP4.

use std::fmt::Write;

use crate::plan::ChunkPlan;

/// The MIME type of a playlist.
pub const MIME: &str = "application/vnd.apple.mpegurl";

/// A VOD media playlist of `plan`'s chunks: `init_uri` for `#EXT-X-MAP`, `segment_uri(index)`
/// for each chunk's media segment (URIs are written as given: relative ones resolve against the
/// playlist's own URL).
pub fn media_playlist(
    plan: &ChunkPlan,
    init_uri: &str,
    segment_uri: impl Fn(u64) -> String,
) -> String {
    let longest = plan.chunks().map(|c| c.duration_s()).fold(0.0, f64::max);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "#EXTM3U");
    let _ = writeln!(out, "#EXT-X-VERSION:7");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", longest.ceil() as u64);
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:0");
    let _ = writeln!(out, "#EXT-X-PLAYLIST-TYPE:VOD");
    let _ = writeln!(out, "#EXT-X-INDEPENDENT-SEGMENTS");
    let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", init_uri.replace('"', "%22"));
    for c in plan.chunks() {
        let _ = writeln!(out, "#EXTINF:{:.6},", c.duration_s());
        let _ = writeln!(out, "{}", segment_uri(c.index));
    }
    let _ = writeln!(out, "#EXT-X-ENDLIST");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_the_chunks_and_sum_to_the_track() {
        // 12.5 s and one frame in 5 s chunks.
        let plan = ChunkPlan::new(600_001, 5.0).unwrap();
        let text = media_playlist(&plan, "init.mp4", |i| format!("chunk_{i}.m4s"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert!(lines.contains(&"#EXT-X-TARGETDURATION:5"));
        assert!(lines.contains(&"#EXT-X-MAP:URI=\"init.mp4\""));
        let durations: Vec<f64> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| d.trim_end_matches(',').parse().unwrap())
            .collect();
        assert_eq!(durations, [5.0, 5.0, 2.500021]);
        assert_eq!(lines[lines.len() - 2], "chunk_2.m4s");
        assert_eq!(*lines.last().unwrap(), "#EXT-X-ENDLIST");
    }
}
