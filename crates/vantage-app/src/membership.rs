//! Scope membership by rules: a discovered asset joins every scope whose rules it matches — an
//! IP range holding one of its addresses (public or private), a domain it is or is under, its
//! cloud account (`aws:123456789012`, optionally `/us-east-1`), a tag, its kind, or its name.
//! Cloud and external discovery call this for every asset they store, so a new instance in a
//! production account is in the Production scope the moment it is listed. Membership is only
//! added here; removing an asset from a scope is an explicit act.

use std::collections::BTreeMap;
use std::net::IpAddr;

use vantage_domain::{AssetId, AssetKind, MembershipRule, Scope, ScopeId, Tag};
use vantage_scan::targets::AddrRange;

use crate::app::App;
use crate::error::AppError;

/// What the rules look at.
#[derive(Debug, Clone, Default)]
pub struct MemberFacts {
    /// Kind.
    pub kind: Option<AssetKind>,
    /// Display name.
    pub name: String,
    /// Every address (public and private).
    pub ips: Vec<IpAddr>,
    /// DNS names.
    pub fqdns: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// (provider, account, region) for cloud resources.
    pub cloud: Option<(String, String, String)>,
}

/// A scope's rules, parsed once.
struct CompiledScope {
    id: ScopeId,
    name: String,
    rules: Vec<Compiled>,
}

enum Compiled {
    Range(AddrRange),
    Domain(String),
    Cloud(String, String, Option<String>),
    Tag(Tag),
    Kind(AssetKind),
    Asset(String),
}

fn compile(s: &Scope) -> CompiledScope {
    let rules = s
        .rules
        .iter()
        .filter_map(|r| {
            Some(match r {
                // A range that does not parse was refused when the scope was created.
                MembershipRule::IpRange(x) => Compiled::Range(AddrRange::parse(x).ok()?),
                MembershipRule::Domain(d) => {
                    Compiled::Domain(d.trim().trim_end_matches('.').to_ascii_lowercase())
                }
                MembershipRule::CloudAccount(a) => {
                    let (acct, region) = match a.split_once('/') {
                        Some((x, r)) => (x, Some(r.trim().to_string())),
                        None => (a.as_str(), None),
                    };
                    let (provider, account) = acct.split_once(':')?;
                    Compiled::Cloud(
                        provider.trim().to_ascii_lowercase(),
                        account.trim().to_string(),
                        region,
                    )
                }
                MembershipRule::Tag(t) => Compiled::Tag(t.clone()),
                MembershipRule::Kind(k) => Compiled::Kind(*k),
                MembershipRule::Asset(n) => Compiled::Asset(n.clone()),
            })
        })
        .collect();
    CompiledScope {
        id: s.id,
        name: s.name.clone(),
        rules,
    }
}

fn matches(rule: &Compiled, f: &MemberFacts) -> bool {
    match rule {
        Compiled::Range(r) => f.ips.iter().any(|ip| r.contains(*ip)),
        Compiled::Domain(d) => f
            .fqdns
            .iter()
            .any(|n| n == d || n.strip_suffix(d.as_str()).is_some_and(|p| p.ends_with('.'))),
        Compiled::Cloud(p, a, region) => f.cloud.as_ref().is_some_and(|(fp, fa, fr)| {
            fp == p && fa == a && region.as_ref().is_none_or(|r| r == fr)
        }),
        Compiled::Tag(t) => f
            .tags
            .iter()
            .any(|x| x.key == t.key && (t.value.is_empty() || x.value == t.value)),
        Compiled::Kind(k) => f.kind == Some(*k),
        Compiled::Asset(n) => f.name == *n,
    }
}

/// The scopes (id, name) an asset with these facts belongs to by rule.
pub fn scopes_matching(scopes: &[Scope], f: &MemberFacts) -> Vec<(ScopeId, String)> {
    scopes
        .iter()
        .map(compile)
        .filter(|s| s.rules.iter().any(|r| matches(r, f)))
        .map(|s| (s.id, s.name))
        .collect()
}

impl App {
    /// Adds each asset to the scopes whose rules it matches; returns the scope names per asset.
    pub async fn assign_scopes(
        &self,
        assets: &[(AssetId, MemberFacts)],
    ) -> Result<BTreeMap<AssetId, Vec<String>>, AppError> {
        let scopes = self.store.list_scopes().await?;
        let compiled: Vec<CompiledScope> = scopes.iter().map(compile).collect();
        let mut per_scope: BTreeMap<ScopeId, Vec<AssetId>> = BTreeMap::new();
        let mut out: BTreeMap<AssetId, Vec<String>> = BTreeMap::new();
        for (asset, facts) in assets {
            for s in &compiled {
                if s.rules.iter().any(|r| matches(r, facts)) {
                    per_scope.entry(s.id).or_default().push(*asset);
                    let names = out.entry(*asset).or_default();
                    if !names.contains(&s.name) {
                        names.push(s.name.clone());
                    }
                }
            }
        }
        for (scope, mut ids) in per_scope {
            // (re-evaluation adds what is missing; the insert ignores existing members)
            ids.sort();
            ids.dedup();
            for chunk in ids.chunks(5000) {
                self.store.add_scope_members(scope, chunk).await?;
            }
        }
        Ok(out)
    }
}

impl App {
    /// Re-evaluates every scope's rules over the whole live inventory (after scopes are
    /// applied): assets already stored join the scopes whose rules they now match. Returns the
    /// number of (asset, scope) pairs matched.
    pub async fn assign_all_scopes(&self) -> Result<usize, AppError> {
        let rows = self.store.member_rows().await?;
        let mut facts: BTreeMap<AssetId, MemberFacts> = rows
            .assets
            .into_iter()
            .map(|(id, kind, name)| {
                (
                    AssetId(id),
                    MemberFacts {
                        kind: kind.parse().ok(),
                        name,
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (a, kind, value) in rows.identifiers {
            if let Some(f) = facts.get_mut(&AssetId(a)) {
                match kind.as_str() {
                    "ip" => f.ips.extend(value.parse::<IpAddr>().ok()),
                    _ => f
                        .fqdns
                        .push(value.trim_end_matches('.').to_ascii_lowercase()),
                }
            }
        }
        for (a, key, value) in rows.tags {
            if let Some(f) = facts.get_mut(&AssetId(a)) {
                // Cloud private addresses are kept as tags (they repeat across networks).
                if key == "private_ip" {
                    f.ips.extend(value.parse::<IpAddr>().ok());
                }
                f.tags.push(Tag { key, value });
            }
        }
        for (a, provider, account, region) in rows.cloud {
            if let Some(f) = facts.get_mut(&AssetId(a)) {
                f.cloud = Some((provider, account, region));
            }
        }
        let facts: Vec<(AssetId, MemberFacts)> = facts.into_iter().collect();
        Ok(self
            .assign_scopes(&facts)
            .await?
            .values()
            .map(Vec::len)
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_store::NewScope;

    fn scope(id: i64, rules: Vec<MembershipRule>) -> Scope {
        NewScope {
            rules,
            ..NewScope::named(format!("s{id}"))
        }
        .to_scope(ScopeId(id))
    }

    #[test]
    fn every_rule_kind_matches_what_it_names_and_nothing_else() {
        let scopes = vec![
            scope(1, vec![MembershipRule::IpRange("10.0.0.0/24".into())]),
            scope(2, vec![MembershipRule::Domain("example.test".into())]),
            scope(3, vec![MembershipRule::CloudAccount("aws:111".into())]),
            scope(
                4,
                vec![MembershipRule::CloudAccount("aws:111/eu-west-3".into())],
            ),
            scope(5, vec![MembershipRule::Tag("env=prod".parse().unwrap())]),
            scope(6, vec![MembershipRule::Kind(AssetKind::LoadBalancer)]),
            scope(7, vec![]),
        ];
        let f = MemberFacts {
            kind: Some(AssetKind::CloudInstance),
            name: "web".into(),
            ips: vec!["10.0.0.7".parse().unwrap()],
            fqdns: vec!["www.example.test".into()],
            tags: vec!["env=prod".parse().unwrap()],
            cloud: Some(("aws".into(), "111".into(), "us-east-1".into())),
        };
        let got: Vec<i64> = scopes_matching(&scopes, &f)
            .iter()
            .map(|(id, _)| id.0)
            .collect();
        assert_eq!(got, [1, 2, 3, 5]);
        let other = MemberFacts {
            ips: vec!["10.0.1.7".parse().unwrap()],
            fqdns: vec!["notexample.test".into()],
            tags: vec!["env=dev".parse().unwrap()],
            cloud: Some(("aws".into(), "1111".into(), "eu-west-3".into())),
            ..MemberFacts::default()
        };
        assert!(scopes_matching(&scopes, &other).is_empty());
    }
}
