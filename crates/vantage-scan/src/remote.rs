//! Agentless inventory over SSH (`russh`): log in with a key or a password (optionally through a
//! jump host), check the server's host key against the pinned one, run a fixed set of read-only
//! commands — each on its own channel of one session, with a time limit and an output cap — and
//! return the same [`HostFacts`] the local collector reads from `/`.
//!
//! Every command is a constant string of this module: nothing the target says is ever put into a
//! command line. Output is parsed on our side (it is untrusted text).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::host::{HostFacts, Listener, PackageSource, parse_proc_net};

/// Where to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshEndpoint {
    /// User name.
    pub user: String,
    /// Host name or address.
    pub host: String,
    /// Port (22).
    pub port: u16,
}

impl SshEndpoint {
    /// Parses `user@host[:port]` (`user@[v6]:port` for IPv6 with a port).
    pub fn parse(s: &str) -> Result<SshEndpoint, String> {
        let (user, rest) = s
            .rsplit_once('@')
            .ok_or_else(|| format!("`{s}`: expected user@host[:port]"))?;
        if user.is_empty() {
            return Err(format!("`{s}`: the user name is empty"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: unclosed `[`"))?;
            match tail.strip_prefix(':') {
                Some(p) => (h.to_string(), Some(p)),
                None if tail.is_empty() => (h.to_string(), None),
                None => return Err(format!("`{s}`: unexpected `{tail}` after `]`")),
            }
        } else if rest.parse::<IpAddr>().is_ok() {
            (rest.to_string(), None)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{s}`: the host is empty"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{s}`: port `{p}` is not 1-65535"))?,
            None => 22,
        };
        Ok(SshEndpoint {
            user: user.to_string(),
            host,
            port,
        })
    }
}

impl std::fmt::Display for SshEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

/// How to authenticate.
pub enum SshAuth {
    /// A private key (OpenSSH or PEM text) and its passphrase, if it has one.
    Key {
        /// The key file's text.
        pem: Zeroizing<String>,
        /// Its passphrase.
        passphrase: Option<Zeroizing<String>>,
    },
    /// A password.
    Password(Zeroizing<String>),
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SshAuth::Key { .. } => "SshAuth::Key(<redacted>)",
            SshAuth::Password(_) => "SshAuth::Password(<redacted>)",
        })
    }
}

/// One login: where, how, and the host key expected there (`SHA256:…`; `None` on first
/// contact, when the presented key is recorded instead).
#[derive(Debug)]
pub struct SshLogin {
    /// Where.
    pub endpoint: SshEndpoint,
    /// How.
    pub auth: SshAuth,
    /// The pinned host key fingerprint.
    pub pinned: Option<String>,
}

/// Running commands as root.
#[derive(Default)]
pub enum Sudo {
    /// As the login user.
    #[default]
    No,
    /// `sudo -n` (the account may run sudo without a password).
    NoPassword,
    /// `sudo -S` with this password written to its standard input.
    Password(Zeroizing<String>),
}

impl std::fmt::Debug for Sudo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sudo::No => "Sudo::No",
            Sudo::NoPassword => "Sudo::NoPassword",
            Sudo::Password(_) => "Sudo::Password(<redacted>)",
        })
    }
}

/// Limits and options of one collection.
#[derive(Debug)]
pub struct SshOptions {
    /// TCP connect + key exchange + authentication (each hop).
    pub connect_timeout: Duration,
    /// Each command.
    pub command_timeout: Duration,
    /// Bytes one command may print (stdout and stderr together).
    pub max_output: usize,
    /// Privilege for the commands that see more as root (`ss -p`).
    pub sudo: Sudo,
    /// A bastion to go through (its own login and pinned key).
    pub jump: Option<SshLogin>,
    /// Also offer SHA-1 key exchanges (`diffie-hellman-group14-sha1`, `-group-exchange-sha1`,
    /// `-group1-sha1`) and `hmac-sha1`, after the modern ones, for old hosts (OpenSSH < 7.4,
    /// CentOS 6, appliances). Off by default.
    pub legacy_algorithms: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(120),
            max_output: 64 * 1024 * 1024,
            sudo: Sudo::No,
            jump: None,
            legacy_algorithms: false,
        }
    }
}

/// A host key as presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512` …
    pub algorithm: String,
    /// `SHA256:…` (as `ssh-keygen -lf` prints it).
    pub fingerprint: String,
}

/// What went wrong, precisely enough to act on.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// No TCP connection or no SSH handshake.
    #[error("{0}: cannot connect: {1}")]
    Connect(String, String),
    /// The host key differs from the pinned one: the scan is refused.
    #[error(
        "{endpoint}: HOST KEY CHANGED: pinned {expected}, presented {presented} ({algorithm}); refusing to log in (a re-installed host, or someone in the middle). If the change is expected, forget the pinned key and scan again"
    )]
    HostKeyChanged {
        /// Where.
        endpoint: String,
        /// The pinned fingerprint.
        expected: String,
        /// The presented fingerprint.
        presented: String,
        /// The presented key's algorithm.
        algorithm: String,
    },
    /// The server refused the credentials.
    #[error("{0}: authentication refused for user `{1}` ({2})")]
    Auth(String, String, String),
    /// The key could not be read.
    #[error("private key: {0}")]
    Key(String),
    /// A time limit passed.
    #[error("{0}: {1} did not finish within {2:?}")]
    Timeout(String, String, Duration),
    /// A command printed more than allowed.
    #[error(
        "{0}: `{1}` printed more than {2} bytes; stopped reading (raise the output cap if the host is that large)"
    )]
    OutputTooLarge(String, String, usize),
    /// A command failed.
    #[error("{0}: `{1}` failed (exit {2}): {3}")]
    Command(String, String, u32, String),
    /// The SSH protocol failed mid-session.
    #[error("{0}: SSH: {1}")]
    Protocol(String, String),
}

/// The facts of a remote host and how they were read.
#[derive(Debug)]
pub struct RemoteFacts {
    /// The host's facts (as the local collector returns them).
    pub facts: HostFacts,
    /// The host key the server presented (pinned on first contact).
    pub host_key: HostKey,
    /// The jump host's key, when the session went through one.
    pub jump_key: Option<HostKey>,
    /// Wall time of the collection.
    pub elapsed: Duration,
}

/// The commands run on a target. Constants: nothing from the target is ever put into them.
pub mod commands {
    macro_rules! hostname {
        () => {
            "cat /proc/sys/kernel/hostname 2>/dev/null || hostname"
        };
    }
    macro_rules! os_release {
        () => {
            "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"
        };
    }
    macro_rules! kernel {
        () => {
            "uname -r"
        };
    }
    macro_rules! uptime {
        () => {
            "cat /proc/uptime; if [ -e /var/run/reboot-required ] || [ -e /run/reboot-required ]; then echo reboot-required; fi"
        };
    }
    macro_rules! packages {
        () => {
            concat!(
                "if command -v dpkg-query >/dev/null 2>&1 && [ -d /var/lib/dpkg ]; then echo dpkg-query; ",
                "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\n'; ",
                "elif [ -f /lib/apk/db/installed ]; then echo apk-installed; cat /lib/apk/db/installed; ",
                "elif command -v rpm >/dev/null 2>&1; then echo rpm-query; rpm -qa --qf '",
                "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n",
                "'; else echo none; fi"
            )
        };
    }
    macro_rules! listening {
        () => {
            "if command -v ss >/dev/null 2>&1; then echo ss; ss -H -tuln; else echo proc; for f in tcp tcp6 udp udp6; do echo \"== $f\"; cat /proc/net/$f 2>/dev/null; done; fi"
        };
    }

    /// Host name.
    pub const HOSTNAME: &str = hostname!();
    /// OS release.
    pub const OS_RELEASE: &str = os_release!();
    /// Running kernel.
    pub const KERNEL: &str = kernel!();
    /// Uptime and the reboot flag.
    pub const UPTIME: &str = uptime!();
    /// Installed packages: the first line says which database answered.
    pub const PACKAGES: &str = packages!();
    /// Listening sockets (`ss`; the kernel's tables where `ss` is missing).
    pub const LISTENING: &str = listening!();
    /// The prefix of the line that starts each section of [`SCRIPT`]'s output.
    pub const MARK: &str = "@@vantage ";
    /// Everything above as one script, each part after an `@@vantage NAME` line, run on one
    /// channel (OpenSSH answers one channel much sooner than six: it closes a session's
    /// channels one after the other).
    pub const SCRIPT: &str = concat!(
        "echo '@@vantage hostname'; ",
        hostname!(),
        "; echo '@@vantage os-release'; ",
        os_release!(),
        "; echo '@@vantage kernel'; ",
        kernel!(),
        "; echo '@@vantage uptime'; ",
        uptime!(),
        "; echo '@@vantage packages'; ",
        packages!(),
        "; echo \"@@vantage packages-exit $?\"; echo '@@vantage listening'; ",
        listening!(),
        "; echo '@@vantage end'"
    );
    /// Listening sockets with their processes, through passwordless sudo.
    pub const SUDO_N_LISTENING: &str = "sudo -n ss -H -tulpn";
    /// The same, sudo's password on standard input.
    pub const SUDO_S_LISTENING: &str = "sudo -S -p '' ss -H -tulpn";
}

/// The sections of [`commands::SCRIPT`]'s output, by name (`packages-exit 0` is a name too).
pub fn script_sections(out: &str) -> std::collections::HashMap<String, String> {
    let mut sections = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    let mut text = String::new();
    for line in out.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix(commands::MARK) {
            if let Some(c) = current.take() {
                sections.insert(c, std::mem::take(&mut text));
            }
            current = Some(name.trim_end().to_string());
            continue;
        }
        if current.is_some() {
            text.push_str(line);
        }
    }
    if let Some(c) = current {
        sections.insert(c, text);
    }
    sections
}

#[derive(Clone)]
struct Pin {
    pinned: Option<String>,
    seen: Arc<Mutex<Option<HostKey>>>,
}

impl client::Handler for Pin {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public: PublicKey = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => PublicKey::from(c.public_key().clone()),
        };
        let fingerprint = public.fingerprint(HashAlg::Sha256).to_string();
        let ok = self.pinned.as_deref().is_none_or(|p| p == fingerprint);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(HostKey {
            algorithm: public.algorithm().to_string(),
            fingerprint,
        });
        Ok(ok)
    }
}

fn config(legacy: bool) -> Arc<client::Config> {
    let mut c = client::Config {
        nodelay: true,
        inactivity_timeout: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    if legacy {
        use russh::{kex, mac};
        let mut kexes = c.preferred.kex.to_vec();
        kexes.extend([kex::DH_GEX_SHA1, kex::DH_G14_SHA1, kex::DH_G1_SHA1]);
        let mut macs = c.preferred.mac.to_vec();
        macs.extend([mac::HMAC_SHA1_ETM, mac::HMAC_SHA1]);
        c.preferred.kex = kexes.into();
        c.preferred.mac = macs.into();
        if let Ok(gex) = client::GexParams::new(2048, 4096, 8192) {
            c.gex = gex;
        }
    }
    Arc::new(c)
}

/// Logs in over `stream` (a TCP connection or a tunnel through a jump host).
async fn handshake<S>(
    login: &SshLogin,
    stream: S,
    timeout: Duration,
    legacy: bool,
) -> Result<(Handle<Pin>, HostKey), SshError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let at = login.endpoint.to_string();
    let pin = Pin {
        pinned: login.pinned.clone(),
        seen: Arc::default(),
    };
    let seen = pin.seen.clone();
    let presented = || seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let work = async {
        let mut handle = match client::connect_stream(config(legacy), stream, pin).await {
            Ok(h) => h,
            Err(e) => {
                if let (Some(expected), Some(key)) = (&login.pinned, presented())
                    && *expected != key.fingerprint
                {
                    return Err(SshError::HostKeyChanged {
                        endpoint: at.clone(),
                        expected: expected.clone(),
                        presented: key.fingerprint,
                        algorithm: key.algorithm,
                    });
                }
                return Err(SshError::Connect(at.clone(), e.to_string()));
            }
        };
        let user = login.endpoint.user.clone();
        let result = match &login.auth {
            SshAuth::Key { pem, passphrase } => {
                let key = russh::keys::decode_secret_key(pem, passphrase.as_deref().map(|p| &**p))
                    .map_err(|e| SshError::Key(e.to_string()))?;
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(|e| SshError::Protocol(at.clone(), e.to_string()))?
                    .flatten();
                handle
                    .authenticate_publickey(
                        user.clone(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
            }
            SshAuth::Password(p) => handle.authenticate_password(user.clone(), &**p).await,
        }
        .map_err(|e| SshError::Protocol(at.clone(), e.to_string()))?;
        if !result.success() {
            let how = match login.auth {
                SshAuth::Key { .. } => "public key",
                SshAuth::Password(_) => "password",
            };
            return Err(SshError::Auth(at.clone(), user, how.into()));
        }
        let key = presented().ok_or_else(|| {
            SshError::Protocol(at.clone(), "the server presented no host key".into())
        })?;
        Ok((handle, key))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SshError::Timeout(at.clone(), "connecting and logging in".into(), timeout))?
}

async fn tcp(endpoint: &SshEndpoint, timeout: Duration) -> Result<tokio::net::TcpStream, SshError> {
    let at = endpoint.to_string();
    let s = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
    )
    .await
    .map_err(|_| SshError::Timeout(at.clone(), "the TCP connection".into(), timeout))?
    .map_err(|e| SshError::Connect(at, e.to_string()))?;
    s.set_nodelay(true).ok();
    Ok(s)
}

/// An open, authenticated session (and the jump session it goes through, kept alive).
pub struct Session {
    handle: Handle<Pin>,
    _jump: Option<Handle<Pin>>,
    at: String,
    /// The target's host key.
    pub host_key: HostKey,
    /// The jump host's key, when there is one.
    pub jump_key: Option<HostKey>,
}

/// Connects and logs in to `login` (through `options.jump` when set).
pub async fn connect(login: &SshLogin, options: &SshOptions) -> Result<Session, SshError> {
    let (t, legacy) = (options.connect_timeout, options.legacy_algorithms);
    let (handle, jump, host_key, jump_key) = match &options.jump {
        None => {
            let (h, k) = handshake(login, tcp(&login.endpoint, t).await?, t, legacy).await?;
            (h, None, k, None)
        }
        Some(bastion) => {
            let (jh, jk) = handshake(bastion, tcp(&bastion.endpoint, t).await?, t, legacy).await?;
            let at = bastion.endpoint.to_string();
            let channel = tokio::time::timeout(
                t,
                jh.channel_open_direct_tcpip(
                    login.endpoint.host.clone(),
                    u32::from(login.endpoint.port),
                    "127.0.0.1",
                    0,
                ),
            )
            .await
            .map_err(|_| SshError::Timeout(at.clone(), "opening the tunnel".into(), t))?
            .map_err(|e| {
                SshError::Connect(
                    login.endpoint.to_string(),
                    format!("the jump host {at} could not open a tunnel: {e}"),
                )
            })?;
            let (h, k) = handshake(login, channel.into_stream(), t, legacy).await?;
            (h, Some(jh), k, Some(jk))
        }
    };
    Ok(Session {
        handle,
        _jump: jump,
        at: login.endpoint.to_string(),
        host_key,
        jump_key,
    })
}

/// A command's result.
#[derive(Debug)]
pub struct Output {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit status (`None` when the server sent none).
    pub status: Option<u32>,
}

impl Session {
    /// Runs one fixed command on its own channel, `stdin` written first; bounded in time and
    /// output.
    pub async fn run(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        max_output: usize,
    ) -> Result<Output, SshError> {
        let at = &self.at;
        let label = command
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        let proto = |e: russh::Error| SshError::Protocol(at.clone(), e.to_string());
        let work = async {
            let mut ch = self.handle.channel_open_session().await.map_err(proto)?;
            ch.exec(true, command).await.map_err(proto)?;
            if let Some(input) = stdin {
                ch.data_bytes(input.to_vec()).await.map_err(proto)?;
            }
            ch.eof().await.map_err(proto)?;
            let mut out = Output {
                stdout: Vec::new(),
                stderr: Vec::new(),
                status: None,
            };
            // Read until the channel closes: the exit status may come after EOF.
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
                if out.stdout.len() + out.stderr.len() > max_output {
                    ch.close().await.ok();
                    return Err(SshError::OutputTooLarge(
                        at.clone(),
                        label.clone(),
                        max_output,
                    ));
                }
            }
            Ok(out)
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| SshError::Timeout(at.clone(), format!("`{label}`"), timeout))?
    }

    /// Closes the session politely.
    pub async fn close(self) {
        self.handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await
            .ok();
    }
}

/// Collects the facts of the host at `login`: OS release, kernel, uptime and reboot flag,
/// installed packages, listening sockets. The commands run concurrently on one session.
pub async fn collect(login: &SshLogin, options: &SshOptions) -> Result<RemoteFacts, SshError> {
    use commands::*;
    let started = Instant::now();
    let session = connect(login, options).await?;
    let (t, cap) = (options.command_timeout, options.max_output);
    let clip = |b: &[u8], n: usize| -> String {
        String::from_utf8_lossy(b).trim().chars().take(n).collect()
    };
    let privileged = async {
        let (cmd, input) = match &options.sudo {
            Sudo::No => return Ok(None),
            Sudo::NoPassword => (SUDO_N_LISTENING, None),
            Sudo::Password(p) => (
                SUDO_S_LISTENING,
                Some(Zeroizing::new(format!("{}\n", &**p).into_bytes())),
            ),
        };
        let o = session
            .run(cmd, input.as_deref().map(|v| &v[..]), t, cap)
            .await?;
        match o.status {
            Some(0) | None => Ok(Some(String::from_utf8_lossy(&o.stdout).into_owned())),
            Some(n) => Err(SshError::Command(
                session.at.clone(),
                "sudo".into(),
                n,
                format!(
                    "sudo refused ({}); give the account sudo rights for `ss`, or scan without --sudo",
                    clip(&o.stderr, 300)
                ),
            )),
        }
    };
    let (script, privileged) = tokio::try_join!(session.run(SCRIPT, None, t, cap), privileged)?;
    let sections = script_sections(&String::from_utf8_lossy(&script.stdout));
    let section = |name: &str| sections.get(name).cloned().unwrap_or_default();
    if !sections.contains_key("end") {
        return Err(SshError::Command(
            session.at.clone(),
            "inventory script".into(),
            script.status.unwrap_or(0),
            format!(
                "its output stopped before the end (no POSIX shell for this account?): {}",
                clip(&script.stderr, 300)
            ),
        ));
    }
    let package_status = sections
        .keys()
        .find_map(|k| k.strip_prefix("packages-exit ")?.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if package_status != 0 {
        return Err(SshError::Command(
            session.at.clone(),
            "package query".into(),
            package_status,
            clip(&script.stderr, 500),
        ));
    }
    let uptime = section("uptime");
    let first_line = |s: String| {
        s.lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
    };
    let listening = match privileged {
        Some(ss) => parse_listening(&format!("ss\n{ss}")),
        None => parse_listening(&section("listening")),
    };
    let facts = HostFacts {
        hostname: first_line(section("hostname")).unwrap_or_else(|| login.endpoint.host.clone()),
        os_release: Some(section("os-release")).filter(|t| t.contains('=')),
        kernel: first_line(section("kernel")),
        uptime_secs: uptime
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .map(|s| s as u64),
        reboot_required: uptime.lines().any(|l| l.trim() == "reboot-required"),
        packages: package_source(&section("packages")),
        listening,
    };
    let (host_key, jump_key) = (session.host_key.clone(), session.jump_key.clone());
    session.close().await;
    Ok(RemoteFacts {
        facts,
        host_key,
        jump_key,
        elapsed: started.elapsed(),
    })
}

/// The package database named on the first line of the `PACKAGES` command's output.
pub fn package_source(out: &str) -> PackageSource {
    let (kind, rest) = out.split_once('\n').unwrap_or((out, ""));
    match kind.trim() {
        // Only installed packages (the second status letter `i`), as in the status file.
        "dpkg-query" => PackageSource::DpkgQuery(
            rest.lines()
                .filter_map(|l| {
                    let (status, line) = l.split_once('\t')?;
                    (status.as_bytes().get(1) == Some(&b'i')).then_some(line)
                })
                .fold(String::new(), |mut s, l| {
                    s.push_str(l);
                    s.push('\n');
                    s
                }),
        ),
        "apk-installed" => PackageSource::ApkInstalled(rest.to_string()),
        "rpm-query" => PackageSource::RpmQuery(rest.to_string()),
        _ => PackageSource::None,
    }
}

/// Listening sockets from `ss -H -tulpn` (or, after a `proc` line, the kernel's tables).
pub fn parse_listening(out: &str) -> Vec<Listener> {
    let (kind, rest) = out.split_once('\n').unwrap_or((out, ""));
    let mut all = Vec::new();
    if kind.trim() == "proc" {
        for part in rest.split("== ").skip(1) {
            let (name, table) = part.split_once('\n').unwrap_or((part, ""));
            let protocol = if name.starts_with("tcp") {
                "tcp"
            } else {
                "udp"
            };
            all.extend(parse_proc_net(table, protocol, name.ends_with('6')));
        }
    } else {
        // ss -H: Netid State Recv-Q Send-Q Local:Port Peer:Port [Process]
        let lines = if kind.trim() == "ss" { rest } else { out };
        for line in lines.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(netid), Some(local)) = (f.first(), f.get(4)) else {
                continue;
            };
            let protocol = match *netid {
                "tcp" => "tcp",
                "udp" => "udp",
                _ => continue,
            };
            let Some((addr, port)) = local.rsplit_once(':') else {
                continue;
            };
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            // `0.0.0.0%lo`, `*`, `[::]`, `127.0.0.53%lo`
            let addr = addr.split('%').next().unwrap_or(addr);
            let address = match addr {
                "*" => IpAddr::from([0, 0, 0, 0]),
                a => match a.parse() {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            all.push(Listener {
                protocol,
                address,
                port,
            });
        }
    }
    all.sort_by_key(|l| (l.protocol, l.port, l.address));
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = SshEndpoint::parse("root@127.0.0.1:2222").unwrap();
        assert_eq!(
            (e.user.as_str(), e.host.as_str(), e.port),
            ("root", "127.0.0.1", 2222)
        );
        assert_eq!(SshEndpoint::parse("a@h").unwrap().port, 22);
        assert_eq!(SshEndpoint::parse("a@::1").unwrap().host, "::1");
        let v6 = SshEndpoint::parse("a@[::1]:2200").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 2200));
        assert_eq!(v6.to_string(), "a@[::1]:2200");
        assert!(SshEndpoint::parse("host").is_err());
        assert!(SshEndpoint::parse("a@h:0").is_err());
        assert!(SshEndpoint::parse("a@h:x").is_err());
        assert!(SshEndpoint::parse("@h").is_err());
    }

    #[test]
    fn package_outputs() {
        let out = "dpkg-query\nii \tbash\t5.2-1\tamd64\tbash\t5.2-1\nrc \told\t1\tamd64\told\t1\nhi \tlibc6\t2.36\tamd64\tglibc\t2.36\n";
        let PackageSource::DpkgQuery(t) = package_source(out) else {
            panic!()
        };
        assert_eq!(
            t,
            "bash\t5.2-1\tamd64\tbash\t5.2-1\nlibc6\t2.36\tamd64\tglibc\t2.36\n"
        );
        assert_eq!(package_source("none\n"), PackageSource::None);
        assert!(matches!(
            package_source("rpm-query\nx\t0:1-1\tx86_64\tx.src.rpm\n"),
            PackageSource::RpmQuery(_)
        ));
        assert!(commands::PACKAGES.contains(crate::host::RPM_QUERY));
    }

    #[test]
    fn script_output_sections() {
        let out = "@@vantage hostname\nbox\n@@vantage packages\ndpkg-query\nii \ta\t1\tamd64\ta\t1\n@@vantage packages-exit 0\n@@vantage listening\n@@vantage end\n";
        let s = script_sections(out);
        assert_eq!(s["hostname"], "box\n");
        assert!(s["packages"].starts_with("dpkg-query\n"));
        assert!(s.contains_key("packages-exit 0") && s.contains_key("end"));
        assert_eq!(s["listening"], "");
        // Text before the first mark is nobody's; a truncated run has no `end`.
        assert!(!script_sections("junk\n@@vantage kernel\n6.1\n").contains_key("end"));
        assert!(
            commands::SCRIPT.contains(commands::PACKAGES)
                && commands::SCRIPT.ends_with("echo '@@vantage end'")
        );
    }

    #[test]
    fn ss_output() {
        let out = "ss\n\
            udp   UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:* users:((\"systemd-resolve\",pid=1,fd=1))\n\
            tcp   LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=2,fd=3))\n\
            tcp   LISTEN 0 128 [::]:22 [::]:*\n\
            tcp   LISTEN 0 244 127.0.0.1:5432 0.0.0.0:*\n\
            tcp   LISTEN 0 5 *:8080 *:*\n";
        let l = parse_listening(out);
        let got: Vec<String> = l
            .iter()
            .map(|l| format!("{}/{}:{}", l.protocol, l.address, l.port))
            .collect();
        assert_eq!(
            got,
            [
                "tcp/0.0.0.0:22",
                "tcp/:::22",
                "tcp/127.0.0.1:5432",
                "tcp/0.0.0.0:8080",
                "udp/127.0.0.53:53"
            ]
        );
        let proc = "proc\n== tcp\nhdr\n 0: 0100007F:1538 00000000:0000 0A x\n== udp\nhdr\n";
        assert_eq!(parse_listening(proc).len(), 1);
    }
}
