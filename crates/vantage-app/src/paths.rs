//! Attack-path analysis: how an attacker on the internet could chain exploitable findings to
//! reach the assets of critical scopes, which paths are most likely, and which findings are
//! choke points (their fix cuts the most targets off).
//!
//! The graph (one node per state, one per usable finding):
//! - `Internet` → exploit of a remote pre-auth finding (CVSS `AV:N`/`AV:A`, `PR:N`) on an
//!   internet-exposed asset — its scope's exposure class is `internet`, or its cloud provider
//!   reports it exposed — through an open service (the finding's port, or any open port for a
//!   package finding; when cloud firewall rules are known, only ports they open to any address);
//! - `Zone(scope)` → exploit of a remote finding (`PR:N` or `PR:L`) on a member with an open
//!   service: an attacker with a foothold in a scope whose exposure is `internet` or
//!   `internal` reaches its members' services (assets in no scope share one internal zone;
//!   `local_only` and `isolated` scopes are not reachable from elsewhere);
//! - remote exploit → `Foothold(asset)` → `Zone(each of its scopes)`;
//! - `Foothold(asset)` → local privilege escalation (`AV:L`, `PR:N`/`PR:L`) → `Admin(asset)`;
//! - `Admin(asset)` → credential exposure (CWE-256/257/260/312/522/798/1392) → a foothold on
//!   every member of the asset's scopes that has an open service (stolen credentials).
//!
//! An exploit step's probability is its vulnerability's EPSS score (at least 0.9 when it is in
//! CISA KEV, at least 0.01 otherwise); a path's likelihood is the product of its steps, its
//! impact the target scope's criticality (× 1 for admin access, × 0.7 for a user foothold).
//! The best path to each target is found with Dijkstra on −ln p; choke points from the
//! dominator tree of the graph rooted at `Internet` (petgraph's Cooper–Harvey–Kennedy): a
//! finding that dominates a target is on every path to it. A finding on no path from the
//! internet to a target is marked so (`on_attack_path: false`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use vantage_domain::{ExposureClass, Requirement, Scope};
use vantage_store::{PathInput, PathVuln};

use crate::{App, AppError};

/// CWEs whose exploitation hands over credentials for other machines.
const CREDENTIAL_CWES: &[&str] = &[
    "CWE-256", "CWE-257", "CWE-260", "CWE-312", "CWE-522", "CWE-798", "CWE-1392",
];

/// How an attacker can use a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Remote, no privileges needed: a foothold from anywhere that reaches the service.
    RemotePreAuth,
    /// Remote with low privileges: a foothold from inside the zone.
    RemoteAuth,
    /// Local privilege escalation: admin from a foothold.
    LocalEscalation,
    /// Credential exposure: footholds on the asset's neighbours from admin.
    Credentials,
}

/// Reads the use of a vulnerability from its CWEs and CVSS attack vector and privileges.
pub fn use_of(v: &PathVuln) -> Option<Use> {
    if v.cwes.iter().any(|c| CREDENTIAL_CWES.contains(&c.as_str())) {
        return Some(Use::Credentials);
    }
    // The primary vector first, then the newest version.
    let mut vectors: Vec<&(String, String, bool)> = v.vectors.iter().collect();
    vectors.sort_by_key(|(version, _, primary)| {
        (
            !primary,
            match version.as_str() {
                "3.1" => 0,
                "3.0" => 1,
                "4.0" => 2,
                _ => 3,
            },
        )
    });
    for (_, vector, _) in vectors {
        let metric = |name: &str| {
            vector
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split('/')
                .find_map(|m| m.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        };
        let Some(av) = metric("AV") else { continue };
        // CVSS v2 has `Au` (authentication) instead of `PR`.
        let pr = metric("PR").or_else(|| metric("Au").map(|a| if a == "N" { "N" } else { "L" }));
        return match (av, pr) {
            ("N" | "A", Some("N")) => Some(Use::RemotePreAuth),
            ("N" | "A", Some("L")) => Some(Use::RemoteAuth),
            ("L", Some("N" | "L")) => Some(Use::LocalEscalation),
            _ => None,
        };
    }
    None
}

/// The probability that an exploit step succeeds.
pub fn step_probability(v: &PathVuln) -> f64 {
    let epss = v.epss.unwrap_or(0.0).clamp(0.0, 1.0);
    if v.kev { epss.max(0.9) } else { epss.max(0.01) }
}

/// One step of a path.
#[derive(Debug, Clone, Serialize)]
pub struct PathStep {
    /// The finding exploited.
    pub finding_id: i64,
    /// Its vulnerability.
    pub vuln_id: String,
    /// The asset it is on.
    pub asset_id: i64,
    /// That asset's name.
    pub asset: String,
    /// exploit (remote foothold), escalate (local admin) or steal-credentials.
    pub action: &'static str,
    /// The step's probability.
    pub probability: f64,
}

/// The most likely path to one target asset.
#[derive(Debug, Clone, Serialize)]
pub struct AttackPath {
    /// 1 = most important.
    pub rank: usize,
    /// The target asset's name.
    pub target: String,
    /// The target asset's id.
    pub target_id: i64,
    /// Its critical scopes.
    pub target_scopes: Vec<String>,
    /// admin or user.
    pub access: String,
    /// Product of the steps' probabilities.
    pub likelihood: f64,
    /// Scope criticality / 5, × 0.7 for user access.
    pub impact: f64,
    /// likelihood × impact: the rank order.
    pub score: f64,
    /// The steps, from the internet to the target.
    pub steps: Vec<PathStep>,
}

/// A finding whose fix cuts targets off.
#[derive(Debug, Clone, Serialize)]
pub struct ChokePoint {
    /// The finding.
    pub finding_id: i64,
    /// Its vulnerability.
    pub vuln_id: String,
    /// Its asset.
    pub asset: String,
    /// Targets every path to which goes through this finding: fixing it cuts them all off.
    pub targets_cut: usize,
    /// Best paths that use it.
    pub paths_through: usize,
}

/// The whole analysis.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Analysis {
    /// Best path per reachable target, ranked by score.
    pub paths: Vec<AttackPath>,
    /// Findings ranked by the targets their fix cuts off, then by paths through them.
    pub choke_points: Vec<ChokePoint>,
    /// Target assets considered.
    pub targets: usize,
    /// Internet entry points (exploitable findings reachable from the internet).
    pub entry_points: usize,
    /// Open findings on at least one path.
    pub findings_on_path: usize,
    /// Open findings on no known path.
    pub findings_off_path: usize,
    /// Nodes and edges of the graph.
    pub graph_size: (usize, usize),
    /// The ids of the findings on a path.
    #[serde(skip)]
    pub on_path_ids: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    Internet,
    Zone(i64),
    Foothold(i64),
    Admin(i64),
    Exploit(usize),
    /// Credentials valid on a scope's members (stolen from one of them).
    Creds(i64),
}

#[derive(Clone, Copy, PartialEq)]
struct Dist(f64, NodeIndex);
impl Eq for Dist {}
impl Ord for Dist {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then_with(|| self.1.cmp(&o.1))
    }
}
impl PartialOrd for Dist {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The default targets: scopes of criticality 4–5 or with a high CIA requirement.
pub fn is_critical(s: &Scope) -> bool {
    s.criticality >= 4
        || [s.cia.confidentiality, s.cia.integrity, s.cia.availability].contains(&Requirement::High)
}

/// Runs the analysis on `input` for the assets of `targets` (scope ids).
pub fn analyze(input: &PathInput, scopes: &[Scope], targets: &HashSet<i64>) -> Analysis {
    let scope_by_id: HashMap<i64, &Scope> = scopes.iter().map(|s| (s.id.0, s)).collect();
    let names: HashMap<i64, &str> = input.assets.iter().map(|(i, n)| (*i, n.as_str())).collect();
    let mut scopes_of: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for (a, s) in &input.memberships {
        if names.contains_key(a) {
            scopes_of.entry(*a).or_default().push(*s);
            members.entry(*s).or_default().push(*a);
        }
    }
    // Zones an asset sits in (reachable from elsewhere): its internet/internal scopes; assets
    // in no scope share zone 0 (internal).
    let networked = |s: &i64| {
        scope_by_id.get(s).is_some_and(|s| {
            matches!(
                s.exposure,
                ExposureClass::Internet | ExposureClass::Internal
            )
        })
    };
    let zones_of = |a: i64| -> Vec<i64> {
        match scopes_of.get(&a) {
            None => vec![0],
            Some(list) => list.iter().copied().filter(networked).collect(),
        }
    };
    let mut services: HashMap<i64, Vec<(String, i32)>> = HashMap::new();
    for (a, t, p) in &input.services {
        services.entry(*a).or_default().push((t.clone(), *p));
    }
    let mut exposures: HashMap<i64, Vec<(String, i32, i32)>> = HashMap::new();
    for (a, proto, from, to) in &input.exposures {
        exposures
            .entry(*a)
            .or_default()
            .push((proto.to_ascii_lowercase(), *from, *to));
    }
    let cloud_exposed: HashSet<i64> = input.internet_exposed.iter().copied().collect();
    let internet_facing = |a: i64| {
        cloud_exposed.contains(&a)
            || scopes_of.get(&a).is_some_and(|l| {
                l.iter().any(|s| {
                    scope_by_id
                        .get(s)
                        .is_some_and(|s| s.exposure == ExposureClass::Internet)
                })
            })
    };
    // A port is open to the internet unless cloud firewall rules are known and do not open it.
    let port_exposed = |a: i64, transport: &str, port: i32| match exposures.get(&a) {
        None => true,
        Some(rules) => rules.iter().any(|(proto, from, to)| {
            (proto == transport || proto == "all" || proto == "-1") && (*from..=*to).contains(&port)
        }),
    };

    let mut g: DiGraph<Node, f64> = DiGraph::new();
    let mut index: HashMap<Node, NodeIndex> = HashMap::new();
    fn add(g: &mut DiGraph<Node, f64>, index: &mut HashMap<Node, NodeIndex>, n: Node) -> NodeIndex {
        *index.entry(n).or_insert_with(|| g.add_node(n))
    }
    let internet = add(&mut g, &mut index, Node::Internet);
    // How each finding is used and its step probability, by finding index.
    let mut exploits: Vec<Option<(Use, f64)>> = vec![None; input.findings.len()];
    let mut entry_points = 0;
    for (i, f) in input.findings.iter().enumerate() {
        if !names.contains_key(&f.asset_id) {
            continue;
        }
        let Some(v) = input.vulns.get(&f.vuln_id) else {
            continue;
        };
        let Some(u) = use_of(v) else { continue };
        let p = step_probability(v);
        let w = -p.ln();
        let a = f.asset_id;
        match u {
            Use::RemotePreAuth | Use::RemoteAuth => {
                // Through which ports: the finding's own, or any open one for a package.
                let ports: Vec<(String, i32)> = match f.component_kind.as_str() {
                    "service" | "config" => f
                        .component
                        .split_once('/')
                        .and_then(|(t, p)| p.parse().ok().map(|p| (t.to_string(), p)))
                        .into_iter()
                        .collect(),
                    _ => services.get(&a).cloned().unwrap_or_default(),
                };
                if ports.is_empty() {
                    continue;
                }
                let x = add(&mut g, &mut index, Node::Exploit(i));
                if u == Use::RemotePreAuth
                    && internet_facing(a)
                    && ports.iter().any(|(t, p)| port_exposed(a, t, *p))
                {
                    g.add_edge(internet, x, w);
                    entry_points += 1;
                }
                for z in zones_of(a) {
                    let zn = add(&mut g, &mut index, Node::Zone(z));
                    g.add_edge(zn, x, w);
                }
                let fh = add(&mut g, &mut index, Node::Foothold(a));
                g.add_edge(x, fh, 0.0);
            }
            Use::LocalEscalation => {
                let (fh, x, ad) = (
                    add(&mut g, &mut index, Node::Foothold(a)),
                    add(&mut g, &mut index, Node::Exploit(i)),
                    add(&mut g, &mut index, Node::Admin(a)),
                );
                g.add_edge(fh, x, w);
                g.add_edge(x, ad, 0.0);
            }
            Use::Credentials => {
                let (ad, x) = (
                    add(&mut g, &mut index, Node::Admin(a)),
                    add(&mut g, &mut index, Node::Exploit(i)),
                );
                g.add_edge(ad, x, w);
                // Through one node per scope: edges grow with memberships, not with
                // findings × members.
                for s in scopes_of.get(&a).into_iter().flatten() {
                    let fresh = !index.contains_key(&Node::Creds(*s));
                    let cn = add(&mut g, &mut index, Node::Creds(*s));
                    g.add_edge(x, cn, 0.0);
                    if fresh {
                        for b in members.get(s).into_iter().flatten() {
                            if services.contains_key(b) {
                                let fb = add(&mut g, &mut index, Node::Foothold(*b));
                                g.add_edge(cn, fb, 0.0);
                            }
                        }
                    }
                }
            }
        }
        exploits[i] = Some((u, p));
    }
    // A foothold reaches its zones.
    let footholds: Vec<(i64, NodeIndex)> = index
        .iter()
        .filter_map(|(n, i)| match n {
            Node::Foothold(a) => Some((*a, *i)),
            _ => None,
        })
        .collect();
    for (a, fh) in footholds {
        for z in zones_of(a) {
            if let Some(&zn) = index.get(&Node::Zone(z)) {
                g.add_edge(fh, zn, 0.0);
            }
        }
    }

    // Dijkstra from the internet on −ln p.
    let n = g.node_count();
    let mut dist = vec![f64::INFINITY; n];
    let mut pred: Vec<Option<NodeIndex>> = vec![None; n];
    let mut heap = BinaryHeap::new();
    dist[internet.index()] = 0.0;
    heap.push(Dist(0.0, internet));
    while let Some(Dist(d, u)) = heap.pop() {
        if d > dist[u.index()] {
            continue;
        }
        for e in g.edges_directed(u, Direction::Outgoing) {
            let v = petgraph::visit::EdgeRef::target(&e);
            let nd = d + *e.weight();
            if nd < dist[v.index()] {
                dist[v.index()] = nd;
                pred[v.index()] = Some(u);
                heap.push(Dist(nd, v));
            }
        }
    }

    // Targets: members of the target scopes.
    let mut target_nodes = Vec::new();
    let mut target_assets: Vec<i64> = targets
        .iter()
        .flat_map(|s| members.get(s).into_iter().flatten().copied())
        .collect();
    target_assets.sort_unstable();
    target_assets.dedup();
    let mut paths = Vec::new();
    for &t in &target_assets {
        let crit = scopes_of
            .get(&t)
            .into_iter()
            .flatten()
            .filter(|s| targets.contains(s))
            .filter_map(|s| scope_by_id.get(s))
            .map(|s| s.criticality)
            .max()
            .unwrap_or(3);
        let mut best: Option<(f64, f64, NodeIndex, &str)> = None;
        for (kind, factor) in [(Node::Admin(t), 1.0), (Node::Foothold(t), 0.7)] {
            if let Some(&ni) = index.get(&kind) {
                target_nodes.push(ni);
                if dist[ni.index()].is_finite() {
                    let likelihood = (-dist[ni.index()]).exp();
                    let impact = f64::from(crit) / 5.0 * factor;
                    let access = if factor == 1.0 { "admin" } else { "user" };
                    if best.is_none_or(|(s, _, _, _)| likelihood * impact > s) {
                        best = Some((likelihood * impact, likelihood, ni, access));
                    }
                }
            }
        }
        let Some((score, likelihood, end, access)) = best else {
            continue;
        };
        let mut steps = Vec::new();
        let mut cur = Some(end);
        while let Some(c) = cur {
            if let Node::Exploit(i) = g[c] {
                let f = &input.findings[i];
                let (u, p) = exploits[i].unwrap_or((Use::RemotePreAuth, 0.0));
                steps.push(PathStep {
                    finding_id: f.id,
                    vuln_id: f.vuln_id.clone(),
                    asset_id: f.asset_id,
                    asset: names.get(&f.asset_id).unwrap_or(&"?").to_string(),
                    action: match u {
                        Use::RemotePreAuth | Use::RemoteAuth => "exploit",
                        Use::LocalEscalation => "escalate",
                        Use::Credentials => "steal-credentials",
                    },
                    probability: p,
                });
            }
            cur = pred[c.index()];
        }
        steps.reverse();
        paths.push(AttackPath {
            rank: 0,
            target: names.get(&t).unwrap_or(&"?").to_string(),
            target_id: t,
            target_scopes: scopes_of
                .get(&t)
                .into_iter()
                .flatten()
                .filter(|s| targets.contains(s))
                .filter_map(|s| scope_by_id.get(s).map(|s| s.name.clone()))
                .collect(),
            access: access.to_string(),
            likelihood,
            impact: score / likelihood,
            score,
            steps,
        });
    }
    paths.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.target_id.cmp(&b.target_id))
    });
    for (i, p) in paths.iter_mut().enumerate() {
        p.rank = i + 1;
    }

    // Findings on a path: reached from the internet and reaching a target.
    let mut co_reach = vec![false; n];
    let mut stack: Vec<NodeIndex> = target_nodes.clone();
    for t in &stack {
        co_reach[t.index()] = true;
    }
    while let Some(u) = stack.pop() {
        for v in g.neighbors_directed(u, Direction::Incoming) {
            if !co_reach[v.index()] {
                co_reach[v.index()] = true;
                stack.push(v);
            }
        }
    }
    let mut on_path: HashSet<usize> = HashSet::new();
    for (i, &ni) in index.iter() {
        if let Node::Exploit(f) = i
            && dist[ni.index()].is_finite()
            && co_reach[ni.index()]
        {
            on_path.insert(*f);
        }
    }

    // Choke points: findings dominating reachable targets.
    let doms = petgraph::algo::dominators::simple_fast(&g, internet);
    let mut cut: HashMap<usize, HashSet<i64>> = HashMap::new();
    for &t in &target_assets {
        // A finding cuts a target off when it is on every path to every access to it.
        let mut common: Option<HashSet<usize>> = None;
        for kind in [Node::Admin(t), Node::Foothold(t)] {
            let Some(&ni) = index.get(&kind) else {
                continue;
            };
            if !dist[ni.index()].is_finite() {
                continue;
            }
            let here: HashSet<usize> = doms
                .strict_dominators(ni)
                .into_iter()
                .flatten()
                .filter_map(|d| match g[d] {
                    Node::Exploit(f) => Some(f),
                    _ => None,
                })
                .collect();
            common = Some(match common {
                None => here,
                Some(c) => c.intersection(&here).copied().collect(),
            });
        }
        for f in common.into_iter().flatten() {
            cut.entry(f).or_default().insert(t);
        }
    }
    let mut through: HashMap<i64, usize> = HashMap::new();
    for p in &paths {
        for s in &p.steps {
            *through.entry(s.finding_id).or_default() += 1;
        }
    }
    let mut choke: Vec<ChokePoint> = on_path
        .iter()
        .map(|&i| {
            let f = &input.findings[i];
            ChokePoint {
                finding_id: f.id,
                vuln_id: f.vuln_id.clone(),
                asset: names.get(&f.asset_id).unwrap_or(&"?").to_string(),
                targets_cut: cut.get(&i).map_or(0, HashSet::len),
                paths_through: through.get(&f.id).copied().unwrap_or(0),
            }
        })
        .filter(|c| c.targets_cut > 0 || c.paths_through > 0)
        .collect();
    choke.sort_by(|a, b| {
        (b.targets_cut, b.paths_through, a.finding_id).cmp(&(
            a.targets_cut,
            a.paths_through,
            b.finding_id,
        ))
    });
    Analysis {
        targets: target_assets.len(),
        entry_points,
        findings_on_path: on_path.len(),
        findings_off_path: input.findings.len() - on_path.len(),
        graph_size: (g.node_count(), g.edge_count()),
        on_path_ids: {
            let mut ids: Vec<i64> = on_path.iter().map(|&i| input.findings[i].id).collect();
            ids.sort_unstable();
            ids
        },
        paths,
        choke_points: choke,
    }
}

impl App {
    /// Analyses attack paths to the assets of `to` (a scope name) or, without it, of every
    /// critical scope; the latter also records on each open finding whether it is on a path.
    pub async fn attack_paths(&self, to: Option<&str>) -> Result<Analysis, AppError> {
        let scopes = self.store.list_scopes().await?;
        let targets: HashSet<i64> = match to {
            Some(name) => {
                let s = scopes.iter().find(|s| s.name == name).ok_or_else(|| {
                    AppError::NotFound(format!(
                        "scope `{name}` does not exist (see `vantage scopes list`)"
                    ))
                })?;
                HashSet::from([s.id.0])
            }
            None => scopes
                .iter()
                .filter(|s| is_critical(s))
                .map(|s| s.id.0)
                .collect(),
        };
        let input = self.store.path_input().await?;
        let analysis = tokio::task::spawn_blocking(move || analyze(&input, &scopes, &targets))
            .await
            .map_err(|e| AppError::Invalid(format!("attack-path analysis failed: {e}")))?;
        if to.is_none() {
            self.store
                .set_attack_path_verdicts(&analysis.on_path_ids, time::OffsetDateTime::now_utc())
                .await?;
        }
        Ok(analysis)
    }
}
