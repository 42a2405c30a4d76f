//! Query objects for lists: filters and keyset pagination, pure data that the store turns into
//! SQL. Lists are never paginated with OFFSET: a [`Cursor`] carries the last key seen.

use serde::{Deserialize, Serialize};

use crate::asset::AssetKind;
use crate::error::ParseError;
use crate::finding::{FindingStatus, Priority};
use crate::ids::{AssetId, ScopeId};
use crate::vulnerability::VulnId;

/// The largest page a list returns.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Which statuses a findings list includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StatusFilter {
    /// New, open and reopened findings: the live exposure.
    #[default]
    Open,
    /// Every status.
    All,
    /// Exactly one status.
    Only(FindingStatus),
}

impl std::str::FromStr for StatusFilter {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(StatusFilter::All),
            // `open` means the live exposure (new + open + reopened), the default of every list.
            "open" => Ok(StatusFilter::Open),
            _ => s
                .parse::<FindingStatus>()
                .map(StatusFilter::Only)
                .map_err(|_| ParseError::UnknownName {
                    what: "status",
                    value: s.to_string(),
                    expected: "open, all, new, fixed, reopened, accepted_risk, false_positive"
                        .into(),
                }),
        }
    }
}

impl StatusFilter {
    /// The statuses the filter admits.
    pub fn statuses(self) -> Vec<FindingStatus> {
        match self {
            StatusFilter::Open => vec![
                FindingStatus::New,
                FindingStatus::Open,
                FindingStatus::Reopened,
            ],
            StatusFilter::All => FindingStatus::ALL.to_vec(),
            StatusFilter::Only(s) => vec![s],
        }
    }
}

/// A position in a keyset-paginated list: the sort key of the last row of the previous page.
/// Findings are sorted by (asset id, finding id); assets by (0, asset id). Shown to clients as an
/// opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key of the last row returned.
    pub after: (i64, i64),
}

impl Cursor {
    /// The cursor after a row with this sort key.
    pub const fn after(group: i64, id: i64) -> Self {
        Cursor { after: (group, id) }
    }

    /// The opaque text form handed to clients.
    pub fn encode(self) -> String {
        format!("k{:x}.{:x}", self.after.0, self.after.1)
    }

    /// Parses the opaque form.
    pub fn decode(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::invalid("cursor", s, "not a cursor returned by this server");
        let (g, i) = s
            .strip_prefix('k')
            .and_then(|r| r.split_once('.'))
            .ok_or_else(bad)?;
        let g = i64::from_str_radix(g, 16).map_err(|_| bad())?;
        let i = i64::from_str_radix(i, 16).map_err(|_| bad())?;
        if g < 0 || i < 0 {
            return Err(bad());
        }
        Ok(Cursor::after(g, i))
    }
}

/// Clamps a requested page size to `1..=MAX_PAGE_SIZE`, defaulting when absent.
pub fn page_size(requested: Option<u32>) -> u32 {
    requested
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE)
}

/// Filters of a findings list. Every field narrows the list; `visible_scopes` is the access
/// rule of the caller (`None` = unrestricted) and applies on top of everything else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingFilter {
    /// Only findings on assets of this scope.
    pub scope: Option<ScopeId>,
    /// Only findings on this asset.
    pub asset: Option<AssetId>,
    /// Only findings of this priority.
    pub priority: Option<Priority>,
    /// Which statuses.
    pub status: StatusFilter,
    /// Only this vulnerability.
    pub vuln: Option<VulnId>,
    /// Access restriction: only assets in these scopes.
    pub visible_scopes: Option<Vec<ScopeId>>,
    /// Page size.
    pub limit: u32,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
}

/// Filters of an asset list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFilter {
    /// Only assets of this kind.
    pub kind: Option<AssetKind>,
    /// Only assets of this scope.
    pub scope: Option<ScopeId>,
    /// Only assets whose name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Include decommissioned assets.
    pub include_decommissioned: bool,
    /// Access restriction: only assets in these scopes.
    pub visible_scopes: Option<Vec<ScopeId>>,
    /// Page size.
    pub limit: u32,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor::after(42, 123_456);
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "k", "k12", "123", "kx.1", "k1.-5", "k-1.5", "k1.2.3"] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_filters_parse() {
        assert_eq!("all".parse::<StatusFilter>().unwrap(), StatusFilter::All);
        assert_eq!("open".parse::<StatusFilter>().unwrap().statuses().len(), 3);
        assert_eq!(
            "fixed".parse::<StatusFilter>().unwrap(),
            StatusFilter::Only(FindingStatus::Fixed)
        );
        assert!("closed".parse::<StatusFilter>().is_err());
    }

    #[test]
    fn page_sizes_are_clamped() {
        assert_eq!(page_size(None), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(5000)), MAX_PAGE_SIZE);
    }
}
