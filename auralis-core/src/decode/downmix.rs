//! Channel mapping from the source layout to the output: mono stays mono, stereo stays stereo,
//! anything wider is folded down to stereo.
//!
//! Fold-down coefficients (ITU-R BS.775 style, then normalised so a full-scale signal in every
//! input channel cannot exceed full scale in the output):
//!
//! | input position | to L | to R |
//! |---|---|---|
//! | front left, front-left-centre, side/rear/top left | 1 (front) or 0.7071 (others) | 0 |
//! | front right, front-right-centre, side/rear/top right | 0 | 1 (front) or 0.7071 (others) |
//! | front/rear/top centre | 0.7071 | 0.7071 |
//! | LFE | 0 | 0 |
//!
//! Each output row is then divided by its sum of coefficients (5.1 gives
//! L = (FL + 0.7071·C + 0.7071·SL) / 2.414). The mastering stage sets the loudness afterwards, so
//! the attenuation costs nothing audible. Channels without positions (discrete layouts) alternate
//! L, R, L, R, ... with equal weights. Non-finite samples become 0 here, before any filter can
//! hold them in its state.

use symphonia::core::audio::{Channels, Position};

const SIDE: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// How source channels map to output channels.
#[derive(Debug, Clone)]
pub(crate) struct ChannelMap {
    in_channels: usize,
    out_channels: usize,
    /// Row-major `out_channels × in_channels` gains; unused for the identity map.
    gains: Vec<f32>,
    identity: bool,
}

impl ChannelMap {
    pub(crate) fn new(channels: &Channels) -> Self {
        let n = channels.count();
        if n <= 2 {
            return ChannelMap {
                in_channels: n,
                out_channels: n,
                gains: Vec::new(),
                identity: true,
            };
        }
        let per_channel: Vec<(f32, f32)> = match channels {
            Channels::Positioned(positions) => {
                // Buffers hold positioned channels in bit order, which is what `iter` yields.
                positions.iter().map(fold_gains).collect()
            }
            _ => (0..n)
                .map(|i| if i % 2 == 0 { (1.0, 0.0) } else { (0.0, 1.0) })
                .collect(),
        };
        let sum_l: f32 = per_channel.iter().map(|g| g.0).sum();
        let sum_r: f32 = per_channel.iter().map(|g| g.1).sum();
        let mut gains = vec![0.0; 2 * n];
        for (i, (l, r)) in per_channel.iter().enumerate() {
            gains[i] = if sum_l > 0.0 { l / sum_l } else { 0.0 };
            gains[n + i] = if sum_r > 0.0 { r / sum_r } else { 0.0 };
        }
        ChannelMap {
            in_channels: n,
            out_channels: 2,
            gains,
            identity: false,
        }
    }

    pub(crate) fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Maps interleaved source frames to interleaved output frames, appending to `out`.
    pub(crate) fn map_into(&self, input: &[f32], out: &mut Vec<f32>) {
        let clean = |x: f32| if x.is_finite() { x } else { 0.0 };
        if self.identity {
            out.extend(input.iter().map(|&x| clean(x)));
            return;
        }
        let n = self.in_channels;
        let (gl, gr) = self.gains.split_at(n);
        for frame in input.chunks_exact(n) {
            let mut l = 0.0f32;
            let mut r = 0.0f32;
            for ((&x, &a), &b) in frame.iter().zip(gl).zip(gr) {
                let x = clean(x);
                l += a * x;
                r += b * x;
            }
            out.push(l);
            out.push(r);
        }
    }
}

fn fold_gains(position: Position) -> (f32, f32) {
    let is = |p: Position| position == p;
    if is(Position::FRONT_LEFT) {
        (1.0, 0.0)
    } else if is(Position::FRONT_RIGHT) {
        (0.0, 1.0)
    } else if is(Position::LFE1) || is(Position::LFE2) {
        (0.0, 0.0)
    } else if [
        Position::FRONT_LEFT_CENTER,
        Position::REAR_LEFT,
        Position::SIDE_LEFT,
        Position::TOP_FRONT_LEFT,
        Position::TOP_REAR_LEFT,
        Position::TOP_SIDE_LEFT,
        Position::BOTTOM_FRONT_LEFT,
    ]
    .iter()
    .any(|p| is(*p))
    {
        (SIDE, 0.0)
    } else if [
        Position::FRONT_RIGHT_CENTER,
        Position::REAR_RIGHT,
        Position::SIDE_RIGHT,
        Position::TOP_FRONT_RIGHT,
        Position::TOP_REAR_RIGHT,
        Position::TOP_SIDE_RIGHT,
        Position::BOTTOM_FRONT_RIGHT,
    ]
    .iter()
    .any(|p| is(*p))
    {
        (0.0, SIDE)
    } else {
        // Centre positions and any position without a side.
        (SIDE, SIDE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_one_folds_to_normalised_stereo() {
        let layout = Channels::Positioned(
            Position::FRONT_LEFT
                | Position::FRONT_RIGHT
                | Position::FRONT_CENTER
                | Position::LFE1
                | Position::SIDE_LEFT
                | Position::SIDE_RIGHT,
        );
        let map = ChannelMap::new(&layout);
        assert_eq!(map.out_channels(), 2);
        let norm = 1.0 + 2.0 * SIDE;
        // One frame: FL=1, FR=0, C=1, LFE=1 (dropped), SL=0, SR=1.
        let mut out = Vec::new();
        map.map_into(&[1.0, 0.0, 1.0, 1.0, 0.0, 1.0], &mut out);
        assert!((out[0] - (1.0 + SIDE) / norm).abs() < 1e-6, "{out:?}");
        assert!((out[1] - (SIDE + SIDE) / norm).abs() < 1e-6, "{out:?}");
        // Full scale everywhere never exceeds full scale.
        out.clear();
        map.map_into(&[1.0; 6], &mut out);
        assert!(out.iter().all(|x| (*x - 1.0).abs() < 1e-6), "{out:?}");
    }

    #[test]
    fn mono_and_stereo_pass_through_and_non_finite_becomes_zero() {
        let map = ChannelMap::new(&Channels::Discrete(1));
        let mut out = Vec::new();
        map.map_into(&[0.5, f32::NAN, f32::INFINITY, -0.25], &mut out);
        assert_eq!(out, vec![0.5, 0.0, 0.0, -0.25]);
        assert_eq!(ChannelMap::new(&Channels::Discrete(2)).out_channels(), 2);
    }

    #[test]
    fn discrete_channels_alternate_left_right() {
        let map = ChannelMap::new(&Channels::Discrete(4));
        let mut out = Vec::new();
        map.map_into(&[1.0, 0.0, 1.0, 0.0], &mut out);
        assert_eq!(out, vec![1.0, 0.0]);
    }
}
