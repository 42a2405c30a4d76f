//! `vantage assets list`, `vantage findings list`, `vantage scopes list`: page through the
//! store and stream the rows to standard output.

use vantage_app::queries::{AssetQuery, FindingQuery};
use vantage_app::{AppError, Config};
use vantage_domain::query::MAX_PAGE_SIZE;
use vantage_domain::{Asset, AssetKind, Finding, Page, Priority, Scope, StatusFilter, VulnId};

use crate::cli::{AssetsCommand, FindingsCommand, Format, FormatArg, ScopesCommand};
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
            "score",
            "status",
            "component",
            "installed",
            "fixed",
            "source",
            "first_detected",
            "fixed_at",
            "reopened",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.asset_name.clone(),
            self.vuln_id.to_string(),
            opt(&self.priority),
            self.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            self.status.to_string(),
            self.evidence.component.clone(),
            opt(&self.evidence.installed_version),
            opt(&self.evidence.fixed_version),
            self.evidence.source.clone(),
            rfc3339(&self.first_detected),
            self.fixed_at.as_ref().map(rfc3339).unwrap_or_default(),
            self.lifecycle.reopen_count.to_string(),
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
            "priority_policy",
            "priority_model",
            "rules",
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
            self.priority_policy.clone(),
            self.priority_model.to_string(),
            self.rules
                .iter()
                .map(|r| match r {
                    vantage_domain::MembershipRule::IpRange(x) => format!("ip:{x}"),
                    vantage_domain::MembershipRule::Domain(x) => format!("domain:{x}"),
                    other => serde_json::to_string(other).unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            self.description.clone(),
        ]
    }
}

/// A finding shown with why it has its priority (`findings list --explain`).
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Explained(Finding);

impl Row for Explained {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "asset",
            "vulnerability",
            "priority",
            "score",
            "due",
            "explanation",
            "derived_vector",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let f = &self.0;
        let p = f.prioritization.as_ref();
        vec![
            f.id.to_string(),
            f.asset_name.clone(),
            f.vuln_id.to_string(),
            opt(&f.priority),
            f.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            p.and_then(|p| p.due).map(|d| date(&d)).unwrap_or_default(),
            {
                let mut e = p
                    .map(|p| p.result.explanation.clone())
                    .unwrap_or_else(|| "not prioritized yet (vantage findings prioritize)".into());
                // The attack-path verdict of the last `vantage paths` run.
                match f.lifecycle.on_attack_path {
                    Some(true) => e.push_str("; on an attack path to a critical asset"),
                    Some(false) => e.push_str("; no known attack path to a critical asset"),
                    None => {}
                }
                e
            },
            p.and_then(|p| p.result.derived_vector.clone())
                .unwrap_or_default(),
        ]
    }
}

fn date(t: &time::OffsetDateTime) -> String {
    t.date().to_string()
}

impl Row for vantage_domain::PriorityChange {
    fn headers() -> &'static [&'static str] {
        &[
            "changed_at",
            "from",
            "to",
            "old_score",
            "new_score",
            "explanation",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let score = |s: Option<f64>| s.map(|s| format!("{s:.1}")).unwrap_or_default();
        vec![
            rfc3339(&self.changed_at),
            opt(&self.old_priority),
            self.new_priority.to_string(),
            score(self.old_score),
            score(self.new_score),
            self.explanation.clone(),
        ]
    }
}

impl Row for vantage_app::prioritize::PrioritizeReport {
    fn headers() -> &'static [&'static str] {
        &[
            "contexts",
            "changed",
            "priority_changes",
            "findings_updated",
            "findings_attached",
            "assets_reprofiled",
            "seconds",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.contexts.to_string(),
            self.contexts_changed.to_string(),
            self.priority_changes.to_string(),
            self.findings_updated.to_string(),
            self.findings_attached.to_string(),
            self.assets_reprofiled.to_string(),
            format!("{:.2}", self.seconds),
        ]
    }
}

/// `vantage findings …`.
pub async fn findings(config: Config, c: FindingsCommand) -> anyhow::Result<()> {
    let a = match c {
        FindingsCommand::List(a) => a,
        c @ (FindingsCommand::Accept { .. }
        | FindingsCommand::FalsePositive { .. }
        | FindingsCommand::Reopen { .. }) => return super::continuous::triage(config, c).await,
        FindingsCommand::Prioritize { format } => {
            let app = super::open(config).await?;
            let report = app.run_prioritize_job("cli").await?;
            let mut printer = Printer::new::<vantage_app::prioritize::PrioritizeReport>(
                format,
                std::io::stdout().lock(),
            );
            printer.row(&report)?;
            printer.finish()?;
            app.store.close().await;
            return Ok(());
        }
        FindingsCommand::History { id, format } => {
            let app = super::open(config).await?;
            let fid = vantage_domain::FindingId(id);
            if app.store.finding(fid).await?.is_none() {
                return Err(AppError::NotFound(format!("finding {id}")).into());
            }
            let mut printer = Printer::new::<vantage_domain::PriorityChange>(
                format.format,
                std::io::stdout().lock(),
            );
            for h in app.store.priority_history(fid).await? {
                printer.row(&h)?;
            }
            printer.finish()?;
            app.store.close().await;
            return Ok(());
        }
    };
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
    if a.explain {
        print_all(a.format.format, a.limit, async |limit, cursor| {
            query.limit = Some(limit);
            query.cursor = cursor;
            let page = app.findings(&query, None).await?;
            Ok(Page {
                items: page.items.into_iter().map(Explained).collect(),
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    } else {
        print_all(a.format.format, a.limit, async |limit, cursor| {
            query.limit = Some(limit);
            query.cursor = cursor;
            app.findings(&query, None).await
        })
        .await?;
    }
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
    let f = match c {
        ScopesCommand::List(f) => f,
        ScopesCommand::Apply { file, format } => {
            return super::continuous::apply_scopes(config, &file, format.format).await;
        }
        ScopesCommand::Create {
            name,
            ranges,
            domains,
            exposure,
            criticality,
            decommission_after,
            description,
            frequency,
            collect,
        } => {
            let frequency = vantage_app::schedule::parse_frequency(&frequency)?;
            let collectors = collect
                .iter()
                .map(|c| match c.as_str() {
                    "network" => Ok(vantage_domain::Collector::Network {
                        ports: None,
                        service_detection: true,
                    }),
                    "ssh" => Ok(vantage_domain::Collector::Ssh { concurrency: None }),
                    "external" => Ok(vantage_domain::Collector::External {
                        options: serde_json::Value::Null,
                    }),
                    other => Err(AppError::Invalid(format!(
                        "--collect `{other}`: expected network, ssh or external (cloud and images \
                         take options: use `vantage scopes apply`)"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let exposure = arg::<vantage_domain::ExposureClass>(Some(exposure.as_str()))?
                .expect("a default is given");
            let mut rules: Vec<vantage_domain::MembershipRule> = ranges
                .into_iter()
                .map(vantage_domain::MembershipRule::IpRange)
                .collect();
            rules.extend(
                domains
                    .into_iter()
                    .map(vantage_domain::MembershipRule::Domain),
            );
            let app = super::open(config).await?;
            let s = app
                .create_scope(
                    &vantage_store::NewScope {
                        description,
                        rules,
                        exposure,
                        criticality,
                        decommission_after,
                        frequency,
                        collectors,
                        ..vantage_store::NewScope::named(name)
                    },
                    "cli",
                )
                .await;
            app.store.close().await;
            let s = s?;
            use std::io::Write;
            writeln!(std::io::stdout(), "scope {} created (id {})", s.name, s.id)?;
            return Ok(());
        }
        ScopesCommand::SetPriority {
            scope,
            policy,
            model,
        } => {
            let model = arg::<vantage_domain::PriorityModel>(model.as_deref())?;
            let app = super::open(config).await?;
            let s = app
                .set_scope_priority(&scope, policy.as_deref(), model, "cli")
                .await?;
            use std::io::Write;
            writeln!(
                std::io::stdout(),
                "scope {}: priority policy {}, model {}",
                s.name,
                s.priority_policy,
                s.priority_model
            )?;
            let r = app.run_prioritize_job("cli").await?;
            writeln!(
                std::io::stdout(),
                "prioritized: {} of {} contexts changed, {} findings updated",
                r.contexts_changed,
                r.contexts,
                r.findings_updated
            )?;
            app.store.close().await;
            return Ok(());
        }
        ScopesCommand::AddSshTarget {
            scope,
            target,
            credential,
            jump,
            jump_credential,
            sudo,
        } => {
            let endpoint = vantage_scan::remote::SshEndpoint::parse(&target)
                .map_err(vantage_app::AppError::Invalid)?;
            let jump = jump
                .map(|j| vantage_scan::remote::SshEndpoint::parse(&j))
                .transpose()
                .map_err(vantage_app::AppError::Invalid)?;
            let app = super::open(config).await?;
            let t = app
                .add_ssh_target(
                    &scope,
                    &endpoint,
                    &credential,
                    jump.as_ref().zip(jump_credential.as_deref()),
                    &sudo,
                    "cli",
                )
                .await;
            app.store.close().await;
            let t = t?;
            use std::io::Write;
            writeln!(
                std::io::stdout(),
                "scope {scope}: SSH target {} added (credential {}, sudo {})",
                t.endpoint,
                t.credential,
                t.sudo
            )?;
            return Ok(());
        }
        ScopesCommand::SshTargets { scope, format } => {
            let app = super::open(config).await?;
            let targets = app.ssh_targets(&scope).await;
            app.store.close().await;
            let mut printer = Printer::new::<SshTargetRow>(format.format, std::io::stdout().lock());
            for t in targets? {
                printer.row(&SshTargetRow(t))?;
            }
            printer.finish()?;
            return Ok(());
        }
    };
    let app = super::open(config).await?;
    let mut printer = Printer::new::<Scope>(f.format, std::io::stdout().lock());
    for s in app.store.list_scopes().await? {
        printer.row(&s)?;
    }
    printer.finish()?;
    app.store.close().await;
    Ok(())
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct SshTargetRow(vantage_store::SshTarget);

impl Row for SshTargetRow {
    fn headers() -> &'static [&'static str] {
        &["target", "credential", "jump", "jump credential", "sudo"]
    }
    fn cells(&self) -> Vec<String> {
        let t = &self.0;
        vec![
            t.endpoint.clone(),
            t.credential.clone(),
            opt(&t.jump),
            opt(&t.jump_credential),
            t.sudo.clone(),
        ]
    }
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct AlertRow(vantage_store::Alert);

impl Row for AlertRow {
    fn headers() -> &'static [&'static str] {
        &["id", "at", "severity", "kind", "subject", "message"]
    }
    fn cells(&self) -> Vec<String> {
        let a = &self.0;
        vec![
            a.id.to_string(),
            a.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            a.severity.clone(),
            a.kind.clone(),
            a.subject.clone(),
            a.message.clone(),
        ]
    }
}

/// `vantage alerts`.
pub async fn alerts(config: Config, limit: u32, f: FormatArg) -> anyhow::Result<()> {
    let app = super::open(config).await?;
    let alerts = app.store.alerts(limit).await;
    app.store.close().await;
    let mut printer = Printer::new::<AlertRow>(f.format, std::io::stdout().lock());
    for a in alerts? {
        printer.row(&AlertRow(a))?;
    }
    printer.finish()?;
    Ok(())
}
