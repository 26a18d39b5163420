//! Holds the command-line examples of Auralis Core (see `examples/*.rs`); no library code.
