//! DNS enumeration for the external attack surface: a name's records (A, AAAA, CNAME chain, MX,
//! NS, TXT, SOA, CAA) through `hickory-resolver`, a zone-transfer attempt (AXFR over TCP, built
//! with `hickory-proto` message types: the resolver does not transfer zones), wordlist brute
//! force with wildcard detection and bounded concurrency, and reverse (PTR) lookups.
//!
//! Resolution goes to the configured name servers (`--nameserver`, else `/etc/resolv.conf`);
//! every name is queried fully qualified, so no search domain is appended.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a DNS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A name that is not a valid domain name.
    #[error("`{0}` is not a domain name: {1}")]
    BadName(String, String),
    /// The resolver could not be built.
    #[error("DNS resolver: {0}")]
    Config(String),
    /// The query failed (timeout, SERVFAIL, refused) — not "no such name".
    #[error("{name} {rtype}: {message}")]
    Query {
        /// Name.
        name: String,
        /// Record type.
        rtype: String,
        /// Why.
        message: String,
    },
    /// A zone transfer failed.
    #[error("AXFR of {zone} from {server}: {message}")]
    Axfr {
        /// Zone.
        zone: String,
        /// Server.
        server: SocketAddr,
        /// Why.
        message: String,
    },
}

/// How to resolve.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Name servers (address:port); empty = the system's.
    pub nameservers: Vec<SocketAddr>,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Attempts per query.
    pub attempts: usize,
    /// Queries in flight at once (brute force, reverse lookups).
    pub concurrency: usize,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
            concurrency: 64,
        }
    }
}

/// The records of one name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NameRecords {
    /// IPv4 addresses (after the CNAME chain).
    pub a: Vec<IpAddr>,
    /// IPv6 addresses.
    pub aaaa: Vec<IpAddr>,
    /// The CNAME chain, in order.
    pub cname: Vec<String>,
    /// Mail exchangers (`preference name`).
    pub mx: Vec<String>,
    /// Name servers.
    pub ns: Vec<String>,
    /// TXT strings.
    pub txt: Vec<String>,
    /// SOA (presentation format).
    pub soa: Option<String>,
    /// CAA records.
    pub caa: Vec<String>,
}

impl NameRecords {
    /// Every address.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.a.iter().chain(&self.aaaa).copied().collect()
    }

    /// Whether the name exists in any form.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
            && self.aaaa.is_empty()
            && self.cname.is_empty()
            && self.mx.is_empty()
            && self.ns.is_empty()
            && self.txt.is_empty()
            && self.soa.is_none()
            && self.caa.is_empty()
    }
}

/// A name and what it resolves to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The name.
    pub name: String,
    /// Addresses (A and AAAA, after CNAMEs).
    pub addresses: Vec<IpAddr>,
    /// CNAME chain.
    pub cname: Vec<String>,
}

/// What a brute force found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BruteForce {
    /// Names that resolve to something other than the wildcard.
    pub found: Vec<Resolved>,
    /// The wildcard's addresses when the zone answers every name.
    pub wildcard: Vec<IpAddr>,
    /// Names whose answer was only the wildcard (discarded).
    pub wildcard_hits: u64,
    /// Queries sent (names × record types).
    pub queries: u64,
    /// Queries that failed (timeouts, SERVFAIL).
    pub errors: u64,
}

/// One record of a transferred zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneRecord {
    /// Owner name.
    pub name: String,
    /// Type.
    pub rtype: String,
    /// Data (presentation format).
    pub data: String,
}

/// A resolver bound to the configured servers.
#[derive(Clone)]
pub struct Dns {
    resolver: Arc<TokioResolver>,
    opts: DnsOptions,
    queries: Arc<AtomicU64>,
}

/// A fully qualified name (trailing dot), lower case.
pub fn fqdn(name: &str) -> Result<Name, DnsError> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() {
        return Err(DnsError::BadName(name.into(), "empty".into()));
    }
    Name::from_ascii(format!("{n}.")).map_err(|e| DnsError::BadName(name.into(), e.to_string()))
}

fn text(n: &Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

impl Dns {
    /// A resolver for these options.
    pub fn new(opts: DnsOptions) -> Result<Self, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if opts.nameservers.is_empty() {
            hickory_resolver::Resolver::builder(provider)
                .map_err(|e| DnsError::Config(e.to_string()))?
        } else {
            let servers = opts
                .nameservers
                .iter()
                .map(|sa| {
                    let mut c = NameServerConfig::udp_and_tcp(sa.ip());
                    for conn in &mut c.connections {
                        conn.port = sa.port();
                    }
                    c
                })
                .collect();
            hickory_resolver::Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                provider,
            )
        };
        let o: &mut ResolverOpts = builder.options_mut();
        o.timeout = opts.timeout;
        o.attempts = opts.attempts.max(1);
        o.ndots = 0;
        o.cache_size = 1024;
        o.preserve_intermediates = true;
        o.try_tcp_on_error = true;
        o.num_concurrent_reqs = 1;
        // /etc/hosts says nothing about the organisation's zones (it maps 127/8 to localhost).
        o.use_hosts_file = ResolveHosts::Never;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(Dns {
            resolver: Arc::new(resolver),
            opts,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queries sent so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// The answers of one type (CNAMEs of the chain included); empty for "no such name" and
    /// "no records of that type".
    async fn lookup(&self, name: &Name, rtype: RecordType) -> Result<Vec<RData>, DnsError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        match self.resolver.lookup(name.clone(), rtype).await {
            Ok(l) => Ok(l.answers().iter().map(|r| r.data.clone()).collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(DnsError::Query {
                name: text(name),
                rtype: rtype.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Every record type of interest for `name`.
    pub async fn records(&self, name: &str) -> Result<NameRecords, DnsError> {
        let n = fqdn(name)?;
        let mut r = NameRecords::default();
        let types = [
            RecordType::A,
            RecordType::AAAA,
            RecordType::MX,
            RecordType::NS,
            RecordType::TXT,
            RecordType::SOA,
            RecordType::CAA,
        ];
        let answers =
            futures_util::future::join_all(types.iter().map(|t| self.lookup(&n, *t))).await;
        for (t, ans) in types.iter().zip(answers) {
            for d in ans? {
                match (t, d) {
                    (_, RData::CNAME(c)) => {
                        let c = text(&c.0);
                        if !r.cname.contains(&c) {
                            r.cname.push(c);
                        }
                    }
                    (RecordType::A, RData::A(a)) => r.a.push(IpAddr::V4(a.0)),
                    (RecordType::AAAA, RData::AAAA(a)) => r.aaaa.push(IpAddr::V6(a.0)),
                    (RecordType::MX, RData::MX(m)) => {
                        r.mx.push(format!("{} {}", m.preference, text(&m.exchange)));
                    }
                    (RecordType::NS, RData::NS(ns)) => r.ns.push(text(&ns.0)),
                    (RecordType::TXT, RData::TXT(t)) => r.txt.push(t.to_string()),
                    (RecordType::SOA, RData::SOA(s)) => r.soa = Some(s.to_string()),
                    (RecordType::CAA, d @ RData::CAA(_)) => r.caa.push(d.to_string()),
                    _ => {}
                }
            }
        }
        r.a.sort();
        r.a.dedup();
        r.aaaa.sort();
        r.aaaa.dedup();
        r.ns.sort();
        r.ns.dedup();
        Ok(r)
    }

    /// A and AAAA of a name, with its CNAME chain.
    pub async fn resolve(&self, name: &str) -> Result<Resolved, DnsError> {
        let n = fqdn(name)?;
        let (a, aaaa) = tokio::join!(
            self.lookup(&n, RecordType::A),
            self.lookup(&n, RecordType::AAAA)
        );
        let mut out = Resolved {
            name: text(&n),
            addresses: Vec::new(),
            cname: Vec::new(),
        };
        for d in a?.into_iter().chain(aaaa?) {
            match d {
                RData::A(a) => out.addresses.push(IpAddr::V4(a.0)),
                RData::AAAA(a) => out.addresses.push(IpAddr::V6(a.0)),
                RData::CNAME(c) => {
                    let c = text(&c.0);
                    if !out.cname.contains(&c) {
                        out.cname.push(c);
                    }
                }
                _ => {}
            }
        }
        out.addresses.sort();
        out.addresses.dedup();
        Ok(out)
    }

    /// The PTR names of an address. Asked directly of the first name server (a plain query,
    /// not through the resolver: it answers loopback reverse names itself, RFC 6761).
    pub async fn reverse(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let n = Name::from(ip);
        self.queries.fetch_add(1, Ordering::Relaxed);
        let server = match self.opts.nameservers.first() {
            Some(s) => *s,
            None => {
                let (cfg, _) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(|e| DnsError::Config(e.to_string()))?;
                let ns = cfg
                    .name_servers()
                    .first()
                    .ok_or_else(|| DnsError::Config("no name server configured".into()))?;
                SocketAddr::new(ns.ip, 53)
            }
        };
        let answers = query_udp(server, &n, RecordType::PTR, self.opts.timeout).await?;
        Ok(answers
            .into_iter()
            .filter_map(|d| match d {
                RData::PTR(p) => Some(text(&p.0)),
                _ => None,
            })
            .collect())
    }

    /// Reverse lookups of many addresses, `concurrency` at a time: (address, names) for those
    /// that have a PTR record, and the number of failed queries.
    pub async fn reverse_many(&self, ips: Vec<IpAddr>) -> (Vec<(IpAddr, Vec<String>)>, u64) {
        let results: Vec<_> = futures_util::stream::iter(ips.into_iter().map(|ip| {
            let d = self.clone();
            async move { (ip, d.reverse(ip).await) }
        }))
        .buffer_unordered(self.opts.concurrency.max(1))
        .collect()
        .await;
        let mut errors = 0;
        let mut out = Vec::new();
        for (ip, r) in results {
            match r {
                Ok(names) if !names.is_empty() => out.push((ip, names)),
                Ok(_) => {}
                Err(_) => errors += 1,
            }
        }
        out.sort();
        (out, errors)
    }

    /// Resolves `word.domain` for every word, `concurrency` at a time. A zone that answers
    /// random names (a wildcard) is detected first with three random labels; names that
    /// resolve only to the wildcard's addresses are discarded.
    pub async fn brute_force(
        &self,
        domain: &str,
        words: &[String],
        done: &AtomicU64,
    ) -> Result<BruteForce, DnsError> {
        let domain = text(&fqdn(domain)?);
        let mut out = BruteForce::default();
        let mut wildcard: BTreeSet<IpAddr> = BTreeSet::new();
        for _ in 0..3 {
            let label = format!("vtg-{:016x}", rand_u64());
            if let Ok(r) = self.resolve(&format!("{label}.{domain}")).await {
                wildcard.extend(r.addresses);
            }
        }
        let before = self.queries();
        let names: Vec<String> = words
            .iter()
            .map(|w| w.trim().trim_matches('.').to_ascii_lowercase())
            .filter(|w| !w.is_empty() && !w.starts_with('#'))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|w| format!("{w}.{domain}"))
            .collect();
        let results: Vec<Result<Resolved, DnsError>> =
            futures_util::stream::iter(names.into_iter().map(|n| {
                let d = self.clone();
                async move {
                    let r = d.resolve(&n).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    r
                }
            }))
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        for r in results {
            match r {
                Ok(r) if r.addresses.is_empty() && r.cname.is_empty() => {}
                Ok(r) => {
                    if !wildcard.is_empty()
                        && !r.addresses.is_empty()
                        && r.addresses.iter().all(|a| wildcard.contains(a))
                    {
                        out.wildcard_hits += 1;
                    } else {
                        out.found.push(r);
                    }
                }
                Err(_) => out.errors += 1,
            }
        }
        out.found.sort_by(|a, b| a.name.cmp(&b.name));
        out.wildcard = wildcard.into_iter().collect();
        out.queries = self.queries() - before;
        Ok(out)
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    // Uniqueness is all that matters here; fall back to the clock if the OS has no entropy.
    if getrandom_fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t;
    }
    u64::from_le_bytes(b)
}

fn getrandom_fill(b: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(b)
}

/// One query over UDP to `server` (recursion desired), with the answer's records; "no such
/// name" is an empty answer.
async fn query_udp(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<RData>, DnsError> {
    let err = |m: String| DnsError::Query {
        name: text(name),
        rtype: rtype.to_string(),
        message: m,
    };
    let mut msg = Message::query();
    let id = (rand_u64() & 0xffff) as u16;
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), rtype));
    let bytes = msg.to_vec().map_err(|e| err(e.to_string()))?;
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| err(e.to_string()))?;
    sock.connect(server).await.map_err(|e| err(e.to_string()))?;
    sock.send(&bytes).await.map_err(|e| err(e.to_string()))?;
    let mut buf = vec![0u8; 4096];
    let work = async {
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| err(e.to_string()))?;
            let Ok(m) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if m.metadata.id != id {
                continue;
            }
            return match m.metadata.response_code {
                ResponseCode::NoError => Ok(m.answers.into_iter().map(|r| r.data).collect()),
                ResponseCode::NXDomain => Ok(Vec::new()),
                c => Err(err(c.to_string())),
            };
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| err("timed out".into()))?
}

/// Attempts a zone transfer of `zone` from `server` (TCP). `Ok` holds the records when the
/// server allows it; a refusal is an error that says so.
pub async fn axfr(
    server: SocketAddr,
    zone: &str,
    timeout: Duration,
) -> Result<Vec<ZoneRecord>, DnsError> {
    let z = fqdn(zone)?;
    let err = |m: String| DnsError::Axfr {
        zone: text(&z),
        server,
        message: m,
    };
    let mut msg = Message::query();
    let id = (rand_u64() & 0xffff) as u16;
    msg.metadata.id = id;
    msg.metadata.recursion_desired = false;
    msg.add_query(Query::query(z.clone(), RecordType::AXFR));
    let bytes = msg.to_vec().map_err(|e| err(e.to_string()))?;
    let work = async {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| err(format!("connect: {e}")))?;
        let len = u16::try_from(bytes.len()).map_err(|_| err("query too long".into()))?;
        s.write_all(&len.to_be_bytes())
            .await
            .map_err(|e| err(e.to_string()))?;
        s.write_all(&bytes).await.map_err(|e| err(e.to_string()))?;
        let mut records = Vec::new();
        let mut soa_seen = 0;
        // A zone is bounded: 100,000 messages or 64 MiB is far beyond any real zone.
        let mut total = 0usize;
        for _ in 0..100_000 {
            let mut lb = [0u8; 2];
            if let Err(e) = s.read_exact(&mut lb).await {
                if soa_seen >= 1 && !records.is_empty() {
                    break;
                }
                return Err(err(format!("connection closed: {e}")));
            }
            let n = u16::from_be_bytes(lb) as usize;
            total += n;
            if total > 64 << 20 {
                return Err(err("transfer larger than 64 MiB".into()));
            }
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf)
                .await
                .map_err(|e| err(format!("truncated message: {e}")))?;
            let m = Message::from_vec(&buf).map_err(|e| err(format!("malformed answer: {e}")))?;
            if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
                return Err(err("an answer that is not ours".into()));
            }
            if m.metadata.op_code != OpCode::Query {
                return Err(err("unexpected opcode".into()));
            }
            if m.metadata.response_code != ResponseCode::NoError {
                return Err(err(format!("refused ({})", m.metadata.response_code)));
            }
            if m.answers.is_empty() && records.is_empty() {
                return Err(err("refused (empty answer)".into()));
            }
            for r in &m.answers {
                if r.record_type() == RecordType::SOA {
                    soa_seen += 1;
                }
                records.push(ZoneRecord {
                    name: text(&r.name),
                    rtype: r.record_type().to_string(),
                    data: r.data.to_string(),
                });
            }
            if soa_seen >= 2 {
                break;
            }
        }
        // The closing SOA repeats the opening one.
        if soa_seen >= 2 && records.len() > 1 {
            records.pop();
        }
        Ok(records)
    };
    tokio::time::timeout(timeout.max(Duration::from_secs(1)) * 5, work)
        .await
        .map_err(|_| err("timed out".into()))?
}
