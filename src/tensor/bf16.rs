//! f32 <-> bf16 conversions, bit for bit what the device does (kernels/bf16.cuh): f32 to bf16
//! rounds to nearest, ties to even, with no flush of subnormals, finite values past the
//! largest bf16 become infinities, and every NaN becomes the canonical 0x7FFF that PTX's
//! `cvt.rn.bf16.f32` returns (the `half` crate would keep the payload instead). bf16 to f32 is
//! exact (the 16 bits are the top half of the f32).

use half::bf16;

/// The one NaN every conversion produces.
pub const CANONICAL_NAN: u16 = 0x7FFF;

/// `v` rounded to the nearest bf16, ties to even.
pub fn from_f32(v: f32) -> bf16 {
    bf16::from_bits(bits_from_f32(v))
}

/// The bits of `v` rounded to bf16: adding 0x7FFF plus the kept part's lowest bit carries
/// into the kept half exactly when the dropped half is above one half, or equal to it with
/// an odd kept part. A carry out of the mantissa increments the exponent, which turns the
/// largest finite values into infinity as rounding requires.
pub fn bits_from_f32(v: f32) -> u16 {
    if v.is_nan() {
        return CANONICAL_NAN;
    }
    let u = v.to_bits();
    // No overflow: the largest non-NaN pattern is 0xFF80_0000 (-inf).
    ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) as u16
}

/// The f32 holding exactly the value of `b`.
pub fn to_f32(b: bf16) -> f32 {
    f32::from_bits((b.to_bits() as u32) << 16)
}

/// One unit in the last place between two bf16 values of the same sign: the distance of
/// their bit patterns (used by the tests' "equal or 1 ulp" comparisons).
pub fn ulps_apart(a: bf16, b: bf16) -> u32 {
    let key = |x: bf16| {
        let u = x.to_bits() as i32;
        // Map sign-magnitude to a monotonic integer line (-0 and +0 meet at 0).
        if u & 0x8000 != 0 {
            -(u & 0x7FFF)
        } else {
            u
        }
    };
    key(a).abs_diff(key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(bits: u32) -> f32 {
        f32::from_bits(bits)
    }

    #[test]
    fn edge_values_round_to_nearest_even() {
        let cases: &[(u32, u16, &str)] = &[
            (0x0000_0000, 0x0000, "+0"),
            (0x8000_0000, 0x8000, "-0"),
            (0x7F80_0000, 0x7F80, "+inf"),
            (0xFF80_0000, 0xFF80, "-inf"),
            (0x3F80_0000, 0x3F80, "1 exact"),
            // Ties: exactly half an ulp goes to the even neighbour.
            (0x3F80_8000, 0x3F80, "1 + half ulp: tie to even (down)"),
            (0x3F81_8000, 0x3F82, "odd + half ulp: tie to even (up)"),
            (0xBF81_8000, 0xBF82, "negative odd tie (away from zero)"),
            (0xBF80_8000, 0xBF80, "negative even tie (toward zero)"),
            // Just off the tie.
            (0x3F80_8001, 0x3F81, "above the tie"),
            (0x3F81_7FFF, 0x3F81, "below the tie"),
            // Subnormals are rounded, not flushed.
            (0x0000_0001, 0x0000, "smallest f32 subnormal"),
            (0x0000_8000, 0x0000, "subnormal tie to even (0)"),
            (0x0001_8000, 0x0002, "subnormal tie to even (up)"),
            (0x0001_0000, 0x0001, "smallest bf16 subnormal"),
            (0x807F_FFFF, 0x8080, "largest negative subnormal rounds to -min normal"),
            // The largest finite bf16 and what lies beyond it.
            (0x7F7F_0000, 0x7F7F, "max finite bf16"),
            (0x7F7F_7FFF, 0x7F7F, "just under the overflow tie"),
            (0x7F7F_8000, 0x7F80, "overflow tie (odd) rounds to inf"),
            (0x7F7F_FFFF, 0x7F80, "max finite f32 rounds to +inf"),
            (0xFF7F_FFFF, 0xFF80, "-max finite f32 rounds to -inf"),
        ];
        for &(input, want, what) in cases {
            let got = bits_from_f32(f(input));
            assert_eq!(got, want, "{what}: {input:#010x} -> {got:#06x}, expected {want:#06x}");
        }
    }

    #[test]
    fn every_nan_becomes_the_canonical_nan() {
        for bits in [0x7FC0_0000u32, 0x7F80_0001, 0xFFFF_FFFF, 0x7FBF_FFFF, 0xFFC1_2345] {
            assert!(f(bits).is_nan());
            assert_eq!(bits_from_f32(f(bits)), CANONICAL_NAN, "{bits:#010x}");
        }
        assert!(to_f32(from_f32(f32::NAN)).is_nan());
    }

    #[test]
    fn agrees_with_the_half_crate_on_non_nan_values_and_widens_exactly() {
        // An independent implementation (the half crate's), on a spread of bit patterns.
        let mut u = 0x1234_5678u32;
        for _ in 0..200_000 {
            u ^= u << 13;
            u ^= u >> 17;
            u ^= u << 5;
            let v = f(u);
            if v.is_nan() {
                continue;
            }
            let ours = from_f32(v);
            assert_eq!(ours.to_bits(), bf16::from_f32(v).to_bits(), "{u:#010x}");
            assert_eq!(to_f32(ours).to_bits(), ours.to_f32().to_bits());
            // Round trip: bf16 -> f32 -> bf16 is the identity.
            assert_eq!(bits_from_f32(to_f32(ours)), ours.to_bits());
        }
    }

    #[test]
    fn ulps_count_across_zero() {
        let b = bf16::from_bits;
        assert_eq!(ulps_apart(b(0x3F80), b(0x3F81)), 1);
        assert_eq!(ulps_apart(b(0x0000), b(0x8000)), 0);
        assert_eq!(ulps_apart(b(0x0001), b(0x8001)), 2);
        assert_eq!(ulps_apart(b(0xBF81), b(0xBF80)), 1);
    }
}
