//! The finding lifecycle's human side: triage decisions (accepted risk with an expiry and a
//! justification, false positive with a reason, reopening) and the expiry of acceptances — each
//! recorded in the audit trail with the status before and after.
//!
//! The scan side (new → open → fixed → reopened, dates, counts) is applied by the store where
//! findings are written (`upsert_findings`, `fix_findings`).

use time::OffsetDateTime;
use vantage_domain::{FindingId, FindingStatus, Triage};

use crate::{App, AppError};

impl App {
    /// Records a triage decision on a finding, audited as `finding.<decision>` with the status
    /// before and after, the reason and (for an acceptance) its expiry.
    pub async fn triage_finding(
        &self,
        id: FindingId,
        triage: &Triage,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<FindingStatus, AppError> {
        let (action, after, reason) = match triage {
            Triage::AcceptedRisk {
                until,
                justification,
            } => {
                if *until <= now {
                    return Err(AppError::Invalid(format!(
                        "an accepted risk needs an expiry in the future (got {until})"
                    )));
                }
                ("accept_risk", FindingStatus::AcceptedRisk, justification)
            }
            Triage::FalsePositive { reason } => {
                ("false_positive", FindingStatus::FalsePositive, reason)
            }
            Triage::Reopen { reason } => ("reopen", FindingStatus::Open, reason),
        };
        if reason.trim().is_empty() && !matches!(triage, Triage::Reopen { .. }) {
            return Err(AppError::Invalid(
                "a triage decision needs a reason (--reason)".into(),
            ));
        }
        let before = self
            .store
            .triage_finding(id, triage, actor, now)
            .await
            .map_err(|e| match e {
                vantage_store::StoreError::NotFound { .. } => {
                    AppError::NotFound(format!("finding {} does not exist", id.0))
                }
                e => e.into(),
            })?;
        let until = match triage {
            Triage::AcceptedRisk { until, .. } => format!(
                "; until {}",
                until
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            ),
            _ => String::new(),
        };
        self.store
            .record_audit(
                now,
                actor,
                &format!("finding.{action}"),
                ("finding", &id.0.to_string()),
                &format!("status {before} -> {after}{until}; reason: {reason}"),
            )
            .await?;
        Ok(before)
    }

    /// Raises a `finding_reopened` alert for every finding of these assets that the scan at
    /// `at` saw again after it had been fixed (a regression); returns how many.
    pub async fn alert_regressions(
        &self,
        assets: &[vantage_domain::AssetId],
        at: OffsetDateTime,
    ) -> Result<usize, AppError> {
        let reopened = self.store.reopened_at(assets, at).await?;
        for (id, asset, vuln, component) in &reopened {
            let subject = format!("{vuln} ({component})");
            let message = format!(
                "finding {} is back: {vuln} on {component} was fixed and a scan sees it again (a regression)",
                id.0
            );
            self.store
                .raise_alert(
                    &vantage_store::NewAlert {
                        kind: "finding_reopened",
                        severity: "high",
                        asset: Some(*asset),
                        subject: &subject,
                        message: &message,
                    },
                    at,
                )
                .await?;
        }
        Ok(reopened.len())
    }

    /// Accepted risks whose expiry passed become open again, each audited as
    /// `finding.acceptance_expired`; returns how many.
    pub async fn expire_acceptances(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let ids = self.store.expire_accepted_risks(now).await?;
        for id in &ids {
            self.store
                .record_audit(
                    now,
                    "system",
                    "finding.acceptance_expired",
                    ("finding", &id.0.to_string()),
                    "status accepted_risk -> open: the acceptance expired",
                )
                .await?;
        }
        Ok(ids.len())
    }
}
