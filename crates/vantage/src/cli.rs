//! The command line as clap sees it ("low-level" arguments). `main` turns these into the
//! configuration overrides and calls the command modules.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Vantage: continuous threat exposure management.
///
/// Discover what you own, find what is vulnerable, rank it by real risk, prove the fixes.
/// Every command works directly on the data directory (or the PostgreSQL database), with or
/// without a running server.
#[derive(Debug, Parser)]
#[command(
    name = "vantage",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Configuration: defaults → vantage.toml (--config) → VANTAGE_* environment → flags.\n\
Exit codes: 0 success, 1 failure, 2 bad usage or input.\n\n\
Examples:\n  vantage serve                               web UI and API on http://127.0.0.1:8080\n  \
vantage findings list --scope Production --priority p1 --format csv\n  \
vantage --database postgres://vantage@db/vantage migrate"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (SQLite database and local state) [env: VANTAGE_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [env: VANTAGE_DATABASE]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Configuration file (default: ./vantage.toml if present) [env: VANTAGE_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. info, debug, vantage_store=debug [env: VANTAGE_LOG_LEVEL]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web UI, REST API and scheduler.
    ///
    /// On first start creates the data directory, the database and an administrator whose
    /// one-time password is printed. Stops gracefully on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// The asset inventory.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Vulnerabilities found on assets.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// The vulnerability knowledge base: import feed files, see their status.
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// Everything known about one vulnerability: scores by source, EPSS, KEV, CERT-FR, exploits.
    Cve(CveArgs),
    /// Score CVSS vectors (v2.0, v3.0, v3.1, v4.0), exactly as FIRST's calculators do.
    Cvss(CvssArgs),
    /// Software inventories: import what is installed on a machine and find its
    /// vulnerabilities with the distribution's own security data.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Scan the network (hosts, open ports, services, TLS) or an artefact (an SBOM).
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Discover assets through other systems' APIs: clouds (AWS, Azure, GCP, OpenStack),
    /// Kubernetes, and the external attack surface of a domain (DNS, certificate transparency,
    /// RDAP).
    #[command(subcommand)]
    Discover(DiscoverCommand),
    /// Import results of other tools (nmap XML).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Scopes (groups of assets with their policies).
    #[command(subcommand)]
    Scopes(ScopesCommand),
    /// The credentials vault: SSH keys, passwords and tokens collectors log in with, encrypted
    /// at rest (XChaCha20-Poly1305 under the master key: secrets.master_key,
    /// VANTAGE_MASTER_KEY, or DATA_DIR/master.key created on first use). Secrets are never
    /// printed.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Alerts (new P1, newly in KEV, SLA passed or near, reopened findings, end-of-life OS,
    /// low scan coverage, changed SSH host keys), newest first; and the rules that send them
    /// to connectors.
    #[command(args_conflicts_with_subcommands = true)]
    Alerts(AlertsArgs),
    /// Connectors to ITSM and chat tools (Jira, ServiceNow, GLPI, Teams, Slack, e-mail, signed
    /// webhook): tickets per remediation unit, asset or finding, and alert delivery.
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
    /// Remediation runs over SSH: dry run, approval, execution in the maintenance window, and
    /// the re-scan that proves the fix.
    #[command(subcommand)]
    Remediate(RemediateCommand),
    /// Durable jobs: scans, inventories and discoveries queued by scopes' schedules (run by
    /// `serve`'s workers), by people, or by other jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Attack paths: from internet-exposed services through exploitable findings to assets of
    /// critical scopes, ranked by likelihood and impact, with the choke points whose fix cuts
    /// most paths.
    #[command(after_help = "Examples:\n  \
        vantage paths                      # paths to every scope of criticality 4-5\n  \
        vantage paths --to Production --limit 20 --format json\n  \
        vantage paths --choke-points       # the findings whose fix cuts most paths\n\n\
The analysis also marks every finding on no known path (`on_attack_path: false` in \
`findings list --format json`).")]
    Paths(PathsArgs),
    /// Daily metric snapshots for dashboards: open findings by scope × priority, MTTR, SLA
    /// compliance, scan coverage, assets added and decommissioned. `serve` takes one a day.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Patch plans: open findings grouped into remediation units (upgrade a package to the
    /// smallest version that fixes all its findings, remove a package with no fix, upgrade an
    /// end-of-life OS) with the commands for the asset's package manager.
    #[command(subcommand)]
    Patch(PatchCommand),
    /// Local user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Show the configuration in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Developer tools: synthetic data for benchmarks and demos.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: VANTAGE_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Output format of lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// A JSON array of complete objects.
    Json,
    /// CSV with a header row.
    Csv,
}

#[derive(Debug, Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// List assets (live ones unless --include-decommissioned).
    List(AssetsListArgs),
}

#[derive(Debug, Args)]
pub struct AssetsListArgs {
    /// Only this kind: host, container_image, cloud_instance, load_balancer, domain, ip_address, web_application.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only assets of this scope (name or id).
    #[arg(long)]
    pub scope: Option<String>,
    /// Only assets whose name contains this text.
    #[arg(long)]
    pub search: Option<String>,
    /// Include decommissioned assets.
    #[arg(long)]
    pub include_decommissioned: bool,
    /// Stop after this many rows (default: all).
    #[arg(long)]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// List findings (open and reopened unless --status says otherwise).
    List(FindingsListArgs),
    /// Re-compute priorities now: contextual CVSS (CVSS-BTE), policy rules, SSVC, explanations.
    ///
    /// Incremental: only findings whose inputs changed (new findings, new EPSS day, new KEV
    /// entry, assets that changed scopes, edited policies) are rewritten. `serve` runs it after
    /// every feed refresh; run it after importing feeds or inventories by hand.
    Prioritize {
        /// table (a summary) or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Accept a finding's risk until a date, with a justification (audited). The finding is
    /// open again when the acceptance expires.
    #[command(
        after_help = "Example:\n  vantage findings accept 42 --until 2027-03-31 --reason \"compensating WAF rule, vendor fix due Q1\""
    )]
    Accept {
        /// Finding id.
        id: i64,
        /// Expiry: a date (YYYY-MM-DD, end of that day UTC) or an RFC 3339 time.
        #[arg(long)]
        until: String,
        /// Why the risk is acceptable.
        #[arg(long)]
        reason: String,
    },
    /// Mark a finding a false positive, with the reason (audited).
    FalsePositive {
        /// Finding id.
        id: i64,
        /// Why it does not apply.
        #[arg(long)]
        reason: String,
    },
    /// Undo an acceptance or false positive: the finding is open again (audited).
    Reopen {
        /// Finding id.
        id: i64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A finding's priority history: every change, with the explanation it had from then on.
    History {
        /// Finding id.
        id: i64,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Debug, Args)]
pub struct FindingsListArgs {
    /// Only findings on assets of this scope (name or id).
    #[arg(long)]
    pub scope: Option<String>,
    /// Only findings on this asset (id, name, IP or host name).
    #[arg(long)]
    pub asset: Option<String>,
    /// Only this priority: p1, p2, p3, p4.
    #[arg(long)]
    pub priority: Option<String>,
    /// open (new + open + reopened), all, new, fixed, reopened, accepted_risk, false_positive.
    #[arg(long, default_value = "open")]
    pub status: String,
    /// Only this vulnerability, e.g. CVE-2024-3094.
    #[arg(long)]
    pub cve: Option<String>,
    /// Stop after this many rows (default: all).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Show why each finding has its priority: contextual score, derived CVSS vector, the
    /// facts and the rule that decided, and the due date (JSON always carries them).
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Import feed files or directories: NVD 2.0, CVE 5, OSV (JSON lines or all.zip), EPSS, KEV,
    /// CERT-FR ALE, Exploit-DB (files_exploits.csv or CVE map), Alpine secdb, Debian DSA/DLA
    /// lists and tracker JSON, OVAL (Red Hat, Rocky, AlmaLinux, Ubuntu).
    ///
    /// The format is recognised from the content (gzip or not); --source forces it. Each file is
    /// imported in one transaction: a malformed file changes nothing. A file imported before
    /// (same SHA-256) is skipped unless --force.
    Import {
        /// Files or directories (directories are read recursively, in name order).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Force the feed: nvd, cve5, osv, epss, kev, certfr, exploitdb, exploitdb-csv, alpine-secdb,
        /// debian-list, debian-tracker, oval.
        #[arg(long)]
        source: Option<String>,
        /// Score date of an EPSS file that does not state it (YYYY-MM-DD).
        #[arg(long)]
        date: Option<String>,
        /// Import again files already imported.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Download the feeds from their endpoints and import what changed.
    ///
    /// Sources: kev, epss, nvd (CVE API 2.0, incremental from the last sync), certfr, exploitdb,
    /// debian (DSA/DLA lists), alpine (secdb), osv (per-ecosystem archives). Requests are
    /// conditional (ETag / Last-Modified), retried with backoff on 429/5xx/lost connections and
    /// resumed where they stopped. Endpoints, the NVD API key and retry settings are in the
    /// [feeds] section of vantage.toml (see `vantage config show`); point the endpoints at a
    /// mirror on air-gapped sites. Exit code 1 if any source failed (the others are applied).
    ///
    /// Examples:
    ///   vantage feeds sync                  every configured source
    ///   vantage feeds sync kev epss         just these
    ///   VANTAGE_NVD_API_KEY=… vantage feeds sync nvd
    #[command(verbatim_doc_comment)]
    Sync {
        /// Sources to sync (default: feeds.sources from the configuration, all of them).
        sources: Vec<String>,
        /// Ignore stored ETags, dates and the NVD watermark: fetch and import everything again.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Per feed: last import, its data date, records.
    Status(FormatArg),
}

#[derive(Debug, Args)]
pub struct CveArgs {
    /// The vulnerability id, e.g. CVE-2018-13379.
    pub id: String,
    /// table (a readable summary) or json (everything).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    vantage cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n  \
    vantage cvss 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L' --format table\n  \
    cut -f2 vectors.tsv | vantage cvss > scores.jsonl\n\n\
Each vector gets one JSON object per line: {\"vector\", \"version\", \"base_score\", \"score\",\n\
\"severity\", \"nomenclature\"}. `score` is the final score after every temporal (v2/v3),\n\
threat (v4) and environmental metric in the vector; `nomenclature` (v4.0 only) is CVSS-B,\n\
CVSS-BT, CVSS-BE or CVSS-BTE. An invalid vector gets {\"vector\", \"error\"} naming the bad\n\
metric, the others are still scored, and the exit code is 2.")]
pub struct CvssArgs {
    /// Vectors to score. Without any, vectors are read from standard input, one per line, and
    /// answered line for line as they arrive.
    #[arg(value_name = "VECTOR")]
    pub vectors: Vec<String>,
    /// json: one object per line (JSON Lines); table: aligned columns; csv: with a header.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Import an inventory file for an asset: an Alpine installed database
    /// (/lib/apk/db/installed), a dpkg status file (/var/lib/dpkg/status) or `dpkg-query -W`
    /// output, an rpm list (`rpm -qa`, or
    /// `rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n'`), or a
    /// CycloneDX / SPDX JSON SBOM (recognised from the content), or a language lockfile
    /// (recognised from its name: Cargo.lock, package-lock.json, requirements*.txt,
    /// poetry.lock, Pipfile.lock, go.mod, composer.lock, Gemfile.lock).
    ///
    /// The asset is created or updated by name; its packages are replaced. Distribution
    /// packages are judged by source package with the distribution's security data for the
    /// release (Alpine secdb, Debian security tracker and DSA/DLA lists, Ubuntu/Red Hat/Rocky
    /// OVAL): installed < fixed → a finding with its evidence; open issues are reported with the
    /// tracker's status. Language packages (npm, PyPI, crates.io, Maven, Go) are judged by the
    /// OSV advisories imported (confidence medium). Findings of an earlier import that are gone
    /// are marked fixed. Then everything is prioritized. A file that does not parse changes
    /// nothing.
    #[command(after_help = "Examples:\n  \
        vantage feeds import ../shared/data/distro/alpine-secdb\n  \
        vantage inventory import --asset web-01 --os alpine:3.19 installed\n  \
        vantage inventory import --asset db-02 --os debian:12 /var/lib/dpkg/status --fail-on p1\n  \
        vantage inventory import --asset shop bom.cdx.json\n  \
        vantage inventory import --asset shop-api Cargo.lock\n\n\
Exit codes: 0, 1 failure, 2 bad input, 3 a finding at or above --fail-on.")]
    Import {
        /// Asset name (created if new).
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        common: ImportArgs,
    },
    /// Inventory this machine: OS, running and installed kernels, uptime, reboot flag, listening
    /// sockets and every installed package (dpkg status, apk installed database, or rpm), judged
    /// like `inventory import` (asset = the host name). A fresh install shows its own exposure.
    #[command(after_help = "Examples:\n  \
        vantage feeds sync debian && vantage inventory local\n  \
        vantage inventory local --format json --fail-on p1\n  \
        vantage inventory local --root /mnt/image-rootfs\n\n\
Exit codes: 0, 1 failure, 2 bad input (no package database), 3 a finding at or above --fail-on.")]
    Local {
        /// Read the machine whose file system is mounted here (a chroot, a mounted image).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Exit with code 3 when an open finding has this priority or a higher one (p1 … p4).
        #[arg(long, value_name = "PRIORITY")]
        fail_on: Option<String>,
        /// table (host facts, a summary and the P1/P2 findings), json (everything, every
        /// package) or csv (the P1/P2 findings).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Inventory hosts over SSH, agentless: log in (key, password or a vault credential;
    /// optionally through a jump host; optionally sudo), check the host key against the one
    /// pinned on first contact, run fixed read-only commands (os-release, uname -r,
    /// /proc/uptime, dpkg-query / rpm -qa / apk database, ss -tulpn) and judge the packages like
    /// `inventory import`. A changed host key refuses the host and raises an alert.
    #[command(after_help = "Examples:\n  \
        vantage inventory ssh root@10.0.0.5 --key ~/.ssh/id_ed25519\n  \
        PW=… vantage inventory ssh admin@db-01:2222 --password-env PW --sudo-password-env PW\n  \
        vantage inventory ssh ops@10.1.0.7 --credential prod-key --jump ops@bastion --jump-credential bastion-key\n  \
        vantage inventory ssh --targets-file hosts.txt --credential prod-key --concurrency 20 --format csv\n  \
        vantage inventory ssh --scope prod            # the scope's SSH targets (vantage scopes ssh-target add)\n\n\
A target is user@host[:port] (user@[v6]:port). Secrets are never taken from the command line.\n\
Exit codes: 0, 1 a target failed, 2 bad input, 3 a finding at or above --fail-on.")]
    Ssh(Box<SshArgs>),
    /// Forget the SSH host key pinned for a target (after a legitimate re-install): the next
    /// inventory pins the key it is shown.
    ForgetHostKey {
        /// user@host[:port] or host[:port].
        target: String,
    },
    /// Judge stored inventories again with the current knowledge (new advisories become
    /// findings without re-scanning hosts, withdrawn ones are closed), then prioritize. By
    /// default only what the knowledge base changed since the last detection is judged: the
    /// changed packages on the hosts that hold them. `feeds import`, `feeds sync` and the
    /// server's feed refresh do this by themselves.
    Redetect {
        /// Judge every package of every stored inventory, not only what changed.
        #[arg(long)]
        all: bool,
        /// table or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscoverCommand {
    /// Map the external attack surface of domains: DNS records (A, AAAA, CNAME, MX, NS, TXT,
    /// SOA, CAA), a zone-transfer attempt against each name server, subdomain brute force with
    /// wildcard detection, Certificate Transparency (crt.sh and RFC 6962 logs), RDAP
    /// registration, related domains (shared certificates, same registrant, shared name
    /// servers) and reverse DNS of declared ranges. Every name found is resolved and stored as
    /// an external domain asset; those resolving into a declared range are queued for network
    /// discovery, the others are reported and never scanned.
    #[command(after_help = "Examples:\n  \
        vantage discover domain example.com --range 203.0.113.0/24\n  \
        vantage discover domain example.com example.org --scope DMZ --wordlist names.txt\n  \
        vantage discover domain example.com --no-brute --ct-log https://ct.example/2026/ --format json\n\n\
Names are sent to crt.sh and RDAP (rdap.org) unless --no-crtsh / --no-rdap.")]
    Domain(DomainArgs),
    /// Inventory AWS: EC2 instances (network interfaces, public and Elastic IPs), security
    /// groups and the ports they open to the internet, unattached Elastic IPs and ELBv2 load
    /// balancers, in every enabled region or --regions, for the credentials' account or each
    /// --assume-role. Requests are signed with SigV4; credentials, region and endpoints come
    /// from the standard AWS variables and ~/.aws files.
    #[command(after_help = "Examples:\n  \
        vantage discover aws --regions eu-west-3,us-east-1\n  \
        vantage discover aws --profile audit --format json\n  \
        vantage discover aws --assume-role arn:aws:iam::111122223333:role/VantageAudit \\\n      \
          --assume-role arn:aws:iam::444455556666:role/VantageAudit --scope Production\n\n\
Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], else the profile\n\
(--profile, AWS_PROFILE, default) in ~/.aws/credentials and ~/.aws/config, including\n\
role_arn + source_profile. Endpoints: AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_STS,\n\
AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, AWS_ENDPOINT_URL, or --endpoint.\n\
The identity needs ec2:Describe*, elasticloadbalancing:Describe* and sts:GetCallerIdentity\n\
(the ReadOnlyAccess policy has them).\n\n\
An instance is internet-exposed when it has a public address and a security group opens a\n\
port to 0.0.0.0/0 or ::/0. Instances no longer listed by a region that was listed\n\
completely are decommissioned; a region that failed keeps its assets as they were.")]
    Aws {
        /// Regions to list (comma-separated or repeated; default: every region enabled for
        /// the account).
        #[arg(
            long = "regions",
            alias = "region",
            value_delimiter = ',',
            value_name = "REGION"
        )]
        regions: Vec<String>,
        /// Profile in ~/.aws/credentials or ~/.aws/config.
        #[arg(long)]
        profile: Option<String>,
        /// Role to assume (one account each; repeatable). Without it, the credentials' own
        /// account is listed.
        #[arg(long = "assume-role", value_name = "ROLE_ARN")]
        assume_roles: Vec<String>,
        /// ExternalId for --assume-role.
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        /// Endpoint URL for every AWS service (a private endpoint, LocalStack, moto).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Do not list ELBv2 load balancers.
        #[arg(long)]
        no_load_balancers: bool,
        #[command(flatten)]
        common: CloudArgs,
    },
    /// Inventory Azure: virtual machines, their network interfaces, public IPs and network
    /// security groups through Azure Resource Manager, for every enabled subscription or
    /// --subscription.
    #[command(after_help = "Examples:\n  \
        vantage discover azure\n  \
        vantage discover azure --subscription 00000000-0000-0000-0000-000000000000 --format csv\n\n\
Credentials: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (a service principal with\n\
the Reader role; AZURE_AUTHORITY_HOST for sovereign clouds), or AZURE_ACCESS_TOKEN.")]
    Azure {
        /// Subscription id (repeatable; default AZURE_SUBSCRIPTION_ID, else every enabled one).
        #[arg(long = "subscription", value_name = "ID")]
        subscriptions: Vec<String>,
        /// Resource Manager endpoint (default https://management.azure.com).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Entra ID authority (default AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com).
        #[arg(long, value_name = "URL")]
        authority: Option<String>,
        #[command(flatten)]
        common: CloudArgs,
    },
    /// Inventory GCP: Compute Engine instances of every zone (aggregatedList) and the VPC
    /// firewall rules that open their ports to the internet.
    #[command(after_help = "Examples:\n  \
        vantage discover gcp --project shop-prod\n  \
        vantage discover gcp --key-file sa.json --project shop-prod --project shop-dev\n\n\
Credentials: a service-account JSON key (--key-file or GOOGLE_APPLICATION_CREDENTIALS) with\n\
roles/compute.viewer, or CLOUDSDK_AUTH_ACCESS_TOKEN.")]
    Gcp {
        /// Project id (repeatable; default: the key's project_id, else GOOGLE_CLOUD_PROJECT).
        #[arg(long = "project", value_name = "ID")]
        projects: Vec<String>,
        /// Service-account key file.
        #[arg(long, value_name = "FILE")]
        key_file: Option<String>,
        /// Compute API endpoint (default https://compute.googleapis.com).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        #[command(flatten)]
        common: CloudArgs,
    },
    /// Inventory OpenStack: Nova servers, Neutron ports, floating IPs and security groups of
    /// the project the credentials are scoped to.
    #[command(after_help = "Examples:\n  \
        . ./openrc.sh && vantage discover openstack\n  \
        vantage discover openstack --region RegionTwo --format json\n\n\
Credentials: the variables an openrc file sets (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD,\n\
OS_PROJECT_NAME or OS_PROJECT_ID, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME,\n\
OS_REGION_NAME), or OS_APPLICATION_CREDENTIAL_ID/OS_APPLICATION_CREDENTIAL_SECRET.")]
    Openstack {
        /// Keystone URL (default OS_AUTH_URL).
        #[arg(long, value_name = "URL")]
        auth_url: Option<String>,
        /// Region (default OS_REGION_NAME, else the catalogue's first).
        #[arg(long)]
        region: Option<String>,
        /// Endpoint interface: public, internal or admin (default OS_INTERFACE, else public).
        #[arg(long)]
        interface: Option<String>,
        #[command(flatten)]
        common: CloudArgs,
    },
    /// List the images running pods use (the digests the kubelets report) through the
    /// Kubernetes API, and queue each for an image scan (`vantage scan image --queued`, or the
    /// scheduler). Logs in with a kubeconfig (token, token file, client certificate or basic
    /// auth; exec plugins are not run) or the pod's service account (--in-cluster).
    #[command(after_help = "Examples:\n  \
        vantage discover kubernetes --kubeconfig ~/.kube/prod.yaml --context prod\n  \
        vantage discover kubernetes --namespace shop --scan --insecure-registry 127.0.0.1:5000\n  \
        vantage discover kubernetes --in-cluster --format json\n\n\
The account needs `list` on pods (a ClusterRole with pods: [list]).")]
    Kubernetes {
        /// Kubeconfig file (default: $KUBECONFIG's first file, else ~/.kube/config).
        #[arg(long, value_name = "FILE", conflicts_with = "in_cluster")]
        kubeconfig: Option<PathBuf>,
        /// Kubeconfig context (default: current-context).
        #[arg(long)]
        context: Option<String>,
        /// Use the pod's service account (token and CA under
        /// /var/run/secrets/kubernetes.io/serviceaccount).
        #[arg(long)]
        in_cluster: bool,
        /// Only this namespace.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        /// The API server's URL instead of the kubeconfig's or the pod's (a proxy, a
        /// port-forward).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Scan the queued images now.
        #[arg(long)]
        scan: bool,
        /// Plain-HTTP registries for --scan (host:port; repeatable).
        #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
        insecure_registry: Vec<String>,
        /// table, json or csv.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `vantage discover domain`.
#[derive(Debug, Args)]
pub struct DomainArgs {
    /// The organisation's domains.
    #[arg(value_name = "DOMAIN", required = true)]
    pub domains: Vec<String>,
    /// Recursive name server to ask, ADDRESS[:PORT] (repeatable; default: /etc/resolv.conf's).
    #[arg(long = "nameserver", value_name = "ADDR[:PORT]")]
    pub nameservers: Vec<String>,
    /// Port of the authoritative name servers, for zone-transfer attempts.
    #[arg(long, default_value_t = 53, value_name = "PORT")]
    pub dns_port: u16,
    /// Word list for subdomain brute force, one label per line (default: a built-in list of
    /// about a hundred common names).
    #[arg(long, value_name = "FILE")]
    pub wordlist: Option<String>,
    /// Do not brute-force subdomains.
    #[arg(long)]
    pub no_brute: bool,
    /// crt.sh base URL.
    #[arg(long, default_value = "https://crt.sh", value_name = "URL")]
    pub crtsh: String,
    /// RFC 6962 log to follow (base URL; repeatable). Each run reads the entries appended since
    /// the previous one (the first run: the last --ct-window).
    #[arg(long = "ct-log", value_name = "URL")]
    pub ct_logs: Vec<String>,
    /// Entries read from a log followed for the first time.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub ct_window: u64,
    /// Do not ask crt.sh.
    #[arg(long)]
    pub no_crtsh: bool,
    /// RDAP base URL (rdap.org redirects to each registry's server).
    #[arg(long, default_value = "https://rdap.org", value_name = "URL")]
    pub rdap: String,
    /// Do not ask RDAP.
    #[arg(long)]
    pub no_rdap: bool,
    /// An IP range the organisation owns (repeatable): names resolving into it are queued for
    /// network discovery; names resolving elsewhere are only reported.
    #[arg(long = "range", value_name = "RANGE")]
    pub ranges: Vec<String>,
    /// Reverse DNS (PTR) of every address of the declared ranges (at most 65,536).
    #[arg(long)]
    pub reverse: bool,
    /// Scope whose IP ranges are declared too and that bounds the queued scan.
    #[arg(long)]
    pub scope: Option<String>,
    /// DNS queries in flight.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Timeout per query and request, seconds.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub timeout: u64,
    /// table, json or csv.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Options shared by the cloud inventories.
#[derive(Debug, Args)]
pub struct CloudArgs {
    /// Also make every listed resource a member of this scope (scopes whose rules match —
    /// cloud account, region, tags, IP ranges, domains — get it anyway).
    #[arg(long)]
    pub scope: Option<String>,
    /// Regions (accounts) listed at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    /// Results asked per page.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub page_size: u32,
    /// Exit with status 1 when any region or account could not be listed.
    #[arg(long)]
    pub strict: bool,
    /// table, json or csv.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `vantage scan image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// A file (docker save archive, OCI archive), a directory (OCI layout) or a registry
    /// reference (host[:port]/repo:tag or @sha256:…).
    #[arg(value_name = "REF|FILE", required_unless_present = "queued")]
    pub image: Option<String>,
    /// Scan every image queued by `vantage discover kubernetes` instead.
    #[arg(long, conflicts_with = "image")]
    pub queued: bool,
    /// os/arch[/variant] of a multi-platform image (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Speak plain HTTP to this registry (host:port; repeatable). Only for local registries.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub insecure_registry: Vec<String>,
    /// Registry user name (its password from --password-env).
    #[arg(long, requires = "password_env")]
    pub username: Option<String>,
    /// Environment variable holding the registry password or token.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// A vault credential (password or token) for the registry.
    #[arg(long, value_name = "NAME", conflicts_with = "password_env")]
    pub credential: Option<String>,
    /// MiB all layers may unpack to (a decompression bomb is refused past it).
    #[arg(long, value_name = "MIB", default_value_t = 16384)]
    pub max_unpacked_mib: u64,
    /// The release (`debian:12`, `alpine:3.19`, or an os-release file) when the image has no
    /// os-release of its own.
    #[arg(long)]
    pub os: Option<String>,
    /// Exit with code 3 when an open finding has this priority or a higher one (p1 … p4).
    #[arg(long, value_name = "PRIORITY")]
    pub fail_on: Option<String>,
    /// table (a summary and the P1/P2 findings), json (everything) or csv (the P1/P2 findings).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `vantage inventory ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Targets: user@host[:port].
    #[arg(value_name = "USER@HOST[:PORT]")]
    pub targets: Vec<String>,
    /// Read targets from a file (one per line; # comments).
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,
    /// Inventory the SSH targets stored for this scope (each with its own credential).
    #[arg(long, value_name = "SCOPE", conflicts_with_all = ["targets", "targets_file"])]
    pub scope: Option<String>,
    /// Private key file (OpenSSH or PEM).
    #[arg(long, value_name = "FILE", group = "auth")]
    pub key: Option<PathBuf>,
    /// Environment variable holding the key's passphrase.
    #[arg(long, value_name = "VAR", requires = "key")]
    pub key_passphrase_env: Option<String>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR", group = "auth")]
    pub password_env: Option<String>,
    /// A vault credential (ssh_key or password); its user name is used when the target has none.
    #[arg(long, value_name = "NAME", group = "auth")]
    pub credential: Option<String>,
    /// Go through this bastion: user@host[:port].
    #[arg(long, value_name = "USER@HOST[:PORT]")]
    pub jump: Option<String>,
    /// The jump host's key file.
    #[arg(long, value_name = "FILE", requires = "jump", group = "jump_auth")]
    pub jump_key: Option<PathBuf>,
    /// Environment variable holding the jump host's password.
    #[arg(long, value_name = "VAR", requires = "jump", group = "jump_auth")]
    pub jump_password_env: Option<String>,
    /// The jump host's vault credential.
    #[arg(long, value_name = "NAME", requires = "jump", group = "jump_auth")]
    pub jump_credential: Option<String>,
    /// Run the privileged command (ss -p) with `sudo -n` (passwordless sudo).
    #[arg(long)]
    pub sudo: bool,
    /// Run it with `sudo -S`, the password read from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "sudo")]
    pub sudo_password_env: Option<String>,
    /// Seconds to connect and log in (per hop).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Seconds each command may run.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub command_timeout: u64,
    /// MiB each command may print.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_output_mib: usize,
    /// Targets inventoried at once.
    #[arg(long, default_value_t = 20)]
    pub concurrency: usize,
    /// Also offer SHA-1 key exchanges and hmac-sha1, after the modern ones, for hosts that know
    /// nothing newer (OpenSSH < 7.4, CentOS 6, appliances).
    #[arg(long)]
    pub legacy_algorithms: bool,
    /// Collect and print the facts without storing an inventory (checks access and host keys).
    #[arg(long)]
    pub collect_only: bool,
    /// Print the exact commands run on each host (and with sudo), then exit.
    #[arg(long)]
    pub show_script: bool,
    /// Exit with code 3 when an open finding has this priority or a higher one (p1 … p4).
    #[arg(long, value_name = "PRIORITY")]
    pub fail_on: Option<String>,
    /// table, json or csv. One target: its full report; several: one row per target.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// What every inventory import takes besides the asset.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Operating system release, DISTRO:RELEASE: alpine:3.19, debian:12, ubuntu:24.04,
    /// rhel:9, rocky:9 — or the path of the host's os-release file (a copy of /etc/os-release).
    /// Needed for distribution packages unless the file names it (SBOMs).
    #[arg(long)]
    pub os: Option<String>,
    /// The inventory file.
    pub file: std::path::PathBuf,
    /// Exit with code 3 when an open finding of the asset has this priority or a higher
    /// one (p1 … p4), for CI gates.
    #[arg(long, value_name = "PRIORITY")]
    pub fail_on: Option<String>,
    /// table (a summary and the P1/P2 findings), json (the whole report) or csv (the P1/P2
    /// findings).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import nmap XML (`nmap -oX FILE`, with -sV for services): every host that was up becomes
    /// an asset with its open ports, products, versions and CPEs, exactly as `scan network`
    /// stores them; services on ports nmap covered and no longer saw open are closed.
    #[command(after_help = "Examples:\n  \
        nmap -sV -p- -oX lab.xml 10.0.0.0/24 && vantage import nmap lab.xml --scope lab\n\n\
Exit codes: 0, 1 failure, 2 bad input (malformed XML names the byte position; a host outside \
--scope is refused and nothing is stored).")]
    Nmap {
        /// The XML file.
        file: PathBuf,
        /// Scope the hosts belong to (they must be inside its IP ranges).
        #[arg(long)]
        scope: Option<String>,
        /// table (hosts and services), json (the whole report) or csv (one row per service).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Addresses, CIDR blocks, ranges (10.0.0.1-20, 10.0.0.1-10.0.1.5), IPv6 and host names;
    /// several, or comma-separated.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// TCP ports, nmap style: 22,80,443 or 1-1024 or - (all) [default: the top 1000 of
    /// nmap-services, else 1-1024]
    #[arg(long, short = 'p', value_name = "SPEC", conflicts_with = "top_ports")]
    pub ports: Option<String>,
    /// The N most frequently open ports of nmap's nmap-services table.
    #[arg(long, value_name = "N")]
    pub top_ports: Option<usize>,
    /// Addresses, blocks or ranges to leave out (repeatable, or comma-separated).
    #[arg(long, value_name = "TARGET", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Scope whose IP ranges bound the scan: any target outside them is refused before a packet
    /// is sent. Found hosts join the scope; members the scan covered and did not see count a
    /// missed scan (decommissioned after the scope's threshold).
    #[arg(long)]
    pub scope: Option<String>,
    /// Skip host discovery: treat every address as up (nmap's -Pn).
    #[arg(long = "no-ping", visible_alias = "Pn")]
    pub no_ping: bool,
    /// Only find open ports; do not identify services, TLS or HTTP.
    #[arg(long)]
    pub no_service_detection: bool,
    /// Connection attempts per second [default: scan.rate, unlimited]
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Connection attempts in flight at once [default: scan.concurrency, 2000]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// table (hosts and services), json (the whole report) or csv (one row per service).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Discover hosts and open TCP ports (connect scan: no root needed), identify the services
    /// with nmap's service probes, read TLS certificates and web pages, and store it all:
    /// assets merged by address, name and certificate; services closed when they disappear;
    /// findings for vulnerable product versions (NVD CPE ranges) and weak or expired TLS.
    ///
    /// Every target is checked against --scope's IP ranges (without a scope: the targets given)
    /// and the global deny list (scan.deny) before any connection; a refusal exits with code 2.
    /// Service identification reads nmap's probe file at run time (scan.probes_file, from
    /// Debian's nmap-common); it is not shipped with Vantage.
    #[command(after_help = "Examples:\n  \
        vantage scan network 10.0.0.0/24 --top-ports 100\n  \
        vantage scan network db1.example.net 10.0.1.5-20 -p 22,80,443,5432 --scope prod --format json\n  \
        vantage scan network 10.0.0.0/16 --exclude 10.0.9.0/24 --rate 5000 --no-service-detection\n\n\
Exit codes: 0, 1 failure, 2 bad input (malformed target or ports, unknown scope, a target outside \
the scope or in the deny list, a host name that does not resolve).")]
    Network(NetworkArgs),
    /// Inventory a container image without a container runtime: a `docker save` archive, an
    /// OCI image layout (directory or tar), or an image in a registry (distribution API v2;
    /// anonymous, basic or token auth; a multi-platform image resolved to --platform). Layers
    /// are applied in order with whiteouts; the dpkg, apk or rpm (sqlite) database is read and
    /// judged like `inventory import`. The image becomes an asset known by its digest: read
    /// from a file or a registry, one image is one asset.
    #[command(after_help = "Examples:\n  \
        docker save shop:1.4 -o shop.tar && vantage scan image shop.tar\n  \
        vantage scan image ./oci-layout --format json\n  \
        vantage scan image registry.example/shop:1.4 --platform linux/arm64 --credential registry\n  \
        vantage scan image 127.0.0.1:5000/lab/app:1 --insecure-registry 127.0.0.1:5000\n  \
        vantage scan image --queued          # the images `discover kubernetes` queued\n\n\
Hostile archives (absolute paths, `..`, symlinks out of the image, bombs past --max-unpacked-mib, \
truncated layers) are refused; nothing from a layer is written to disk.\n\
Exit codes: 0, 1 failure (registry unreachable), 2 bad input (an unreadable or hostile image), \
3 a finding at or above --fail-on.")]
    Image(ImageArgs),
    /// Judge a CycloneDX or SPDX JSON SBOM: its components become the packages of an asset
    /// (named by the SBOM's subject unless --asset is given; a container image when the SBOM
    /// says so), judged like `inventory import` — distribution packages by the distribution's
    /// data, language packages by OSV advisories — and prioritized.
    #[command(after_help = "Examples:\n  \
        vantage feeds import ../shared/data/advisories\n  \
        vantage scan sbom bom.cdx.json --fail-on p2\n  \
        syft registry.example/shop:1.4 -o cyclonedx-json | tee bom.json && vantage scan sbom bom.json\n\n\
Exit codes: 0, 1 failure, 2 bad input (an invalid Package URL names its JSON path and line), \
3 a finding at or above --fail-on.")]
    Sbom {
        /// Asset name (default: the SBOM's subject, else the file name).
        #[arg(long)]
        asset: Option<String>,
        #[command(flatten)]
        common: ImportArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only this kind: network_scan, inventory, image_scan, cloud_inventory,
        /// external_discovery, feed_sync, detection, prioritize.
        #[arg(long)]
        kind: Option<String>,
        /// Only this status: queued, running, done, failed, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this scope.
        #[arg(long)]
        scope: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        format: FormatArg,
    },
    /// One job with its log.
    Show {
        /// Job id.
        id: i64,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Queue a scope's collectors now, or a job again; `serve`'s workers run it (or run it here
    /// with --wait).
    #[command(after_help = "Examples:\n  \
        vantage jobs run --scope Production\n  \
        vantage jobs run --job 42 --wait")]
    Run {
        /// Queue this scope's collectors.
        #[arg(long, conflicts_with = "job", required_unless_present = "job")]
        scope: Option<String>,
        /// Queue this job's work again.
        #[arg(long)]
        job: Option<i64>,
        /// Run the queued jobs in this process and wait for them (no server needed).
        #[arg(long)]
        wait: bool,
    },
    /// Cancel a job: a queued one at once, a running one at its next heartbeat.
    Cancel {
        /// Job id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Take today's snapshot now (replacing today's, if any).
    Snapshot,
    /// Stored snapshots.
    #[command(after_help = "Examples:\n  \
        vantage metrics show --days 30 --metric open_findings --format csv\n  \
        vantage metrics show --scope Production --format json\n\n\
Metrics: open_findings (by priority), mttr_days (by priority, findings fixed in the 30 days \
before), sla_compliance, scan_coverage, assets_live, assets_added, assets_decommissioned. \
Scope 0 is every asset.")]
    Show {
        /// Days back from today.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Only this scope (name).
        #[arg(long)]
        scope: Option<String>,
        /// Only this metric.
        #[arg(long)]
        metric: Option<String>,
        #[command(flatten)]
        format: FormatArg,
    },
}

/// `vantage alerts` (the list) or one of its subcommands.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// How many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alerts, newest first (the same as `vantage alerts`).
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Alert rules.
    Rules {
        #[command(flatten)]
        format: FormatArg,
    },
    /// Adds a rule: these kinds of alert, about this scope, to these connectors.
    #[command(after_help = "Examples:\n  \
        vantage alerts add-rule urgent --kind new_p1 --kind kev_new --to slack-secops\n  \
        vantage alerts add-rule sla --kind sla_breached --kind sla_near --scope Production \\\n      \
        --to mail-ops --digest-minutes 60\n  \
        vantage alerts add-rule noisy --kind finding_reopened --to teams --max-per-hour 5\n\n\
Kinds: new_p1, kev_new, sla_breached, sla_near, finding_reopened, eol_os, coverage_low, \
ssh_host_key_changed. With --max-per-hour, the last message the limit allows carries \
everything still waiting as one digest.")]
    AddRule {
        /// Unique name.
        name: String,
        /// Alert kind (repeat).
        #[arg(long = "kind", required = true)]
        kinds: Vec<String>,
        /// Connector (repeat): teams, slack, email or webhook kinds.
        #[arg(long = "to", required = true)]
        to: Vec<String>,
        /// Only alerts about this scope.
        #[arg(long)]
        scope: Option<String>,
        /// Gather alerts and send one digest every N minutes.
        #[arg(long, default_value_t = 0)]
        digest_minutes: u32,
        /// At most N messages an hour (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_per_hour: u32,
    },
    /// Removes a rule.
    RemoveRule {
        /// Its name.
        name: String,
    },
    /// Raises the alerts the data calls for now, queues what the rules allow and sends it
    /// (what `serve` does every minute).
    Run,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// Adds a connector. Settings are `--set key=value`; secrets are read from environment
    /// variables (`--secret name=ENV_VAR`) so they never appear in a command line or history.
    #[command(after_help = "Examples:\n  \
        JIRA_TOKEN=… vantage integrations add jira --kind jira --set url=https://acme.atlassian.net \\\n      \
        --set project=SEC --set user=secops@acme.example --secret token=JIRA_TOKEN\n  \
        SN_PASS=… vantage integrations add snow --kind servicenow --set url=https://acme.service-now.com \\\n      \
        --set user=vantage.integration --secret password=SN_PASS --grouping asset\n  \
        GLPI_USER=… GLPI_APP=… vantage integrations add glpi --kind glpi --set url=https://glpi.acme/apirest.php \\\n      \
        --secret user_token=GLPI_USER --secret app_token=GLPI_APP\n  \
        HOOK=https://… vantage integrations add slack-secops --kind slack --secret url=HOOK\n  \
        SMTP_PASS=… vantage integrations add mail-ops --kind email --set host=smtp.acme.example \\\n      \
        --set from=vantage@acme.example --set to=ops@acme.example --set user=vantage --secret password=SMTP_PASS\n  \
        KEY=… vantage integrations add hook --kind webhook --set url=https://soar.acme/hook --secret hmac_key=KEY\n\n\
Settings by kind — jira: url, project, issue_type, api_version (2|3), user, done_transition, \
priorities, ca_file; servicenow: url, user, table, assignment_group, resolved_state, \
close_code, ca_file; glpi: url, entity, category, ca_file; email: host, port, tls \
(starttls|tls|none), user, from, to (repeat), ca_file; webhook: url, ca_file. Secrets — jira: \
token; servicenow: password; glpi: user_token, app_token; teams/slack: url; email: password; \
webhook: hmac_key.")]
    Add {
        /// Unique name.
        name: String,
        /// jira, servicenow, glpi, teams, slack, email or webhook.
        #[arg(long)]
        kind: String,
        /// A setting, `key=value` (repeat; numbers and true/false are typed).
        #[arg(long = "set")]
        settings: Vec<String>,
        /// A secret, `name=ENV_VAR` (repeat): the value is read from that variable.
        #[arg(long = "secret")]
        secrets: Vec<String>,
        /// What one ticket covers: unit (a remediation unit), asset or finding.
        #[arg(long, default_value = "unit")]
        grouping: String,
        /// Only this scope's findings.
        #[arg(long)]
        scope: Option<String>,
        /// Tickets for findings of this priority or more urgent.
        #[arg(long, default_value = "p4")]
        min_priority: String,
        /// Calls per minute at most.
        #[arg(long, default_value_t = 60)]
        rate_per_minute: u32,
    },
    /// Checks a connector's connection and credentials.
    Test {
        /// Its name.
        name: String,
    },
    /// Connectors (secrets are never shown, only their names) and their tickets.
    List {
        #[command(flatten)]
        format: FormatArg,
    },
    /// Removes a connector with its tickets and queue.
    Remove {
        /// Its name.
        name: String,
    },
    /// Brings a ticketing connector's tickets in line with the open findings (queued; add
    /// --deliver to send now).
    Sync {
        /// Its name.
        name: String,
        /// Send the queue after syncing.
        #[arg(long)]
        deliver: bool,
    },
    /// Sends what is due in the queue (what `serve` does continuously).
    Deliver,
    /// Calls that failed for good (the dead-letter list); --retry queues them again.
    DeadLetters {
        /// Queue them again (all, or the ids given).
        #[arg(long)]
        retry: bool,
        /// Only these ids (with --retry).
        ids: Vec<i64>,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum RemediateCommand {
    /// Plans a run for an asset's package upgrades and runs the dry run at once.
    #[command(after_help = "Examples:\n  \
        vantage remediate plan --asset web-01\n  \
        vantage remediate plan --asset web-01 --package openssl --format json\n  \
        vantage remediate approve 7\n  \
        vantage remediate run 7\n  \
        vantage remediate window Production 'sat,sun 22:00-04:00'\n\n\
The asset must have been inventoried over SSH through a scope's SSH target; the same login \
runs the package manager (with sudo when the target says so).")]
    Plan {
        /// The asset (id, name or identifier).
        #[arg(long)]
        asset: String,
        /// Only these packages (source or binary names; repeat).
        #[arg(long = "package")]
        packages: Vec<String>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Approves a run whose dry run passed (the CLI acts as the local administrator).
    Approve {
        /// Run id.
        id: i64,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Executes an approved run (inside its scope's maintenance window), re-inventories the
    /// host and verifies the findings are fixed.
    Run {
        /// Run id.
        id: i64,
        #[command(flatten)]
        format: FormatArg,
    },
    /// One run with its dry run, log and verification, or the latest runs.
    Show {
        /// Run id (omit for the list).
        id: Option<i64>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Sets a scope's maintenance window (`sat,sun 22:00-04:00`, `daily 01:00-03:00`, UTC) or
    /// clears it (`none`).
    Window {
        /// The scope.
        scope: String,
        /// The window, or `none`.
        window: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// The patch plan of an asset or of every asset of a scope, most urgent unit first.
    #[command(after_help = "Examples:\n  \
        vantage patch plan --asset web-01\n  \
        vantage patch plan --asset web-01 --format json\n  \
        vantage patch plan --scope Production --export shell > patch.sh\n  \
        vantage patch plan --scope Production --export ansible > patch.yml\n\n\
Upgrade units name the smallest version that fixes every open finding of the package (the \
highest of the distribution's first fixed versions); the commands upgrade to the repository's \
newest version, which includes it once the fix is published.")]
    Plan(PatchPlanArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["asset", "scope"])))]
pub struct PatchPlanArgs {
    /// The asset (id, name or identifier).
    #[arg(long)]
    pub asset: Option<String>,
    /// Every live asset of this scope.
    #[arg(long)]
    pub scope: Option<String>,
    /// Print the plan as a reviewed-then-run script instead of a list.
    #[arg(long, value_enum)]
    pub export: Option<PatchExport>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// Export forms of a patch plan.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PatchExport {
    /// A POSIX shell script (`set -eu`), one commented block per unit.
    Shell,
    /// An Ansible playbook, one play per asset (`ansible.builtin.package`).
    Ansible,
    /// Red Hat Satellite: `hammer job-invocation create` per asset with the errata to apply.
    Satellite,
    /// WSUS: the KB articles to approve, as CSV (asset, kb, closes).
    Wsus,
}

#[derive(Debug, Args)]
pub struct PathsArgs {
    /// Only paths to assets of this scope (default: every scope of criticality 4 or 5, or with
    /// a high CIA requirement).
    #[arg(long)]
    pub to: Option<String>,
    /// Show choke points (findings ranked by the paths their fix cuts) instead of paths.
    #[arg(long)]
    pub choke_points: bool,
    /// How many rows.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Subcommand)]
pub enum ScopesCommand {
    /// List scopes.
    List(FormatArg),
    /// Create or update scopes from a TOML (or JSON) file: rules, policies, schedule,
    /// collectors and access. Every scope is checked before any is written.
    #[command(after_help = "Example file (scopes.toml):\n\n\
[[scope]]\n\
name = \"Production\"\n\
description = \"Customer-facing servers\"\n\
ranges = [\"10.0.0.0/24\"]\n\
domains = [\"example.com\"]\n\
tags = [\"env=prod\"]\n\
exposure = \"internet\"            # internet, internal, local_only, isolated\n\
criticality = 5                    # 1-5\n\
cia = { confidentiality = \"high\", integrity = \"high\", availability = \"medium\" }\n\
frequency = \"daily\"              # manual, hourly, daily, weekly, or cron (UTC): \"0 3 * * 1-5\"\n\
sla = { p1_days = 7, p2_days = 30, p3_days = 90, p4_days = 180 }\n\
thresholds = { alert_on_priority = \"p1\", min_coverage = 0.9 }\n\
priority_policy = \"default\"\n\
access = { users = [\"alice\"], roles = [\"analyst\"] }\n\
collectors = [\n\
  { kind = \"network\", ports = \"22,80,443\" },\n\
  { kind = \"ssh\" },                                  # the scope's SSH targets\n\
  { kind = \"external\" },                             # DNS, CT logs, RDAP of its domains\n\
  { kind = \"cloud\", request = { provider = \"aws\", regions = [\"eu-west-3\"] } },\n\
  { kind = \"images\", references = [\"registry.example.com/app:1.4\"] },\n\
]\n\n\
  vantage scopes apply scopes.toml")]
    Apply {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Create a scope: a group of assets with the IP ranges network scans may touch for it.
    #[command(
        after_help = "Example:\n  vantage scopes create lab --range 10.0.0.0/24 --range 10.0.1.5-20 --exposure internal"
    )]
    Create {
        /// Unique name.
        name: String,
        /// An IP address, CIDR block or range the scope owns (repeatable).
        #[arg(long = "range", value_name = "RANGE")]
        ranges: Vec<String>,
        /// A domain the scope owns (repeatable).
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
        /// internet, internal, local_only or isolated.
        #[arg(long, default_value = "internal")]
        exposure: String,
        /// Business criticality, 1 (low) to 5 (critical).
        #[arg(long, default_value_t = 3)]
        criticality: u8,
        /// Consecutive network scans that must miss an asset before it is decommissioned.
        #[arg(long, default_value_t = 3)]
        decommission_after: u32,
        /// What the scope is for.
        #[arg(long, default_value = "")]
        description: String,
        /// manual, hourly, daily, weekly or a cron expression (UTC) for `serve`'s scheduler.
        #[arg(long, default_value = "manual")]
        frequency: String,
        /// A collector the schedule runs: network, ssh or external (repeatable; `scopes apply`
        /// sets the others and their options).
        #[arg(long = "collect", value_name = "COLLECTOR")]
        collect: Vec<String>,
    },
    /// Choose where a scope's priorities come from: a policy (`vantage.toml`
    /// `[priority.policies.NAME]`, API-edited, or the built-in `default`) and a model: cvss
    /// (the policy's rules), ssvc (CISA's SSVC tree: Act → P1 … Track → P4) or both (the
    /// higher). Re-prioritizes at once.
    SetPriority {
        /// Scope name or id.
        scope: String,
        /// Policy name.
        #[arg(long)]
        policy: Option<String>,
        /// cvss, ssvc or both.
        #[arg(long)]
        model: Option<String>,
    },
    /// Add an SSH target to a scope, for `inventory ssh --scope` and the scheduler. Its
    /// credentials are vault names (vantage credentials add), never secrets.
    #[command(
        after_help = "Example:\n  vantage scopes add-ssh-target prod root@10.0.0.5 --credential prod-key --sudo nopasswd"
    )]
    AddSshTarget {
        /// Scope name.
        scope: String,
        /// user@host[:port].
        target: String,
        /// Vault credential to log in with.
        #[arg(long)]
        credential: String,
        /// A bastion: user@host[:port].
        #[arg(long, requires = "jump_credential")]
        jump: Option<String>,
        /// The bastion's vault credential.
        #[arg(long, requires = "jump")]
        jump_credential: Option<String>,
        /// no, nopasswd (sudo -n) or password (sudo -S with the login password).
        #[arg(long, default_value = "no")]
        sudo: String,
    },
    /// List a scope's SSH targets.
    SshTargets {
        /// Scope name.
        scope: String,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Add a credential. The secret is read from a file, an environment variable or standard
    /// input — never from the command line, where other users and shell histories see it.
    #[command(after_help = "Examples:\n  \
        vantage credentials add prod-root --kind ssh_key --username root --key-file ~/.ssh/id_ed25519\n  \
        DBPASS=… vantage credentials add db-admin --kind password --username admin --password-env DBPASS\n  \
        vault read -field=token secret/jira | vantage credentials add jira --kind token --secret-stdin")]
    Add {
        /// Unique name.
        name: String,
        /// ssh_key, password or token.
        #[arg(long)]
        kind: String,
        /// The user it logs in as.
        #[arg(long, default_value = "")]
        username: String,
        /// Read the secret (a private key) from this file.
        #[arg(long, value_name = "FILE", group = "secret")]
        key_file: Option<PathBuf>,
        /// Read the secret from this environment variable.
        #[arg(long, value_name = "VAR", group = "secret")]
        password_env: Option<String>,
        /// Read the secret from standard input.
        #[arg(long, group = "secret")]
        secret_stdin: bool,
    },
    /// List credentials (names, kinds, users; never secrets).
    List(FormatArg),
    /// Remove a credential.
    Remove {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Set a new random password for a user and print it once.
    ResetPassword {
        /// Login name.
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user and print it once.
    Create {
        /// Login name of the user the token acts as.
        #[arg(long, default_value = "admin")]
        user: String,
        /// Label of the token.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lifetime in days (0: never expires).
        #[arg(long, default_value_t = 90)]
        expires_in_days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (passwords redacted) and where it came from.
    Show {
        /// toml or json.
        #[arg(long, value_enum, default_value_t = ConfigFormat::Toml)]
        format: ConfigFormat,
    },
}

/// Format of `config show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// TOML, as in vantage.toml.
    Toml,
    /// JSON.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Generate a realistic synthetic fleet: assets, scopes and findings.
    Seed {
        /// Number of assets.
        #[arg(long, default_value_t = 1000)]
        assets: u32,
        /// Average number of findings per asset.
        #[arg(long, default_value_t = 20)]
        findings_per_asset: u32,
        /// Random seed (same seed, same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the OpenAPI document of the REST API (no server needed).
    Openapi,
}
