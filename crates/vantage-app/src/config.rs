//! Configuration, layered: built-in defaults → `vantage.toml` → `VANTAGE_*` environment →
//! command-line flags (the binary passes its flags in as [`Overrides`]).
//!
//! Unknown keys in the file and unknown `VANTAGE_*` variables are reported as warnings (a typo
//! must not silently fall back to a default); a file that cannot be read or parsed is an error
//! that names the file, line and column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env;

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Directory for the SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Database settings.
    pub database: DatabaseConfig,
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Logging settings.
    pub log: LogConfig,
    /// Vulnerability feeds: where `feeds sync` downloads from and how often `serve` refreshes.
    pub feeds: FeedsConfig,
    /// Prioritization: CVSS vector preference and the priority policies scopes name.
    pub priority: vantage_priority::Settings,
    /// Network discovery: probe data, the global deny list, timing.
    pub scan: ScanConfig,
    /// The credentials vault.
    pub secrets: SecretsConfig,
    /// The scheduler and job workers of `serve`.
    pub scheduler: SchedulerConfig,
}

/// How `serve` runs scopes' schedules and the job queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Run the scheduler and the job workers in this server process.
    pub enabled: bool,
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// Seconds between looks at due scopes, queued jobs and expired leases.
    pub tick_secs: u64,
    /// Seconds a claimed job's lease lasts without a heartbeat (heartbeats come every third of
    /// it); a job whose lease expired is re-run by any server.
    pub lease_secs: u64,
    /// Seconds before the first retry of a failed job, doubled at each further attempt.
    pub retry_base_secs: u64,
    /// Attempts a job gets before it fails for good.
    pub max_attempts: i32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            concurrency: 2,
            tick_secs: 10,
            lease_secs: 60,
            retry_base_secs: 60,
            max_attempts: 3,
        }
    }
}

/// Where the credentials vault's master key comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes; also `VANTAGE_MASTER_KEY`. Wins over the key file.
    pub master_key: String,
    /// A file holding the key (created with mode 0600 on first use when missing); empty means
    /// `DATA_DIR/master.key`. Also `VANTAGE_MASTER_KEY_FILE`.
    pub key_file: PathBuf,
}

/// Network discovery settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanConfig {
    /// nmap's service probe file (from Debian's `nmap-common`; not shipped with Vantage).
    pub probes_file: PathBuf,
    /// nmap's port frequency table, for `--top-ports` and port names.
    pub services_file: PathBuf,
    /// Addresses, blocks or ranges no scan may ever touch, whatever its scope says.
    pub deny: Vec<String>,
    /// Connection attempts in flight at once.
    pub concurrency: usize,
    /// Connection attempts per second; 0 means no limit.
    pub rate: u32,
    /// Extra attempts for a port that did not answer.
    pub retries: u8,
    /// Timeout before any round trip was measured, milliseconds.
    pub initial_timeout_ms: u64,
    /// Lower bound of the adaptive timeout, milliseconds.
    pub min_timeout_ms: u64,
    /// Upper bound of the adaptive timeout, milliseconds.
    pub max_timeout_ms: u64,
    /// Hosts scanned at once.
    pub host_parallelism: usize,
    /// Service probes' rarity limit, 0-9 (nmap's `--version-intensity`).
    pub intensity: u8,
    /// Longest wait for one probe's answer, milliseconds.
    pub probe_wait_ms: u64,
    /// Longest time identifying one port, seconds.
    pub port_budget_secs: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            probes_file: "/usr/share/nmap/nmap-service-probes".into(),
            services_file: "/usr/share/nmap/nmap-services".into(),
            deny: ["0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "ff00::/8"]
                .map(String::from)
                .to_vec(),
            concurrency: 2_000,
            rate: 0,
            retries: 1,
            initial_timeout_ms: 1_000,
            min_timeout_ms: 100,
            max_timeout_ms: 3_000,
            host_parallelism: 256,
            intensity: 7,
            probe_wait_ms: 5_000,
            port_budget_secs: 30,
        }
    }
}

/// Vulnerability feed settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedsConfig {
    /// How often `vantage serve` refreshes the feeds: `hourly`, `daily`, `weekly`, `off`, or a
    /// number of hours.
    pub refresh: String,
    /// Seconds after `serve` starts before a due refresh runs (restarts do not hammer the
    /// providers; `vantage feeds sync` runs one at once).
    pub refresh_delay_secs: u64,
    /// Sources `feeds sync` fetches when none are named.
    pub sources: Vec<String>,
    /// NVD API key (raises the rate limit from 5 to 50 requests per 30 s); also
    /// `VANTAGE_NVD_API_KEY`.
    pub nvd_api_key: String,
    /// Pause between two NVD API requests, milliseconds; 0 means NVD's published limit (6000
    /// without a key, 600 with one).
    pub nvd_request_interval_ms: u64,
    /// Attempts after the first for a failed request (429, 5xx, connection lost).
    pub retries: u32,
    /// First wait before a retry, milliseconds; doubles on each attempt (a `Retry-After` header
    /// wins).
    pub backoff_ms: u64,
    /// Longest wait between two attempts, seconds.
    pub max_backoff_secs: u64,
    /// Time limit to connect, and between two received chunks, seconds.
    pub timeout_secs: u64,
    /// Where each source is downloaded from; point these at a mirror on air-gapped sites.
    pub endpoints: FeedEndpoints,
}

/// Download locations, official by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedEndpoints {
    /// CISA KEV catalogue (JSON).
    pub kev: String,
    /// FIRST EPSS daily scores (CSV, gzip).
    pub epss: String,
    /// NVD CVE API 2.0 base URL.
    pub nvd: String,
    /// CERT-FR alerts with their CVEs (JSON `[{alert, published_at, cves}]`).
    pub certfr: String,
    /// Exploit-DB `files_exploits.csv`.
    pub exploitdb: String,
    /// Debian security tracker DSA list.
    pub debian_dsa: String,
    /// Debian security tracker DLA list.
    pub debian_dla: String,
    /// Debian security tracker JSON export (every source package, CVE and release).
    pub debian_tracker: String,
    /// Alpine secdb base URL (`{base}/{branch}/{main|community}.json`).
    pub alpine: String,
    /// Alpine branches to fetch.
    pub alpine_branches: Vec<String>,
    /// OSV data dump base URL (`{base}/{ecosystem}/all.zip`).
    pub osv: String,
    /// OSV ecosystems to fetch.
    pub osv_ecosystems: Vec<String>,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            refresh: "daily".into(),
            refresh_delay_secs: 600,
            sources: crate::sync::SOURCES.iter().map(|s| s.to_string()).collect(),
            nvd_api_key: String::new(),
            nvd_request_interval_ms: 0,
            retries: 5,
            backoff_ms: 2000,
            max_backoff_secs: 120,
            timeout_secs: 60,
            endpoints: FeedEndpoints::default(),
        }
    }
}

impl Default for FeedEndpoints {
    fn default() -> Self {
        let s = |x: &str| x.to_string();
        FeedEndpoints {
            kev: s(
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
            ),
            epss: s("https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"),
            nvd: s("https://services.nvd.nist.gov/rest/json/cves/2.0"),
            certfr: s(
                "https://raw.githubusercontent.com/tarraschk/CERTFR-ALE.json/main/cert-fr-ale_with_cves.json",
            ),
            exploitdb: s(
                "https://gitlab.com/exploit-database/exploitdb/-/raw/main/files_exploits.csv",
            ),
            debian_dsa: s(
                "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DSA/list",
            ),
            debian_dla: s(
                "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DLA/list",
            ),
            debian_tracker: s("https://security-tracker.debian.org/tracker/data/json"),
            alpine: s("https://secdb.alpinelinux.org"),
            alpine_branches: ["v3.20", "v3.21", "v3.22", "edge"].map(s).to_vec(),
            osv: s("https://osv-vulnerabilities.storage.googleapis.com"),
            osv_ecosystems: [
                "PyPI",
                "npm",
                "Go",
                "crates.io",
                "Maven",
                "RubyGems",
                "NuGet",
                "Packagist",
            ]
            .map(s)
            .to_vec(),
        }
    }
}

/// Database settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`; empty means `DATA_DIR/vantage.db`.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
}

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Longest time a request may take before it is answered with 503.
    pub request_timeout_secs: u64,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `debug`, `vantage_store=debug,info` …
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            database: DatabaseConfig::default(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            feeds: FeedsConfig::default(),
            priority: vantage_priority::Settings::default(),
            scan: ScanConfig::default(),
            secrets: SecretsConfig::default(),
            scheduler: SchedulerConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            max_connections: 8,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 30,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `$XDG_DATA_HOME/vantage`, else `$HOME/.local/share/vantage`, else `./vantage-data`.
pub fn default_data_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(x) = var("XDG_DATA_HOME") {
        return x.join("vantage");
    }
    if let Some(h) = var("HOME") {
        return h.join(".local/share/vantage");
    }
    PathBuf::from("vantage-data")
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database`.
    pub database: Option<String>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// A configuration error: which source, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a value of the wrong type.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// An environment variable has a value of the wrong type.
    #[error("invalid value `{value}` for {var}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: String,
    },
}

/// Where the configuration came from, for `config show` and the start-up log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Warnings about unknown keys and variables.
    pub warnings: Vec<String>,
}

impl Config {
    /// Builds the effective configuration. `file` is an explicit `--config` path (an error if
    /// missing); without it `VANTAGE_CONFIG`, then `./vantage.toml` if it exists, are used.
    /// `vars` is the process environment (passed in so tests control it).
    pub fn load(
        file: Option<&Path>,
        vars: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<(Config, Loaded), ConfigError> {
        let mut loaded = Loaded::default();
        let var = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => var(env::CONFIG).map(PathBuf::from).or_else(|| {
                let local = PathBuf::from("vantage.toml");
                local.is_file().then_some(local)
            }),
        };
        let mut config = match &path {
            Some(p) => Self::from_file(p, &mut loaded.warnings)?,
            None => Config::default(),
        };
        if let Err(message) = config.priority.validate() {
            return Err(ConfigError::Parse {
                path: path.clone().unwrap_or_else(|| PathBuf::from("(defaults)")),
                message,
            });
        }
        loaded.file = path;
        config.apply_env(vars, &mut loaded.warnings)?;
        config.apply_overrides(overrides);
        Ok((config, loaded))
    }

    /// Parses a TOML file, collecting unknown keys as warnings.
    pub fn from_file(path: &Path, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path, warnings)
    }

    fn from_toml(
        text: &str,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<Config, ConfigError> {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(text, &e),
        };
        let de = toml::de::Deserializer::parse(text).map_err(parse_err)?;
        // Missing keys take their defaults; unknown keys are ignored with a warning each.
        serde_ignored::deserialize(de, |p| {
            warnings.push(format!("{}: unknown key `{p}` ignored", path.display()));
        })
        .map_err(parse_err)
    }

    fn apply_env(
        &mut self,
        vars: &[(String, String)],
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            if !name.starts_with(env::PREFIX) {
                continue;
            }
            match name.as_str() {
                env::DATA_DIR => self.data_dir = PathBuf::from(value),
                env::DATABASE => self.database.url = value.clone(),
                env::DATABASE_MAX_CONNECTIONS => {
                    self.database.max_connections = parse_env(env::DATABASE_MAX_CONNECTIONS, value)?
                }
                env::LISTEN => self.server.listen = parse_env(env::LISTEN, value)?,
                env::REQUEST_TIMEOUT => {
                    self.server.request_timeout_secs = parse_env(env::REQUEST_TIMEOUT, value)?
                }
                env::LOG_LEVEL => self.log.level = value.clone(),
                env::NVD_API_KEY => self.feeds.nvd_api_key = value.clone(),
                env::MASTER_KEY => self.secrets.master_key = value.clone(),
                env::MASTER_KEY_FILE => self.secrets.key_file = PathBuf::from(value),
                env::FEEDS_REFRESH => self.feeds.refresh = value.clone(),
                env::SCHEDULER => {
                    self.scheduler.enabled = match value.to_ascii_lowercase().as_str() {
                        "on" | "true" | "1" => true,
                        "off" | "false" | "0" => false,
                        _ => parse_env(env::SCHEDULER, value)?,
                    }
                }
                env::SCHEDULER_TICK => {
                    self.scheduler.tick_secs = parse_env(env::SCHEDULER_TICK, value)?
                }
                env::SCHEDULER_LEASE => {
                    self.scheduler.lease_secs = parse_env(env::SCHEDULER_LEASE, value)?
                }
                env::LOG_FORMAT => {
                    self.log.format = match value.to_ascii_lowercase().as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => {
                            return Err(ConfigError::Env {
                                var: env::LOG_FORMAT,
                                value: value.clone(),
                                reason: "expected text or json".into(),
                            });
                        }
                    }
                }
                n if env::KNOWN_OTHER.contains(&n) || n.starts_with(env::TEST_PREFIX) => {}
                n => warnings.push(format!("environment: unknown variable {n} ignored")),
            }
        }
        Ok(())
    }

    fn apply_overrides(&mut self, o: &Overrides) {
        if let Some(d) = &o.data_dir {
            self.data_dir = d.clone();
        }
        if let Some(u) = &o.database {
            self.database.url = u.clone();
        }
        if let Some(l) = o.listen {
            self.server.listen = l;
        }
        if let Some(l) = &o.log_level {
            self.log.level = l.clone();
        }
    }

    /// The database URL in effect: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.trim().is_empty() {
            format!("sqlite://{}", self.data_dir.join("vantage.db").display())
        } else {
            self.database.url.trim().to_string()
        }
    }

    /// A copy safe to show: passwords in URLs and API keys redacted.
    pub fn redacted(&self) -> Config {
        let mut shown = self.clone();
        shown.database.url = vantage_store::redact_url(&self.database.url);
        if !shown.secrets.master_key.is_empty() {
            shown.secrets.master_key = "<redacted>".into();
        }
        if !shown.feeds.nvd_api_key.is_empty() {
            shown.feeds.nvd_api_key = "<redacted>".into();
        }
        shown
    }

    /// The configuration as TOML, secrets redacted.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.redacted()).unwrap_or_default()
    }
}

/// A TOML error as one line: `line L, column C: message`.
fn one_line(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn parse_env<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
        var,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "data_dir = \"/from/file\"\n[server]\nlisten = \"127.0.0.1:9000\"\n[log]\nlevel = \"debug\"\n").unwrap();
        let env = vars(&[
            ("VANTAGE_LISTEN", "127.0.0.1:9001"),
            ("VANTAGE_LOG_FORMAT", "json"),
        ]);
        let flags = Overrides {
            listen: Some("127.0.0.1:9002".parse().unwrap()),
            ..Default::default()
        };
        let (c, l) = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.server.listen.port(), 9001, "env beats file");
        assert_eq!(
            (c.log.level.as_str(), c.log.format),
            ("debug", LogFormat::Json)
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let (c, _) = Config::load(Some(&file), &env, &flags).unwrap();
        assert_eq!(c.server.listen.port(), 9002, "flags beat env");
        assert_eq!(c.database_url(), "sqlite:///from/file/vantage.db");
    }

    #[test]
    fn unknown_keys_and_variables_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "datadir = \"x\"\n[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n",
        )
        .unwrap();
        let env = vars(&[
            ("VANTAGE_LISTN", "x"),
            ("VANTAGE_TEST_DATA", "/d"),
            ("PATH", "/bin"),
        ]);
        let (_, l) = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        let w = l.warnings.join("\n");
        assert!(
            w.contains("`datadir`") && w.contains("`server.port`") && w.contains("VANTAGE_LISTN"),
            "{w}"
        );
        assert_eq!(l.warnings.len(), 3, "{w}");
    }

    #[test]
    fn bad_files_and_values_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let e = Config::load(Some(&missing), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read configuration file") && e.contains("missing.toml"),
            "{e}"
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[server]\nlisten = 12\n").unwrap();
        let e = Config::load(Some(&bad), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.toml") && e.contains("line 2"), "{e}");
        std::fs::write(&bad, "[server\n").unwrap();
        let e = Config::load(Some(&bad), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid configuration file"), "{e}");
        let e = Config::load(
            None,
            &vars(&[("VANTAGE_LISTEN", "nowhere")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("VANTAGE_LISTEN"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vantage.example.toml");
        let mut warnings = Vec::new();
        let c = Config::from_file(&path, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.server.listen, ServerConfig::default().listen);
        assert!(c.priority.policy("pci").is_some() && c.priority.policy("default").is_some());
        // Every key of the effective configuration appears in the example.
        let example = std::fs::read_to_string(&path).unwrap();
        for key in [
            "data_dir",
            "url",
            "max_connections",
            "listen",
            "request_timeout_secs",
            "level",
            "format",
            "cvss_versions",
            "prefer_primary",
            "exposure_modifies_vector",
            "default_policy",
            "default_model",
            "probes_file",
            "services_file",
            "deny",
            "concurrency",
            "rate",
            "retries",
            "initial_timeout_ms",
            "min_timeout_ms",
            "max_timeout_ms",
            "host_parallelism",
            "intensity",
            "probe_wait_ms",
            "port_budget_secs",
            "master_key",
            "key_file",
        ] {
            assert!(example.contains(&format!("{key} =")), "example lacks {key}");
        }
    }

    #[test]
    fn a_priority_policy_typo_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vantage.toml");
        std::fs::write(
            &path,
            "[priority.policies.x]\n[[priority.policies.x.rules]]\nname = \"a\"\npriority = \"p1\"\nwhen = { kevv = true }\n",
        )
        .unwrap();
        let e = Config::load(Some(&path), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("vantage.toml") && e.contains("kevv"), "{e}");
        std::fs::write(
            &path,
            "[priority.policies.x]\n[[priority.policies.x.rules]]\nname = \"a\"\npriority = \"p1\"\nwhen = { cvss_min = 11.0 }\n",
        )
        .unwrap();
        let e = Config::load(Some(&path), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cvss_min = 11 is outside 0–10"), "{e}");
    }

    #[test]
    fn shown_configuration_hides_passwords() {
        let mut c = Config::default();
        c.database.url = "postgres://u:hunter2@h/db".into();
        c.secrets.master_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into();
        let shown = c.to_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("AAECAwQF"), "{shown}");
    }
}
