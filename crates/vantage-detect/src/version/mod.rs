//! Version schemes with their exact ordering: each module implements one ecosystem's rules as
//! its own tool does.

pub mod apk;
pub mod dpkg;
pub mod rpm;

use std::cmp::Ordering;

use vantage_domain::Ecosystem;

/// Compares two versions under an ecosystem's rules; `None` when Vantage has no scheme for it
/// yet.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match ecosystem {
        Ecosystem::Deb => Some(dpkg::compare(a, b)),
        Ecosystem::Apk => Some(apk::compare(a, b)),
        Ecosystem::Rpm => Some(rpm::compare(a, b)),
        _ => None,
    }
}
