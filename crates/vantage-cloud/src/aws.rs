//! AWS: EC2 instances with their network interfaces, public and Elastic IPs, security groups and
//! their internet exposure, unattached Elastic IPs, and ELBv2 load balancers with their
//! listeners, in every enabled region or the ones asked for, for one account or several through
//! STS `AssumeRole`.
//!
//! The EC2, ELBv2 and STS Query APIs are called with `POST` form bodies (as the AWS SDKs do)
//! signed with SigV4 by the official `aws-sigv4` crate; answers are XML. We chose `aws-sigv4` +
//! `reqwest` over `aws-sdk-ec2`: the SDK costs 213 s and 7.9 GB of compiler memory to build on a
//! 2-core machine for the handful of calls we make, while the signer costs 10 s.
//!
//! The standard configuration is honoured: credentials from `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the profile (`--profile`, `AWS_PROFILE`,
//! `default`) in `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`,
//! `AWS_CONFIG_FILE`), including `role_arn` + `source_profile`; the region from `AWS_REGION`,
//! `AWS_DEFAULT_REGION` or the profile; endpoints from `AWS_ENDPOINT_URL_EC2`,
//! `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL` or
//! the profile's `endpoint_url` (private endpoints, LocalStack, moto). Instance roles (IMDS), SSO
//! and `credential_process` are not read.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use futures_util::StreamExt;
use zeroize::Zeroizing;

use crate::exposure::{self, Exposure};
use crate::http::{Answer, Http, RetryPolicy};
use crate::xml::{self, Node};
use crate::{
    CloudError, CloudResource, Listing, Progress, Provider, RegionOutcome, ResourceKind, parse_ip,
    push_unique,
};

/// The environment the configuration is read from (the process's, or a test's).
#[derive(Debug, Clone, Default)]
pub struct AwsEnv {
    /// Environment variables.
    pub vars: HashMap<String, String>,
    /// The home directory (for `~/.aws`).
    pub home: Option<PathBuf>,
}

impl AwsEnv {
    /// The process's environment.
    pub fn from_process() -> Self {
        AwsEnv {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    fn var(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

/// What to list and how.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Regions; empty = every region enabled for the account (`DescribeRegions`).
    pub regions: Vec<String>,
    /// Profile (default: `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// Roles to assume, one account each; empty = the credentials' own account.
    pub assume_roles: Vec<String>,
    /// `ExternalId` for the role assumptions.
    pub external_id: Option<String>,
    /// Endpoint for every service (overrides the environment).
    pub endpoint: Option<String>,
    /// List ELBv2 load balancers too.
    pub load_balancers: bool,
    /// Regions listed at once.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries for throttling.
    pub retry: RetryPolicy,
    /// Instances per `DescribeInstances` page (5–1000).
    pub page_size: u32,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            regions: Vec::new(),
            profile: None,
            assume_roles: Vec::new(),
            external_id: None,
            endpoint: None,
            load_balancers: true,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            page_size: 1000,
        }
    }
}

#[derive(Clone)]
struct Creds {
    access_key: String,
    secret: Zeroizing<String>,
    token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Creds({}, <secret>)", self.access_key)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Ec2,
    Elb,
    Sts,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Elb => "elasticloadbalancing",
            Service::Sts => "sts",
        }
    }
    fn env_suffix(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Elb => "ELASTIC_LOAD_BALANCING_V2",
            Service::Sts => "STS",
        }
    }
    fn version(self) -> &'static str {
        match self {
            Service::Ec2 => "2016-11-15",
            Service::Elb => "2015-12-01",
            Service::Sts => "2011-06-15",
        }
    }
}

/// The resolved configuration: base credentials, default region, endpoints.
struct Config {
    creds: Creds,
    region: String,
    profile_endpoint: Option<String>,
    env: AwsEnv,
    opts: AwsOptions,
}

/// Reads an INI file (`~/.aws/credentials`, `~/.aws/config`) into sections.
fn read_ini(
    path: &std::path::Path,
) -> Result<HashMap<String, HashMap<String, String>>, CloudError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(CloudError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_string());
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            // Nested settings (`s3 =` blocks) are indented key lines we do not need.
            continue;
        };
        let Some(s) = &section else {
            return Err(CloudError::Config(format!(
                "{} line {}: a setting outside any [section]",
                path.display(),
                n + 1
            )));
        };
        out.entry(s.clone())
            .or_default()
            .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    Ok(out)
}

struct Profiles {
    credentials: HashMap<String, HashMap<String, String>>,
    config: HashMap<String, HashMap<String, String>>,
}

impl Profiles {
    fn load(env: &AwsEnv) -> Result<Self, CloudError> {
        let aws_dir = env.home.as_ref().map(|h| h.join(".aws"));
        let file = |var: &str, name: &str| -> Option<PathBuf> {
            env.var(var)
                .map(PathBuf::from)
                .or_else(|| aws_dir.as_ref().map(|d| d.join(name)))
        };
        Ok(Profiles {
            credentials: match file("AWS_SHARED_CREDENTIALS_FILE", "credentials") {
                Some(p) => read_ini(&p)?,
                None => HashMap::new(),
            },
            config: match file("AWS_CONFIG_FILE", "config") {
                Some(p) => read_ini(&p)?,
                None => HashMap::new(),
            },
        })
    }

    /// A setting of a profile: the credentials file first, then the config file.
    fn get(&self, profile: &str, key: &str) -> Option<&str> {
        let cfg_section = if profile == "default" {
            "default".to_string()
        } else {
            format!("profile {profile}")
        };
        self.credentials
            .get(profile)
            .and_then(|s| s.get(key))
            .or_else(|| self.config.get(&cfg_section).and_then(|s| s.get(key)))
            .or_else(|| self.config.get(profile).and_then(|s| s.get(key)))
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn exists(&self, profile: &str) -> bool {
        self.credentials.contains_key(profile)
            || self.config.contains_key(&format!("profile {profile}"))
            || (profile == "default" && self.config.contains_key("default"))
    }
}

/// A listing of one AWS organisation: every account (the credentials' own, or each assumed
/// role), every region.
pub async fn list(
    env: AwsEnv,
    opts: AwsOptions,
    progress: Arc<dyn Progress>,
) -> Result<Listing, CloudError> {
    let http = Arc::new(Http::new(opts.timeout, opts.retry)?);
    let profiles = Profiles::load(&env)?;
    let profile_name = opts
        .profile
        .clone()
        .or_else(|| env.var("AWS_PROFILE").map(str::to_string))
        .unwrap_or_else(|| "default".into());
    if opts.profile.is_some() && !profiles.exists(&profile_name) {
        return Err(CloudError::Config(format!(
            "AWS profile `{profile_name}` is in neither ~/.aws/credentials nor ~/.aws/config"
        )));
    }
    let region = opts
        .regions
        .first()
        .cloned()
        .or_else(|| env.var("AWS_REGION").map(str::to_string))
        .or_else(|| env.var("AWS_DEFAULT_REGION").map(str::to_string))
        .or_else(|| profiles.get(&profile_name, "region").map(str::to_string))
        .unwrap_or_else(|| "us-east-1".into());
    for r in &opts.regions {
        check_region(r)?;
    }
    let profile_endpoint = profiles
        .get(&profile_name, "endpoint_url")
        .map(str::to_string);
    // Environment keys win unless a profile was named explicitly.
    let env_creds = if opts.profile.is_none() {
        match (
            env.var("AWS_ACCESS_KEY_ID"),
            env.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(a), Some(s)) => Some(Creds {
                access_key: a.to_string(),
                secret: Zeroizing::new(s.to_string()),
                token: env
                    .var("AWS_SESSION_TOKEN")
                    .map(|t| Zeroizing::new(t.to_string())),
            }),
            _ => None,
        }
    } else {
        None
    };
    let mut cfg = Config {
        creds: Creds {
            access_key: String::new(),
            secret: Zeroizing::new(String::new()),
            token: None,
        },
        region,
        profile_endpoint,
        env,
        opts,
    };
    cfg.creds = match env_creds {
        Some(c) => c,
        None => profile_creds(&cfg, &http, &profiles, &profile_name).await?,
    };
    let cfg = Arc::new(cfg);
    let mut accounts: Vec<Creds> = Vec::new();
    let mut listing = Listing::default();
    let mut first_error = None;
    if cfg.opts.assume_roles.is_empty() {
        accounts.push(cfg.creds.clone());
    } else {
        for role in &cfg.opts.assume_roles {
            match assume_role(
                &cfg,
                &http,
                &cfg.creds,
                role,
                cfg.opts.external_id.as_deref(),
            )
            .await
            {
                Ok(c) => accounts.push(c),
                Err(e) => {
                    let outcome = RegionOutcome {
                        account: role.clone(),
                        region: "*".into(),
                        resources: 0,
                        error: Some(e.to_string()),
                    };
                    progress.region_done(&outcome);
                    listing.regions.push(outcome);
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    let mut listed_accounts = 0;
    for creds in accounts {
        match list_account(&cfg, &http, &creds, &progress).await {
            Ok(l) => {
                listed_accounts += 1;
                listing.extend(l);
            }
            Err((account, e)) => {
                let outcome = RegionOutcome {
                    account,
                    region: "*".into(),
                    resources: 0,
                    error: Some(e.to_string()),
                };
                progress.region_done(&outcome);
                listing.regions.push(outcome);
                first_error.get_or_insert(e);
            }
        }
    }
    if listed_accounts == 0
        && let Some(e) = first_error
    {
        return Err(e);
    }
    (listing.requests, listing.throttled) = http.counters();
    Ok(listing)
}

fn check_region(r: &str) -> Result<(), CloudError> {
    let ok = !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CloudError::Config(format!(
            "`{r}` is not an AWS region name (like us-east-1)"
        )))
    }
}

/// Credentials of a profile: its static keys, or its `role_arn` assumed with the credentials of
/// its `source_profile` (a chain of at most 4) or of the environment (`credential_source =
/// Environment`).
async fn profile_creds(
    cfg: &Config,
    http: &Http,
    profiles: &Profiles,
    name: &str,
) -> Result<Creds, CloudError> {
    // Walk the chain down to static credentials, remembering the roles to assume on the way.
    let mut roles: Vec<(String, Option<String>)> = Vec::new();
    let mut current = name.to_string();
    let base = loop {
        if roles.len() > 4 {
            return Err(CloudError::Config(format!(
                "AWS profile `{name}`: source_profile chain longer than 4"
            )));
        }
        let Some(role) = profiles.get(&current, "role_arn") else {
            break static_creds(profiles, &current)?;
        };
        roles.push((
            role.to_string(),
            profiles.get(&current, "external_id").map(str::to_string),
        ));
        match (
            profiles.get(&current, "source_profile"),
            profiles.get(&current, "credential_source"),
        ) {
            (Some(src), _) if src != current => current = src.to_string(),
            (Some(_), _) => break static_creds(profiles, &current)?,
            (None, Some("Environment")) => {
                match (
                    cfg.env.var("AWS_ACCESS_KEY_ID"),
                    cfg.env.var("AWS_SECRET_ACCESS_KEY"),
                ) {
                    (Some(a), Some(s)) => {
                        break Creds {
                            access_key: a.into(),
                            secret: Zeroizing::new(s.into()),
                            token: cfg
                                .env
                                .var("AWS_SESSION_TOKEN")
                                .map(|t| Zeroizing::new(t.into())),
                        };
                    }
                    _ => {
                        return Err(CloudError::Config(format!(
                            "AWS profile `{current}`: credential_source = Environment but \
                             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set"
                        )));
                    }
                }
            }
            _ => {
                return Err(CloudError::Config(format!(
                    "AWS profile `{current}` has role_arn but no source_profile (instance \
                     roles and credential_process are not read)"
                )));
            }
        }
    };
    let mut creds = base;
    for (role, external_id) in roles.iter().rev() {
        creds = assume_role(cfg, http, &creds, role, external_id.as_deref()).await?;
    }
    Ok(creds)
}

fn static_creds(profiles: &Profiles, name: &str) -> Result<Creds, CloudError> {
    match (
        profiles.get(name, "aws_access_key_id"),
        profiles.get(name, "aws_secret_access_key"),
    ) {
        (Some(a), Some(s)) => Ok(Creds {
            access_key: a.to_string(),
            secret: Zeroizing::new(s.to_string()),
            token: profiles
                .get(name, "aws_session_token")
                .map(|t| Zeroizing::new(t.to_string())),
        }),
        _ => Err(CloudError::Config(format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile \
             `{name}` aws_access_key_id/aws_secret_access_key (or role_arn + source_profile) in \
             ~/.aws/credentials; instance roles (IMDS), SSO and credential_process are not read"
        ))),
    }
}

fn endpoint(cfg: &Config, service: Service, region: &str) -> String {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.env_suffix());
    if let Some(e) = cfg.env.var(&specific) {
        return e.to_string();
    }
    if let Some(e) = &cfg.opts.endpoint {
        return e.clone();
    }
    if let Some(e) = cfg.env.var("AWS_ENDPOINT_URL") {
        return e.to_string();
    }
    if let Some(e) = &cfg.profile_endpoint {
        return e.clone();
    }
    let host = match service {
        Service::Ec2 => "ec2",
        Service::Elb => "elasticloadbalancing",
        Service::Sts => "sts",
    };
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{host}.{region}.{suffix}/")
}

fn throttle_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "SlowDown"
            | "PriorRequestNotComplete"
    )
}

fn auth_code(code: &str) -> bool {
    matches!(
        code,
        "AuthFailure"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "InvalidAccessKeyId"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "IncompleteSignature"
            | "AccessDenied"
    )
}

/// The `Code` and `Message` of an error answer (EC2's `Response/Errors/Error`, or
/// `ErrorResponse/Error`).
fn error_of(a: &Answer) -> Option<(String, String)> {
    let root = xml::parse(&a.body).ok()?;
    fn find(n: &Node) -> Option<&Node> {
        if n.name == "Error" {
            return Some(n);
        }
        n.children.iter().find_map(find)
    }
    let e = find(&root)?;
    Some((
        e.text_of("Code").unwrap_or("").to_string(),
        e.text_of("Message").unwrap_or("").to_string(),
    ))
}

/// One signed Query API call; returns the answer's root element.
async fn call(
    cfg: &Config,
    http: &Http,
    creds: &Creds,
    service: Service,
    region: &str,
    action: &str,
    params: &[(&str, String)],
) -> Result<Node, CloudError> {
    let url = endpoint(cfg, service, region);
    // The serializer is not `Send`: dropped before any await, so the request future is.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action);
        form.append_pair("Version", service.version());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.finish()
    };
    let what = format!("{} {action} ({region})", service.signing_name());
    const CT: &str = "application/x-www-form-urlencoded; charset=utf-8";
    let build = || -> Result<reqwest::RequestBuilder, CloudError> {
        let identity = Credentials::new(
            creds.access_key.clone(),
            creds.secret.to_string(),
            creds.token.as_ref().map(|t| t.to_string()),
            None,
            "vantage",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service.signing_name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CloudError::Config(format!("SigV4: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            [("content-type", CT)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| CloudError::Config(format!("SigV4 request for {url}: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| CloudError::Config(format!("SigV4: {e}")))?
            .into_parts();
        let mut rb = http
            .client
            .post(&url)
            .header("content-type", CT)
            .body(body.clone());
        for (name, value) in instructions.headers() {
            rb = rb.header(name, value);
        }
        Ok(rb)
    };
    let answer = http
        .send(&what, build, |a| {
            error_of(a).is_some_and(|(code, _)| throttle_code(&code))
        })
        .await?;
    if !answer.status.is_success() {
        let (code, message) =
            error_of(&answer).unwrap_or_else(|| (String::new(), answer.snippet()));
        if auth_code(&code) {
            return Err(CloudError::Auth {
                provider: Provider::Aws,
                message: format!("{what}: {code}: {message}"),
            });
        }
        return Err(CloudError::Api {
            what,
            status: answer.status.as_u16(),
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        });
    }
    xml::parse(&answer.body).map_err(|e| CloudError::malformed(&what, e))
}

async fn assume_role(
    cfg: &Config,
    http: &Http,
    source: &Creds,
    role: &str,
    external_id: Option<&str>,
) -> Result<Creds, CloudError> {
    if !role.starts_with("arn:") {
        return Err(CloudError::Config(format!(
            "`{role}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )));
    }
    let mut params = vec![
        ("RoleArn", role.to_string()),
        ("RoleSessionName", "vantage-discovery".to_string()),
        ("DurationSeconds", "3600".to_string()),
    ];
    if let Some(x) = external_id {
        params.push(("ExternalId", x.to_string()));
    }
    let root = call(
        cfg,
        http,
        source,
        Service::Sts,
        &cfg.region,
        "AssumeRole",
        &params,
    )
    .await?;
    let c = root
        .at(&["AssumeRoleResult", "Credentials"])
        .ok_or_else(|| CloudError::malformed("sts AssumeRole", "no Credentials element"))?;
    let get = |k: &str| {
        c.text_of(k)
            .map(str::to_string)
            .ok_or_else(|| CloudError::malformed("sts AssumeRole", format!("no Credentials/{k}")))
    };
    Ok(Creds {
        access_key: get("AccessKeyId")?,
        secret: Zeroizing::new(get("SecretAccessKey")?),
        token: Some(Zeroizing::new(get("SessionToken")?)),
    })
}

/// Lists one account; on an account-level failure returns the account (id or access key) and
/// the error.
async fn list_account(
    cfg: &Arc<Config>,
    http: &Arc<Http>,
    creds: &Creds,
    progress: &Arc<dyn Progress>,
) -> Result<Listing, (String, CloudError)> {
    let who = call(
        cfg,
        http,
        creds,
        Service::Sts,
        &cfg.region,
        "GetCallerIdentity",
        &[],
    )
    .await
    .map_err(|e| (creds.access_key.clone(), e))?;
    let account = who
        .at(&["GetCallerIdentityResult", "Account"])
        .map(|n| n.text.clone())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            (
                creds.access_key.clone(),
                CloudError::malformed("sts GetCallerIdentity", "no Account"),
            )
        })?;
    let regions = if cfg.opts.regions.is_empty() {
        let root = call(
            cfg,
            http,
            creds,
            Service::Ec2,
            &cfg.region,
            "DescribeRegions",
            &[],
        )
        .await
        .map_err(|e| (account.clone(), e))?;
        root.list("regionInfo")
            .filter(|r| r.text_of("optInStatus") != Some("not-opted-in"))
            .filter_map(|r| r.text_of("regionName").map(str::to_string))
            .collect()
    } else {
        cfg.opts.regions.clone()
    };
    let mut listing = Listing::default();
    let results: Vec<(String, Result<Vec<CloudResource>, CloudError>)> =
        futures_util::stream::iter(regions.into_iter().map(|region| {
            let (cfg, http, creds, account) =
                (cfg.clone(), http.clone(), creds.clone(), account.clone());
            async move {
                let r = list_region(&cfg, &http, &creds, &account, &region).await;
                (region, r)
            }
        }))
        .buffer_unordered(cfg.opts.concurrency.max(1))
        .collect()
        .await;
    let mut ok_regions = 0;
    let mut auth_error = None;
    for (region, r) in results {
        let outcome = match r {
            Ok(resources) => {
                ok_regions += 1;
                let n = resources.len();
                listing.resources.extend(resources);
                RegionOutcome {
                    account: account.clone(),
                    region,
                    resources: n,
                    error: None,
                }
            }
            Err(e) => {
                let o = RegionOutcome {
                    account: account.clone(),
                    region,
                    resources: 0,
                    error: Some(e.to_string()),
                };
                if matches!(e, CloudError::Auth { .. }) {
                    auth_error.get_or_insert(e);
                }
                o
            }
        };
        progress.region_done(&outcome);
        listing.regions.push(outcome);
    }
    if ok_regions == 0
        && let Some(e) = auth_error
    {
        listing.regions.clear();
        return Err((account, e));
    }
    listing.regions.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(listing)
}

/// Pages through a `NextToken`-paginated EC2 call.
async fn ec2_pages(
    cfg: &Config,
    http: &Http,
    creds: &Creds,
    region: &str,
    action: &str,
    page_size: Option<u32>,
    mut each: impl FnMut(&Node) -> Result<(), CloudError>,
) -> Result<(), CloudError> {
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = Vec::new();
        if let Some(n) = page_size {
            params.push(("MaxResults", n.to_string()));
        }
        if let Some(t) = &token {
            params.push(("NextToken", t.clone()));
        }
        let root = call(cfg, http, creds, Service::Ec2, region, action, &params).await?;
        each(&root)?;
        pages += 1;
        token = root.text_of("nextToken").map(str::to_string);
        if token.is_none() {
            return Ok(());
        }
        if pages > 100_000 {
            return Err(CloudError::malformed(
                action,
                "more than 100,000 pages: the NextToken never ends",
            ));
        }
    }
}

/// What a security group opens to any address.
fn group_exposures(g: &Node) -> Vec<Exposure> {
    let id = g.text_of("groupId").unwrap_or("");
    let name = g.text_of("groupName").unwrap_or("");
    let rule = if name.is_empty() {
        id.to_string()
    } else {
        format!("{id} ({name})")
    };
    let mut out = Vec::new();
    for p in g.list("ipPermissions") {
        let proto = p.text_of("ipProtocol").unwrap_or("-1");
        let from: i32 = p
            .text_of("fromPort")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let to: i32 = p
            .text_of("toPort")
            .and_then(|s| s.parse().ok())
            .unwrap_or(65535);
        let sources = p
            .list("ipRanges")
            .filter_map(|r| r.text_of("cidrIp"))
            .chain(p.list("ipv6Ranges").filter_map(|r| r.text_of("cidrIpv6")));
        for src in sources {
            if exposure::is_any_source(src) {
                // Protocol -1 is every protocol and every port, whatever ports are given.
                let (from, to) = if exposure::protocol_name(proto) == "all" {
                    (0, 65535)
                } else {
                    (from.clamp(0, 65535) as u16, to.clamp(0, 65535) as u16)
                };
                out.push(exposure::exposure(proto, from, to, src, &rule));
            }
        }
    }
    out
}

async fn list_region(
    cfg: &Config,
    http: &Http,
    creds: &Creds,
    account: &str,
    region: &str,
) -> Result<Vec<CloudResource>, CloudError> {
    let mut groups: HashMap<String, Vec<Exposure>> = HashMap::new();
    ec2_pages(
        cfg,
        http,
        creds,
        region,
        "DescribeSecurityGroups",
        Some(1000),
        |root| {
            for g in root.list("securityGroupInfo") {
                if let Some(id) = g.text_of("groupId") {
                    groups.insert(id.to_string(), group_exposures(g));
                }
            }
            Ok(())
        },
    )
    .await?;
    let mut out: Vec<CloudResource> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let page = cfg.opts.page_size.clamp(5, 1000);
    let mut parse_error = None;
    ec2_pages(
        cfg,
        http,
        creds,
        region,
        "DescribeInstances",
        Some(page),
        |root| {
            for reservation in root.list("reservationSet") {
                let owner = reservation.text_of("ownerId").unwrap_or(account);
                for i in reservation.list("instancesSet") {
                    match instance(i, owner, region, &groups) {
                        Ok(r) => {
                            by_id.insert(r.id.clone(), out.len());
                            out.push(r);
                        }
                        Err(e) => {
                            parse_error.get_or_insert(e);
                        }
                    }
                }
            }
            Ok(())
        },
    )
    .await?;
    if let Some(e) = parse_error {
        return Err(e);
    }
    let addresses = call(
        cfg,
        http,
        creds,
        Service::Ec2,
        region,
        "DescribeAddresses",
        &[],
    )
    .await?;
    for a in addresses.list("addressesSet") {
        let Some(ip) = parse_ip("ec2 DescribeAddresses", a.text_of("publicIp").unwrap_or(""))?
        else {
            continue;
        };
        match a.text_of("instanceId").and_then(|i| by_id.get(i)) {
            Some(&n) => push_unique(&mut out[n].public_ips, ip),
            None if a.text_of("networkInterfaceId").is_none() => {
                let id = a
                    .text_of("allocationId")
                    .map(str::to_string)
                    .unwrap_or_else(|| ip.to_string());
                let mut r =
                    CloudResource::new(Provider::Aws, account, region, ResourceKind::Address, &id);
                r.name = ip.to_string();
                r.state = "unattached".into();
                r.public_ips.push(ip);
                r.tags = tags(a);
                r.settle_exposure();
                out.push(r);
            }
            None => {}
        }
    }
    for r in &mut out {
        r.settle_exposure();
    }
    if cfg.opts.load_balancers {
        out.extend(load_balancers(cfg, http, creds, account, region, &groups).await?);
    }
    Ok(out)
}

fn tags(n: &Node) -> BTreeMap<String, String> {
    n.list("tagSet")
        .filter_map(|t| {
            Some((
                t.text_of("key")?.to_string(),
                t.text_of("value").unwrap_or("").to_string(),
            ))
        })
        .collect()
}

fn instance(
    i: &Node,
    account: &str,
    region: &str,
    groups: &HashMap<String, Vec<Exposure>>,
) -> Result<CloudResource, CloudError> {
    const WHAT: &str = "ec2 DescribeInstances";
    let id = i
        .text_of("instanceId")
        .ok_or_else(|| CloudError::malformed(WHAT, "an instance without instanceId"))?;
    let mut r = CloudResource::new(Provider::Aws, account, region, ResourceKind::Instance, id);
    r.tags = tags(i);
    if let Some(name) = r.tags.get("Name").filter(|n| !n.is_empty()) {
        r.name = name.clone();
    }
    r.state = i
        .at(&["instanceState", "name"])
        .map(|n| n.text.clone())
        .unwrap_or_default();
    r.gone = matches!(r.state.as_str(), "terminated" | "shutting-down");
    r.image = i.text_of("imageId").map(str::to_string);
    if let Some(zone) = i.at(&["placement", "availabilityZone"]) {
        r.tags
            .entry("aws:availability-zone".into())
            .or_insert_with(|| zone.text.clone());
    }
    if let Some(p) = i
        .text_of("platformDetails")
        .or_else(|| i.text_of("platform"))
    {
        r.tags.entry("aws:platform".into()).or_insert(p.to_string());
    }
    if let Some(v) = i.text_of("vpcId") {
        r.tags.entry("aws:vpc".into()).or_insert(v.to_string());
    }
    let mut sg: Vec<String> = i
        .list("groupSet")
        .filter_map(|g| g.text_of("groupId").map(str::to_string))
        .collect();
    if let Some(ip) = parse_ip(WHAT, i.text_of("privateIpAddress").unwrap_or(""))? {
        push_unique(&mut r.private_ips, ip);
    }
    if let Some(ip) = parse_ip(WHAT, i.text_of("ipAddress").unwrap_or(""))? {
        push_unique(&mut r.public_ips, ip);
    }
    for name in ["dnsName", "privateDnsName"] {
        if let Some(d) = i.text_of(name) {
            push_unique(&mut r.dns_names, d.to_ascii_lowercase());
        }
    }
    for eni in i.list("networkInterfaceSet") {
        for g in eni.list("groupSet") {
            if let Some(id) = g.text_of("groupId") {
                push_unique(&mut sg, id.to_string());
            }
        }
        for p in eni.list("privateIpAddressesSet") {
            if let Some(ip) = parse_ip(WHAT, p.text_of("privateIpAddress").unwrap_or(""))? {
                push_unique(&mut r.private_ips, ip);
            }
            if let Some(ip) = parse_ip(
                WHAT,
                p.at(&["association", "publicIp"])
                    .map(|n| n.text.as_str())
                    .unwrap_or(""),
            )? {
                push_unique(&mut r.public_ips, ip);
            }
        }
        if let Some(ip) = parse_ip(
            WHAT,
            eni.at(&["association", "publicIp"])
                .map(|n| n.text.as_str())
                .unwrap_or(""),
        )? {
            push_unique(&mut r.public_ips, ip);
        }
        for v6 in eni.list("ipv6AddressesSet") {
            if let Some(ip) = parse_ip(WHAT, v6.text_of("ipv6Address").unwrap_or(""))? {
                // Every IPv6 address an instance gets is globally routable.
                push_unique(&mut r.public_ips, ip);
            }
        }
    }
    for g in &sg {
        if let Some(e) = groups.get(g) {
            r.exposures.extend(e.iter().cloned());
        }
    }
    r.firewall_groups = sg;
    Ok(r)
}

async fn load_balancers(
    cfg: &Config,
    http: &Http,
    creds: &Creds,
    account: &str,
    region: &str,
    groups: &HashMap<String, Vec<Exposure>>,
) -> Result<Vec<CloudResource>, CloudError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![("PageSize", "400".to_string())];
        if let Some(m) = &marker {
            params.push(("Marker", m.clone()));
        }
        let root = call(
            cfg,
            http,
            creds,
            Service::Elb,
            region,
            "DescribeLoadBalancers",
            &params,
        )
        .await?;
        let result = root.child("DescribeLoadBalancersResult").ok_or_else(|| {
            CloudError::malformed(
                "elbv2 DescribeLoadBalancers",
                "no DescribeLoadBalancersResult",
            )
        })?;
        for lb in result.list("LoadBalancers") {
            let Some(arn) = lb.text_of("LoadBalancerArn") else {
                continue;
            };
            let mut r = CloudResource::new(
                Provider::Aws,
                account,
                region,
                ResourceKind::LoadBalancer,
                arn,
            );
            r.name = lb.text_of("LoadBalancerName").unwrap_or(arn).to_string();
            r.state = lb
                .at(&["State", "Code"])
                .map(|n| n.text.clone())
                .unwrap_or_default();
            if let Some(d) = lb.text_of("DNSName") {
                r.dns_names.push(d.to_ascii_lowercase());
            }
            let public = lb.text_of("Scheme") == Some("internet-facing");
            r.tags.insert(
                "aws:scheme".into(),
                lb.text_of("Scheme").unwrap_or("").to_string(),
            );
            if let Some(t) = lb.text_of("Type") {
                r.tags.insert("aws:lb-type".into(), t.to_string());
            }
            for z in lb.list("AvailabilityZones") {
                for a in z.list("LoadBalancerAddresses") {
                    if let Some(ip) = parse_ip(
                        "elbv2 DescribeLoadBalancers",
                        a.text_of("IpAddress").unwrap_or(""),
                    )? {
                        if public {
                            push_unique(&mut r.public_ips, ip);
                        } else {
                            push_unique(&mut r.private_ips, ip);
                        }
                    }
                }
            }
            r.firewall_groups = lb
                .list("SecurityGroups")
                .map(|m| m.text.clone())
                .filter(|s| !s.is_empty())
                .collect();
            let listeners = listeners(cfg, http, creds, region, arn).await?;
            let open: Vec<Exposure> = r
                .firewall_groups
                .iter()
                .filter_map(|g| groups.get(g))
                .flatten()
                .cloned()
                .collect();
            for (proto, port) in listeners {
                let proto = if proto.eq_ignore_ascii_case("udp") {
                    "udp"
                } else {
                    "tcp"
                };
                if r.firewall_groups.is_empty() {
                    // Network load balancers without security groups pass everything.
                    r.exposures.push(exposure::exposure(
                        proto,
                        port,
                        port,
                        "0.0.0.0/0",
                        &format!("listener {proto}/{port}"),
                    ));
                } else if let Some(e) = open.iter().find(|e| e.covers(proto, port)) {
                    r.exposures.push(exposure::exposure(
                        proto,
                        port,
                        port,
                        &e.source,
                        &format!("listener {proto}/{port} via {}", e.rule),
                    ));
                }
            }
            exposure::normalise(&mut r.exposures);
            r.internet_exposed = public && !r.exposures.is_empty();
            out.push(r);
        }
        marker = result.text_of("NextMarker").map(str::to_string);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

async fn listeners(
    cfg: &Config,
    http: &Http,
    creds: &Creds,
    region: &str,
    arn: &str,
) -> Result<Vec<(String, u16)>, CloudError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![("LoadBalancerArn", arn.to_string())];
        if let Some(m) = &marker {
            params.push(("Marker", m.clone()));
        }
        let root = call(
            cfg,
            http,
            creds,
            Service::Elb,
            region,
            "DescribeListeners",
            &params,
        )
        .await?;
        let Some(result) = root.child("DescribeListenersResult") else {
            return Err(CloudError::malformed(
                "elbv2 DescribeListeners",
                "no DescribeListenersResult",
            ));
        };
        for l in result.list("Listeners") {
            if let Some(port) = l.text_of("Port").and_then(|p| p.parse().ok()) {
                out.push((l.text_of("Protocol").unwrap_or("TCP").to_string(), port));
            }
        }
        marker = result.text_of("NextMarker").map(str::to_string);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_group_rules_open_to_anyone_become_exposures() {
        let doc = br#"<R><securityGroupInfo><item><groupId>sg-1</groupId><groupName>web</groupName>
<ipPermissions>
 <item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>
   <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item>
 <item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort>
   <ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges></item>
 <item><ipProtocol>-1</ipProtocol><ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item>
</ipPermissions></item></securityGroupInfo></R>"#;
        let root = xml::parse(doc).unwrap();
        let g = root.list("securityGroupInfo").next().unwrap();
        let mut e = group_exposures(g);
        exposure::normalise(&mut e);
        let ports: Vec<String> = e
            .iter()
            .map(|e| format!("{} {}", e.ports(), e.source))
            .collect();
        assert_eq!(ports, ["all ::/0", "tcp/443 0.0.0.0/0", "tcp/443 ::/0"]);
        assert_eq!(e[1].rule, "sg-1 (web)");
    }

    #[test]
    fn profiles_read_credentials_and_config_sections() {
        let dir = std::env::temp_dir().join(format!("vantage-aws-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(
            dir.join(".aws/credentials"),
            "[default]\naws_access_key_id = AK1\naws_secret_access_key = S1\n\n[ops]\naws_access_key_id=AK2\naws_secret_access_key=S2\naws_session_token=T2\n",
        )
        .unwrap();
        std::fs::write(
            dir.join(".aws/config"),
            "[default]\nregion = eu-west-3\n[profile audit]\nrole_arn = arn:aws:iam::111122223333:role/audit\nsource_profile = ops\nregion = eu-central-1\n",
        )
        .unwrap();
        let env = AwsEnv {
            vars: HashMap::new(),
            home: Some(dir.clone()),
        };
        let p = Profiles::load(&env).unwrap();
        assert_eq!(p.get("default", "region"), Some("eu-west-3"));
        assert_eq!(p.get("audit", "source_profile"), Some("ops"));
        assert_eq!(p.get("audit", "region"), Some("eu-central-1"));
        let c = static_creds(&p, "ops").unwrap();
        assert_eq!(c.access_key, "AK2");
        assert_eq!(c.token.as_deref().map(|t| t.as_str()), Some("T2"));
        let e = static_creds(&p, "nobody").unwrap_err().to_string();
        assert!(e.contains("no AWS credentials"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
