//! The metric tables that drive parsing and printing: one [`Spec`] per version.

use std::ops::Range;

/// The most metrics a version defines (v4.0: 32).
pub(crate) const MAX_METRICS: usize = 32;

/// One metric: abbreviation, full name and allowed values in the specification's order.
pub(crate) struct Metric {
    pub abbr: &'static str,
    pub name: &'static str,
    pub values: &'static [&'static str],
}

/// A version's metric table. Metrics are listed in the specification's vector-string order; the
/// first `mandatory` are the base metrics.
pub(crate) struct Spec {
    pub metrics: &'static [Metric],
    pub mandatory: usize,
    /// The temporal (v2/v3) or threat (v4) metrics.
    pub temporal: Range<usize>,
    /// The environmental metrics.
    pub environmental: Range<usize>,
    /// The "not defined" value (`X`, or `ND` in v2.0).
    pub not_defined: &'static str,
    /// Metric abbreviation → index (a `match`, faster than a scan of the table).
    pub lookup: fn(&str) -> Option<usize>,
}

impl Spec {
    /// The value text of a raw metric slot (0 = absent).
    pub fn value(&self, index: usize, raw: u8) -> Option<&'static str> {
        (raw != 0).then(|| self.metrics[index].values[usize::from(raw - 1)])
    }

    /// Whether a raw slot holds the "not defined" value.
    pub fn is_not_defined(&self, index: usize, raw: u8) -> bool {
        self.value(index, raw) == Some(self.not_defined)
    }
}

/// Scores in tenths (0–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tenths {
    pub base: u8,
    pub temporal: Option<u8>,
    pub environmental: Option<u8>,
    pub score: u8,
}

/// Shorthand for table entries.
pub(crate) const fn m(
    abbr: &'static str,
    name: &'static str,
    values: &'static [&'static str],
) -> Metric {
    Metric { abbr, name, values }
}
