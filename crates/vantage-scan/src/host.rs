//! What a host runs, read from the machine itself: `/etc/os-release`, the running kernel and
//! uptime (`/proc`), whether a reboot is required, the package database (dpkg status, apk
//! installed database, or `rpm -qa` with a fixed query format), and the listening sockets
//! (`/proc/net/{tcp,tcp6,udp,udp6}`). Every path is under a root directory (`/` for the local
//! machine; a fixture tree in tests), every command is a fixed string, and every read is capped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ScanError;

/// The most bytes read from one file (a package database of a large host is a few MiB).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// The query format `rpm -qa` runs with: name, epoch:version-release, arch, source rpm.
pub const RPM_QUERY: &str =
    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n";

/// Where the packages came from, and their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageSource {
    /// `/var/lib/dpkg/status`.
    DpkgStatus(String),
    /// `dpkg-query -W` output of installed packages (package, version, architecture, source,
    /// source version; tab-separated).
    DpkgQuery(String),
    /// `/lib/apk/db/installed`.
    ApkInstalled(String),
    /// `rpm -qa --qf RPM_QUERY` output.
    RpmQuery(String),
    /// An rpm sqlite database (`rpmdb.sqlite`) found in an image, to be read with
    /// [`crate::image::rpmdb_sqlite_packages`].
    RpmSqlite(Vec<u8>),
    /// No package database found.
    None,
}

/// A listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// Local address (`0.0.0.0`, `::`, `127.0.0.1` …).
    pub address: IpAddr,
    /// Local port.
    pub port: u16,
}

/// The facts of one host.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// `/etc/os-release` text.
    pub os_release: Option<String>,
    /// Running kernel release (`uname -r`).
    pub kernel: Option<String>,
    /// Seconds since boot.
    pub uptime_secs: Option<u64>,
    /// The distribution asks for a reboot (`/var/run/reboot-required`).
    pub reboot_required: bool,
    /// Installed packages.
    pub packages: PackageSource,
    /// Listening sockets.
    pub listening: Vec<Listener>,
}

fn read(root: &Path, rel: &str) -> Result<Option<String>, ScanError> {
    use std::io::Read;
    let path: PathBuf = root.join(rel.trim_start_matches('/'));
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ScanError::Host(path.display().to_string(), e.to_string())),
    };
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| ScanError::Host(path.display().to_string(), e.to_string()))?;
    Ok(Some(text))
}

/// Reads the facts of the machine whose file system is at `root` (`/` for this one). The rpm
/// database is read by running `rpm` only when `root` is `/`.
pub fn collect_local(root: &Path) -> Result<HostFacts, ScanError> {
    let first_line = |s: Option<String>| {
        s.and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
            .filter(|l| !l.is_empty())
    };
    let hostname = first_line(read(root, "/proc/sys/kernel/hostname")?)
        .or(first_line(read(root, "/etc/hostname")?))
        .unwrap_or_else(|| "localhost".into());
    let os_release = match read(root, "/etc/os-release")? {
        Some(t) => Some(t),
        None => read(root, "/usr/lib/os-release")?,
    };
    let kernel = first_line(read(root, "/proc/sys/kernel/osrelease")?);
    let uptime_secs = read(root, "/proc/uptime")?.and_then(|t| {
        t.split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .map(|s| s as u64)
    });
    let reboot_required =
        root.join("var/run/reboot-required").exists() || root.join("run/reboot-required").exists();
    let packages = if let Some(t) = read(root, "/var/lib/dpkg/status")? {
        PackageSource::DpkgStatus(t)
    } else if let Some(t) = read(root, "/lib/apk/db/installed")? {
        PackageSource::ApkInstalled(t)
    } else if root == Path::new("/")
        && (Path::new("/var/lib/rpm").exists() || Path::new("/usr/lib/sysimage/rpm").exists())
    {
        let out = std::process::Command::new("rpm")
            .args([
                "-qa",
                "--qf",
                &RPM_QUERY.replace("\\t", "\t").replace("\\n", "\n"),
            ])
            .output()
            .map_err(|e| ScanError::Host("rpm -qa".into(), e.to_string()))?;
        if !out.status.success() {
            return Err(ScanError::Host(
                "rpm -qa".into(),
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        PackageSource::RpmQuery(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        PackageSource::None
    };
    let mut listening = Vec::new();
    for (file, protocol, v6) in [
        ("/proc/net/tcp", "tcp", false),
        ("/proc/net/tcp6", "tcp", true),
        ("/proc/net/udp", "udp", false),
        ("/proc/net/udp6", "udp", true),
    ] {
        if let Some(t) = read(root, file)? {
            listening.extend(parse_proc_net(&t, protocol, v6));
        }
    }
    listening.sort_by_key(|l| (l.protocol, l.port, l.address));
    listening.dedup();
    Ok(HostFacts {
        hostname,
        os_release,
        kernel,
        uptime_secs,
        reboot_required,
        packages,
        listening,
    })
}

/// Listening sockets of a `/proc/net/{tcp,udp}[6]` table: TCP in state LISTEN (0A), UDP
/// unconnected (07). Unreadable lines are skipped (the kernel writes this file, not a user).
pub fn parse_proc_net(text: &str, protocol: &'static str, v6: bool) -> Vec<Listener> {
    let want = if protocol == "tcp" { "0A" } else { "07" };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, state) = (f.get(1)?, f.get(3)?);
            if *state != want {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let address = if v6 {
                // Four 32-bit words, each in host (little-endian) order.
                let mut bytes = [0u8; 16];
                for (i, word) in (0..4).map(|i| addr.get(i * 8..i * 8 + 8)).enumerate() {
                    let w = u32::from_str_radix(word?, 16).ok()?;
                    bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
                }
                IpAddr::V6(Ipv6Addr::from(bytes))
            } else {
                let w = u32::from_str_radix(addr, 16).ok()?;
                IpAddr::V4(Ipv4Addr::from(w.to_le_bytes()))
            };
            Some(Listener {
                protocol,
                address,
                port,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 1\n\
                   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n\
                   2: 0100007F:1538 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000   105        0 3\n";
        let l = parse_proc_net(tcp, "tcp", false);
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[0].address.to_string(), l[0].port),
            ("127.0.0.1".to_string(), 5432)
        );
        assert_eq!(
            (l[1].address.to_string(), l[1].port),
            ("0.0.0.0".to_string(), 22)
        );
        let tcp6 = "header\n 0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A x\n";
        let l6 = parse_proc_net(tcp6, "tcp", true);
        assert_eq!(l6[0].address.to_string(), "::1");
    }

    #[test]
    fn a_fixture_root() {
        let dir = tempfile::tempdir().unwrap();
        let put = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        put("etc/hostname", "lab-01\n");
        put("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
        put("proc/uptime", "3600.52 100.0\n");
        put("var/run/reboot-required", "");
        put(
            "var/lib/dpkg/status",
            "Package: a\nStatus: install ok installed\nVersion: 1\n\n",
        );
        let f = collect_local(dir.path()).unwrap();
        assert_eq!(f.hostname, "lab-01");
        assert_eq!(f.uptime_secs, Some(3600));
        assert!(f.reboot_required);
        assert!(matches!(f.packages, PackageSource::DpkgStatus(_)));
        assert!(f.kernel.is_none());
    }
}
