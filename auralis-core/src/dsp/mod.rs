//! Signal processing shared by the analysis, the mastering chain, the renderer and the
//! queue, on the ground floor: it uses nothing of the crate above it.
//!
//! - [`loudness`]: BS.1770 loudness (momentary blocks, integrated, range) and true peak;
//! - [`crossfade`]: the fade curves of transitions and queue joins;
//! - `biquads`: biquad cascades over several channels at once;
//! - `true_peak`: the 4× oversampled peak detector the limiter and the meter share.

pub(crate) mod biquads;
pub mod crossfade;
pub mod loudness;
pub(crate) mod true_peak;
