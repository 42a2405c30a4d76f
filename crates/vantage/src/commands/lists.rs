//! `vantage assets list`, `vantage findings list`, `vantage scopes list`: page through the
//! store and stream the rows to standard output.

use vantage_app::queries::{AssetQuery, FindingQuery};
use vantage_app::{AppError, Config};
use vantage_domain::query::MAX_PAGE_SIZE;
use vantage_domain::{Asset, AssetKind, Finding, Page, Priority, Scope, StatusFilter, VulnId};

use crate::cli::{AssetsCommand, FindingsCommand, Format, ScopesCommand};
use crate::output::{Printer, Row, opt};

fn rfc3339(t: &time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses a filter value given on the command line (bad value: exit code 2).
fn arg<T: std::str::FromStr>(v: Option<&str>) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    v.map(|s| s.parse::<T>().map_err(|e| AppError::Invalid(e.to_string())))
        .transpose()
}

/// Fetches pages through their cursors and streams every row, stopping after `limit` rows.
/// `fetch(page_size, cursor)` returns one page.
async fn print_all<T: Row>(
    format: Format,
    limit: Option<u64>,
    mut fetch: impl AsyncFnMut(u32, Option<String>) -> Result<Page<T>, AppError>,
) -> anyhow::Result<u64> {
    let mut printer = Printer::new::<T>(format, std::io::stdout().lock());
    let mut remaining = limit;
    let mut cursor = None;
    loop {
        let page = fetch(next_page_size(remaining), cursor.take()).await?;
        for row in &page.items {
            printer.row(row)?;
        }
        remaining = remaining.map(|r| r.saturating_sub(page.items.len() as u64));
        match page.next_cursor {
            Some(c) if remaining != Some(0) => cursor = Some(c),
            _ => break,
        }
    }
    Ok(printer.finish()?)
}

/// Page size to ask for, given how many rows remain wanted.
fn next_page_size(remaining: Option<u64>) -> u32 {
    remaining.map_or(MAX_PAGE_SIZE, |r| r.min(u64::from(MAX_PAGE_SIZE)) as u32)
}

impl Row for Finding {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "asset",
            "vulnerability",
            "priority",
            "status",
            "component",
            "installed",
            "fixed",
            "source",
            "first_detected",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.asset_name.clone(),
            self.vuln_id.to_string(),
            opt(&self.priority),
            self.status.to_string(),
            self.evidence.component.clone(),
            opt(&self.evidence.installed_version),
            opt(&self.evidence.fixed_version),
            self.evidence.source.clone(),
            rfc3339(&self.first_detected),
        ]
    }
}

impl Row for Asset {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "kind",
            "name",
            "os",
            "identifiers",
            "last_seen",
            "decommissioned_at",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let ids: Vec<String> = self
            .identifiers
            .iter()
            .map(|i| format!("{}:{}", i.kind, i.value))
            .collect();
        vec![
            self.id.to_string(),
            self.kind.to_string(),
            self.name.clone(),
            opt(&self.os),
            ids.join(" "),
            rfc3339(&self.last_seen),
            self.decommissioned_at
                .as_ref()
                .map(rfc3339)
                .unwrap_or_default(),
        ]
    }
}

impl Row for Scope {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "name",
            "exposure",
            "criticality",
            "frequency",
            "description",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.exposure.to_string(),
            self.criticality.to_string(),
            self.frequency.to_string(),
            self.description.clone(),
        ]
    }
}

/// `vantage findings list`.
pub async fn findings(config: Config, c: FindingsCommand) -> anyhow::Result<()> {
    let FindingsCommand::List(a) = c;
    let mut query = FindingQuery {
        scope: a.scope,
        asset: a.asset,
        priority: arg::<Priority>(a.priority.as_deref())?,
        status: a
            .status
            .parse::<StatusFilter>()
            .map_err(|e| AppError::Invalid(e.to_string()))?,
        cve: arg::<VulnId>(a.cve.as_deref())?,
        limit: None,
        cursor: None,
    };
    let app = super::open(config).await?;
    print_all(a.format.format, a.limit, async |limit, cursor| {
        query.limit = Some(limit);
        query.cursor = cursor;
        app.findings(&query, None).await
    })
    .await?;
    app.store.close().await;
    Ok(())
}

/// `vantage assets list`.
pub async fn assets(config: Config, c: AssetsCommand) -> anyhow::Result<()> {
    let AssetsCommand::List(a) = c;
    let mut query = AssetQuery {
        kind: arg::<AssetKind>(a.kind.as_deref())?,
        scope: a.scope,
        search: a.search,
        include_decommissioned: a.include_decommissioned,
        limit: None,
        cursor: None,
    };
    let app = super::open(config).await?;
    print_all(a.format.format, a.limit, async |limit, cursor| {
        query.limit = Some(limit);
        query.cursor = cursor;
        app.assets(&query, None).await
    })
    .await?;
    app.store.close().await;
    Ok(())
}

/// `vantage scopes list`.
pub async fn scopes(config: Config, c: ScopesCommand) -> anyhow::Result<()> {
    let ScopesCommand::List(f) = c;
    let app = super::open(config).await?;
    let mut printer = Printer::new::<Scope>(f.format, std::io::stdout().lock());
    for s in app.store.list_scopes().await? {
        printer.row(&s)?;
    }
    printer.finish()?;
    app.store.close().await;
    Ok(())
}
