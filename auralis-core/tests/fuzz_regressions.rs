//! Inputs found by the fuzz targets (`fuzz/`), checked in under `tests/fuzz-regressions/`, with
//! the property each one broke.

use auralis_core::Source;

fn input(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(source: &Source, warm: Option<(u64, u64)>, start: u64, end: u64) -> Vec<f32> {
    let mut reader = source.reader().unwrap();
    if let Some((a, b)) = warm {
        reader.read(a, b, |_| {}).unwrap();
    }
    let mut out = Vec::new();
    reader
        .read(start, end, |block| out.extend_from_slice(block))
        .unwrap();
    out
}

#[test]
fn range_read_mp3_is_the_same_after_an_earlier_read() {
    let data = input("range_read_mp3_after_warm_read.bin");
    let source = Source::from_bytes(data[8..].to_vec(), Some("mp3")).unwrap();
    eprintln!("{:?}", source.info());
    let fresh = read(&source, None, 9140, 11425);
    let after = read(&source, Some((457, 4553)), 9140, 11425);
    let diff = fresh
        .iter()
        .zip(&after)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let first = fresh.iter().zip(&after).position(|(a, b)| a != b);
    assert!(
        fresh == after,
        "max diff {diff}, first differing sample {first:?}"
    );
}

#[test]
fn a_vorbis_setup_header_the_decoder_panics_on_is_a_malformed_file() {
    // A Matroska file whose Vorbis codebooks make symphonia's codebook parser index out of
    // bounds (a panic inside the dependency): the library reports a malformed file.
    let data = input("decode_probe_vorbis_codebook_in_mka.bin");
    let err = Source::from_bytes(data[1..].to_vec(), Some("mka")).unwrap_err();
    assert_eq!(
        auralis_core::Error::from(err).kind(),
        auralis_core::ErrorKind::Decode
    );
}
