//! Writes a long MP3 made from the corpus for memory and speed measurements:
//! `cargo run --release -p auralis-benches --example make_long_mp3 -- MINUTES OUT.mp3`
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(minutes), Some(out)) = (args.get(1).and_then(|m| m.parse::<f64>().ok()), args.get(2))
    else {
        eprintln!("usage: make_long_mp3 MINUTES OUT.mp3");
        std::process::exit(2);
    };
    let Some(corpus) = auralis_benches::corpus() else {
        eprintln!("error: the corpus (../shared/corpus or $AURALIS_CORPUS) is needed as the seed");
        std::process::exit(1);
    };
    match auralis_benches::make_long_mp3(
        &corpus.join("sad_44s.mp3"),
        minutes,
        std::path::Path::new(out),
    ) {
        Ok(path) => println!("wrote {}", path.display()),
        Err(e) => {
            eprintln!("error: {out}: {e}");
            std::process::exit(1);
        }
    }
}
