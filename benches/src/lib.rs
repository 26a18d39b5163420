//! Holds the criterion benches of Auralis Core (see `benches/*.rs`); no library code.
