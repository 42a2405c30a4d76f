//! List queries as people and API clients phrase them: scopes and assets by name, statuses and
//! priorities as words, cursors as opaque strings. Resolved here into store filters, with an
//! error that names the reference when it matches nothing.

use vantage_domain::query::page_size;
use vantage_domain::{
    Asset, AssetFilter, AssetId, AssetKind, Cursor, Finding, FindingFilter, Page, Priority,
    ScopeId, StatusFilter, VulnId,
};

use crate::app::App;
use crate::error::AppError;

/// A findings query with user-facing references.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    /// Scope name (or numeric id).
    pub scope: Option<String>,
    /// Asset reference: id, name or identifier.
    pub asset: Option<String>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Status filter (default: open).
    pub status: StatusFilter,
    /// Vulnerability id.
    pub cve: Option<VulnId>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
}

/// An assets query with user-facing references.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    /// Kind.
    pub kind: Option<AssetKind>,
    /// Scope name (or numeric id).
    pub scope: Option<String>,
    /// Name contains.
    pub search: Option<String>,
    /// Include decommissioned assets.
    pub include_decommissioned: bool,
    /// Page size.
    pub limit: Option<u32>,
    /// Opaque cursor.
    pub cursor: Option<String>,
}

impl App {
    /// Resolves a scope reference (name, or numeric id).
    pub async fn resolve_scope(&self, reference: &str) -> Result<ScopeId, AppError> {
        if let Some(s) = self.store.scope_by_name(reference).await? {
            return Ok(s.id);
        }
        if let Ok(id) = reference.trim().parse::<i64>()
            && let Some(s) = self.store.scope(ScopeId(id)).await?
        {
            return Ok(s.id);
        }
        Err(AppError::NotFound(format!(
            "no scope named `{reference}` (see `vantage scopes list`)"
        )))
    }

    /// Every finding a filter matches, read a page of 1,000 at a time (its `limit` and `cursor`
    /// are ignored).
    pub(crate) async fn all_findings(
        &self,
        mut filter: FindingFilter,
    ) -> Result<Vec<Finding>, AppError> {
        filter.limit = vantage_domain::query::MAX_PAGE_SIZE;
        filter.cursor = None;
        let mut all = Vec::new();
        loop {
            let page = self.store.list_findings(&filter).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => filter.cursor = decode_cursor(Some(&c))?,
                None => return Ok(all),
            }
        }
    }

    /// Resolves an asset reference (id, name or identifier) to exactly one asset.
    pub async fn resolve_asset(&self, reference: &str) -> Result<AssetId, AppError> {
        let ids = self.store.resolve_asset(reference).await?;
        match ids.as_slice() {
            [one] => Ok(*one),
            [] => Err(AppError::NotFound(format!(
                "no asset matches `{reference}`"
            ))),
            many => Err(AppError::Invalid(format!(
                "`{reference}` matches {} assets (ids {}); use an id",
                many.len(),
                many.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A page of findings; `visible` is the caller's scope restriction (`None`: all).
    pub async fn findings(
        &self,
        q: &FindingQuery,
        visible: Option<Vec<ScopeId>>,
    ) -> Result<Page<Finding>, AppError> {
        let filter = FindingFilter {
            scope: match &q.scope {
                Some(s) => Some(self.resolve_scope(s).await?),
                None => None,
            },
            asset: match &q.asset {
                Some(a) => Some(self.resolve_asset(a).await?),
                None => None,
            },
            priority: q.priority,
            status: q.status,
            vuln: q.cve.clone(),
            visible_scopes: visible,
            limit: page_size(q.limit),
            cursor: decode_cursor(q.cursor.as_deref())?,
        };
        Ok(self.store.list_findings(&filter).await?)
    }

    /// A page of assets; `visible` is the caller's scope restriction (`None`: all).
    pub async fn assets(
        &self,
        q: &AssetQuery,
        visible: Option<Vec<ScopeId>>,
    ) -> Result<Page<Asset>, AppError> {
        let filter = AssetFilter {
            kind: q.kind,
            scope: match &q.scope {
                Some(s) => Some(self.resolve_scope(s).await?),
                None => None,
            },
            search: q.search.clone().filter(|s| !s.trim().is_empty()),
            include_decommissioned: q.include_decommissioned,
            visible_scopes: visible,
            limit: page_size(q.limit),
            cursor: decode_cursor(q.cursor.as_deref())?,
        };
        Ok(self.store.list_assets(&filter).await?)
    }
}

pub(crate) fn decode_cursor(c: Option<&str>) -> Result<Option<Cursor>, AppError> {
    c.map(|c| Cursor::decode(c).map_err(|e| AppError::Invalid(e.to_string())))
        .transpose()
}
