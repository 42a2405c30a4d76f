//! Exact decimal fixed point for the CVSS v2.0 and v3.x formulas.
//!
//! Every CVSS v2/v3 weight is a short decimal (`0.85`, `1.176`, `10.41` …), so products of a few
//! weights are exact in an `i128` with a decimal scale. The specifications' rounding ("round up to
//! one decimal", "round to one decimal") is then applied to the exact value, as FIRST intends and
//! as the reference implementations do with decimal arithmetic.

use std::cmp::Ordering;

/// `v / 10^s`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dec {
    v: i128,
    s: u32,
}

impl Dec {
    /// `v / 10^s`.
    pub const fn new(v: i128, s: u32) -> Dec {
        Dec { v, s }
    }

    /// An integer.
    pub const fn int(v: i128) -> Dec {
        Dec { v, s: 0 }
    }

    fn at(self, s: u32) -> i128 {
        debug_assert!(s >= self.s);
        self.v * 10i128.pow(s - self.s)
    }

    pub fn mul(self, o: Dec) -> Dec {
        Dec {
            v: self.v * o.v,
            s: self.s + o.s,
        }
    }

    pub fn add(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        Dec {
            v: self.at(s) + o.at(s),
            s,
        }
    }

    pub fn sub(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        Dec {
            v: self.at(s) - o.at(s),
            s,
        }
    }

    pub fn min(self, o: Dec) -> Dec {
        if self.cmp(o) == Ordering::Greater {
            o
        } else {
            self
        }
    }

    pub fn cmp(self, o: Dec) -> Ordering {
        let s = self.s.max(o.s);
        self.at(s).cmp(&o.at(s))
    }

    pub fn is_positive(self) -> bool {
        self.v > 0
    }

    pub fn to_f64(self) -> f64 {
        self.v as f64 / 10f64.powi(self.s as i32)
    }

    /// The value in tenths, rounded up (towards +∞): "Round up" of CVSS v3.
    pub fn ceil_tenths(self) -> i64 {
        if self.s == 0 {
            return (self.v * 10) as i64;
        }
        let q = 10i128.pow(self.s - 1);
        (-(-self.v).div_euclid(q)) as i64
    }

    /// The value in tenths, rounded half away from zero: "round to one decimal" of CVSS v2.
    pub fn round_tenths(self) -> i64 {
        if self.s == 0 {
            return (self.v * 10) as i64;
        }
        let q = 10i128.pow(self.s - 1);
        let half = q / 2 + q % 2; // q is a power of ten ≥ 1; for q = 1 there is nothing to round
        let magnitude = if q == 1 {
            self.v.abs()
        } else {
            (self.v.abs() + half) / q
        };
        (if self.v < 0 { -magnitude } else { magnitude }) as i64
    }
}

/// Rounds an `f64` score up to tenths, treating values within 1e-10 of a tenth as that tenth
/// (the only inexact term of CVSS v3 is the changed-scope power, whose float error is ~1e-15).
pub(crate) fn ceil_tenths_f64(x: f64) -> i64 {
    let t = x * 10.0;
    let r = t.round();
    if (t - r).abs() < 1e-9 {
        r as i64
    } else {
        t.ceil() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(Dec::new(402, 2).ceil_tenths(), 41);
        assert_eq!(Dec::new(400, 2).ceil_tenths(), 40);
        assert_eq!(Dec::new(4000001, 6).ceil_tenths(), 41);
        assert_eq!(Dec::new(45, 1).ceil_tenths(), 45);
        assert_eq!(Dec::int(10).ceil_tenths(), 100);
        assert_eq!(Dec::new(-15, 2).ceil_tenths(), -1);
        assert_eq!(Dec::new(445, 2).round_tenths(), 45);
        assert_eq!(Dec::new(444, 2).round_tenths(), 44);
        assert_eq!(Dec::new(-445, 2).round_tenths(), -45);
        assert_eq!(Dec::new(-17, 2).round_tenths(), -2);
        assert_eq!(Dec::new(7, 1).round_tenths(), 7);
        assert_eq!(ceil_tenths_f64(4.000000000001), 40);
        assert_eq!(ceil_tenths_f64(4.00001), 41);
    }

    #[test]
    fn arithmetic_is_exact() {
        // 0.1 + 0.2 == 0.3 exactly, unlike f64.
        let sum = Dec::new(1, 1).add(Dec::new(2, 1));
        assert_eq!(sum.cmp(Dec::new(3, 1)), Ordering::Equal);
        let p = Dec::new(85, 2).mul(Dec::new(77, 2));
        assert_eq!(p.cmp(Dec::new(6545, 4)), Ordering::Equal);
        assert!(Dec::new(1, 1).sub(Dec::new(2, 1)).cmp(Dec::int(0)) == Ordering::Less);
    }
}
