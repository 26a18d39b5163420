//! Queues' levels: crossfades that hold loudness and ceiling, album gain against track gain,
//! tags read from FLAC, MP3 and M4A, and what the mastering made of each item, against EBU R 128
//! measurements of the queue's own audio.

mod common;

use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
use auralis_core::{MasteringSettings, Preset};
use common::queues::*;
use common::streams::{memory_engine, settings};

#[test]
fn a_six_second_crossfade_between_a_quiet_and_a_loud_track_holds_its_loudness_and_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 20.0, 0.12, 7);
    let loud = steady_track(dir.path(), "loud.wav", 20.0, 0.9, 8);
    let source_difference = {
        let q = auralis_core::Source::open(&quiet).unwrap();
        let l = auralis_core::Source::open(&loud).unwrap();
        let r = |s: auralis_core::Source| {
            let r = auralis_core::Renderer::new(s);
            let mut reader = r.source().reader().unwrap();
            r.render_range(&mut reader, 0, r.frames()).unwrap()
        };
        integrated(&r(l)) - integrated(&r(q))
    };
    let engine = memory_engine();
    let queue = Queue::open(
        &engine,
        &items(&[quiet, loud]),
        &[Join::Crossfade { seconds: 6.0 }],
        settings(Preset::Adaptive),
        GainMode::Track,
    )
    .unwrap();
    let places = queue.places();
    assert_eq!(places[1].fade_in_frames, 288_000);
    assert_eq!(
        queue.frames(),
        places[0].frames + places[1].frames - 288_000
    );
    let mix = queue.pcm(0, queue.frames() as i64).unwrap();
    let (fade_start, fade_end) = (
        places[1].start_frame as usize,
        (places[1].start_frame + places[1].fade_in_frames) as usize,
    );
    // The level before and after the fade (2 s windows away from it), then every 100 ms in it.
    let before = momentary(&mix, fade_start - 48_000);
    let after = momentary(&mix, fade_end + 48_000);
    let through: Vec<f64> = (fade_start..=fade_end)
        .step_by(4_800)
        .map(|f| momentary(&mix, f))
        .collect();
    let worst = through
        .iter()
        .map(|&l| (l - before).abs().max((l - after).abs()))
        .fold(0.0, f64::max);
    let peak = auralis_testkit::true_peak_oversampled_dbtp(&mix, 2, 48_000, 4);
    let ceiling = queue.item_stream(0).unwrap().mastering().ceiling_dbtp;
    println!(
        "crossfade 6 s, sources {source_difference:.1} LU apart: before {before:.2} LUFS, after \
         {after:.2} LUFS, worst momentary in the fade {worst:.2} LU from either; true peak \
         {peak:.2} dBTP (ceiling {ceiling:.2})"
    );
    assert!(source_difference > 10.0, "{source_difference}");
    assert!(worst <= 1.5, "{through:?}");
    assert!(peak <= ceiling + 0.1, "{peak} dBTP");
}

#[test]
fn album_gain_keeps_the_loudness_difference_of_an_albums_tracks_and_track_gain_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 12.0, 0.2, 11);
    let loud = steady_track(dir.path(), "loud.wav", 12.0, 0.6, 12);
    let sources: Vec<f64> = [&quiet, &loud]
        .iter()
        .map(|p| {
            let r = auralis_core::Renderer::new(auralis_core::Source::open(p).unwrap());
            let mut reader = r.source().reader().unwrap();
            integrated(&r.render_range(&mut reader, 0, r.frames()).unwrap())
        })
        .collect();
    let source_difference = sources[1] - sources[0];
    let measure = |mode: GainMode| {
        let items: Vec<QueueItem> = [&quiet, &loud]
            .iter()
            .map(|p| QueueItem {
                path: (*p).clone(),
                mastering: MasteringSettings::new(Preset::Gentle, 1.0),
                album: Some("one album".into()),
            })
            .collect();
        let queue = Queue::open(
            &memory_engine(),
            &items,
            &[Join::Gapless],
            settings(Preset::Gentle),
            mode,
        )
        .unwrap();
        let p = queue.places();
        let level = |i: usize| {
            let a = p[i].start_frame as i64;
            integrated(&queue.pcm(a, a + p[i].frames as i64).unwrap())
        };
        (level(1) - level(0), p[0].gain_db, p[1].gain_db)
    };
    let (album, ag0, ag1) = measure(GainMode::Album);
    let (track, tg0, tg1) = measure(GainMode::Track);
    println!(
        "sources {source_difference:.2} LU apart; album mode {album:.2} LU (gains {ag0:.2}, \
         {ag1:.2} dB); track mode {track:.2} LU (gains {tg0:.2}, {tg1:.2} dB)"
    );
    assert!(source_difference > 8.0);
    assert_eq!(ag0, ag1, "one album, one gain");
    assert!(
        (album - source_difference).abs() <= 0.5,
        "album mode: {album}"
    );
    assert!(track.abs() <= 1.0, "track mode: {track}");
}

#[test]
fn tags_are_read_from_flac_mp3_and_m4a_and_album_gain_takes_the_album_from_them() {
    if !common::required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 8.0, 0.15, 21);
    let loud = steady_track(dir.path(), "loud.wav", 8.0, 0.6, 22);
    let album = [("album", "Quiet and Loud"), ("album_artist", "The Band")];
    let mut files = Vec::new();
    for (wav, ext, title, track) in [
        (&quiet, "flac", "Hush", "1"),
        (&loud, "mp3", "Roar", "2"),
        (&quiet, "m4a", "Hush Again", "3"),
    ] {
        let out = dir.path().join(format!("{title}.{ext}"));
        let mut tags = vec![
            ("title", title),
            ("artist", "Someone"),
            ("track", track),
            ("disc", "1"),
        ];
        tags.extend_from_slice(&album);
        tagged(wav, &out, &tags);
        let t = auralis_core::Source::open(&out).unwrap().tags().clone();
        assert_eq!(t.title.as_deref(), Some(title), "{ext}: {t:?}");
        assert_eq!(t.artist.as_deref(), Some("Someone"), "{ext}: {t:?}");
        assert_eq!(t.album.as_deref(), Some("Quiet and Loud"), "{ext}: {t:?}");
        assert_eq!(t.track, Some(track.parse().unwrap()), "{ext}: {t:?}");
        println!("{ext}: {t:?}");
        files.push(out);
    }
    // One album by its tags, one file of another: album gain shares the first two's gain only.
    let other = dir.path().join("other.flac");
    tagged(&loud, &other, &[("album", "Elsewhere")]);
    let queue = Queue::open(
        &memory_engine(),
        &items(&[files[0].clone(), files[1].clone(), other]),
        &[Join::Gapless, Join::Gapless],
        settings(Preset::Gentle),
        GainMode::Album,
    )
    .unwrap();
    let gains: Vec<f64> = queue.places().iter().map(|p| p.gain_db).collect();
    println!("album gain from tags: {gains:?}");
    assert_eq!(gains[0], gains[1]);
    assert_ne!(gains[1], gains[2]);
}

/// What the mastering did, measured (the player's "before → after"): the output analysis of
/// each item matches the loudness of its mastered audio measured whole (ebur128), in track and
/// album mode, and stays under the ceiling.
#[test]
fn item_output_analysis_measures_the_mastered_audio() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 20.0, 0.12, 7);
    let loud = steady_track(dir.path(), "loud.wav", 20.0, 0.9, 8);
    let engine = memory_engine();
    let list: Vec<QueueItem> = [quiet, loud]
        .into_iter()
        .map(|p| QueueItem {
            album: Some("one".into()),
            ..QueueItem::new(p)
        })
        .collect();
    for gain in [GainMode::Track, GainMode::Album] {
        let s = settings(Preset::Adaptive);
        let queue = Queue::open(&engine, &list, &[Join::Gapless], s, gain).unwrap();
        for (i, p) in queue.places().iter().enumerate() {
            let after = queue.item_output_analysis(i).unwrap();
            let before = queue.item_stream(i).unwrap().analysis().clone();
            let whole = queue
                .pcm(p.start_frame as i64, (p.start_frame + p.frames) as i64)
                .unwrap();
            let measured = integrated(&whole);
            println!(
                "{gain:?}, item {i}: before {:.2} LUFS, {:.2} dBTP; after {:.2} LUFS, {:.2} dBTP; \
                 the whole mastered item {measured:.2} LUFS",
                before.integrated_lufs,
                before.true_peak_dbtp,
                after.integrated_lufs,
                after.true_peak_dbtp
            );
            assert!((after.integrated_lufs - measured).abs() <= 0.5);
            let ceiling = queue.item_stream(i).unwrap().mastering().ceiling_dbtp;
            assert!(
                after.true_peak_dbtp <= ceiling + 0.2,
                "{}",
                after.true_peak_dbtp
            );
        }
    }
    let queue = Queue::open(
        &engine,
        &list,
        &[Join::Gapless],
        settings(Preset::Adaptive),
        GainMode::Track,
    )
    .unwrap();
    let e = queue.item_output_analysis(2).unwrap_err();
    assert_eq!(e.kind(), auralis_core::ErrorKind::InvalidArgument);
}
