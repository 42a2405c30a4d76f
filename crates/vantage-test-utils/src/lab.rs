//! A network lab for discovery tests, never a real network: real services (OpenSSH, Python's
//! HTTP server, OpenSSL's TLS server, raw banner services) started on a loopback address of
//! their own (127.0.0.0/8 has plenty), and network namespaces joined by a veth pair whose far end
//! only the test's packets reach. Everything is stopped when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use tempfile::TempDir;

/// A loopback /24 of this test's own: `127.A.B.` with A from the process id and B random, so
/// tests running side by side never share an address.
pub fn loopback_net() -> String {
    let a = 100 + std::process::id() % 120;
    let b = rand::rng().random_range(1..250);
    format!("127.{a}.{b}.")
}

/// Waits until something accepts connections on the address.
pub fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {addr} after 15 s");
}

/// A child process killed (and reaped) when dropped, with the files it needs.
pub struct Proc {
    child: Child,
    /// Files the process uses (keys, certificates, pages).
    pub dir: TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a process that is killed when the returned [`Proc`] drops.
pub fn spawn_proc(cmd: &mut Command, dir: TempDir, what: &str) -> Proc {
    spawn(cmd, dir, what)
}

fn spawn(cmd: &mut Command, dir: TempDir, what: &str) -> Proc {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    Proc { child, dir }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The real OpenSSH server (Debian's `openssh-server`) on `ip:port`, with a fresh host key.
pub fn sshd(ip: &str, port: u16) -> Proc {
    sshd_with(ip, port, "")
}

/// The user the SSH lab logs in as with a password (created once; no home, no privileges
/// beyond `sudo ss`).
pub const SSH_TEST_USER: &str = "vantage-ssh-test";
/// Its password (a lab-only account on a CI machine).
pub const SSH_TEST_PASSWORD: &str = "lab-only-Vantage-7f3a";

/// A real sshd that accepts logins: client keys generated for the test (in `dir`), root by key,
/// [`SSH_TEST_USER`] by password. Two extra keys are restricted by `command=` in
/// `authorized_keys`: `hostile` prints 200 MB for every command, `slow` sleeps a minute.
pub struct SshLab {
    /// The server (its dir holds the host key).
    pub sshd: Proc,
    /// The client keys and `authorized_keys`.
    pub keys: TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SshLab {
    /// Starts the lab on `ip:port`.
    pub fn start(ip: &str, port: u16) -> SshLab {
        SshLab::start_with(ip, port, "")
    }

    /// Starts the lab with extra sshd configuration lines (they win over the lab's).
    pub fn start_with(ip: &str, port: u16, config: &str) -> SshLab {
        let keys = tempfile::tempdir().expect("temp dir");
        let mut authorized = String::new();
        for (name, kind, restriction) in [
            ("client", "ed25519", ""),
            ("client_rsa", "rsa", ""),
            ("wrong", "ed25519", "-"),
            (
                "hostile",
                "ed25519",
                "command=\"head -c 200000000 /dev/zero\" ",
            ),
            ("slow", "ed25519", "command=\"sleep 60\" "),
        ] {
            let path = keys.path().join(name);
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-C", name])
                .arg("-f")
                .arg(&path));
            if restriction != "-" {
                let public = std::fs::read_to_string(path.with_extension("pub")).expect("pub key");
                authorized.push_str(restriction);
                authorized.push_str(&public);
            }
        }
        let auth_file = keys.path().join("authorized_keys");
        std::fs::write(&auth_file, authorized).expect("authorized_keys");
        ensure_test_user();
        // sshd takes the first value of a keyword: these come before sshd_with's defaults.
        let extra = format!(
            "{config}AuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication yes\n\
             MaxSessions 50\nMaxStartups 200\nAllowTcpForwarding yes\n",
            auth_file.display()
        );
        let sshd = sshd_with(ip, port, &extra);
        SshLab {
            sshd,
            keys,
            addr: SocketAddr::new(ip.parse().expect("ip"), port),
        }
    }

    /// A key file of the lab: `client`, `client_rsa`, `wrong`, `hostile`, `slow`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.keys.path().join(name)
    }

    /// `user@ip:port`.
    pub fn target(&self, user: &str) -> String {
        format!("{user}@{}:{}", self.addr.ip(), self.addr.port())
    }

    /// The server's host key file (`hostkey.pub` beside it).
    pub fn host_key(&self) -> PathBuf {
        self.sshd.dir.path().join("hostkey")
    }
}

/// Creates [`SSH_TEST_USER`] with [`SSH_TEST_PASSWORD`] (idempotent) and lets it run `ss` with
/// sudo and its password.
fn ensure_test_user() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(SSH_TEST_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            // Another test process may create it at the same moment: exit code 9 is "exists".
            let s = Command::new("useradd")
                .args(["-M", "-d", "/nonexistent", "-s", "/bin/sh", SSH_TEST_USER])
                .status()
                .expect("useradd");
            assert!(
                s.success() || s.code() == Some(9),
                "useradd {SSH_TEST_USER}: {s}"
            );
        }
        let mut c = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(format!("{SSH_TEST_USER}:{SSH_TEST_PASSWORD}\n").as_bytes())
            .expect("chpasswd stdin");
        assert!(c.wait().expect("chpasswd").success(), "chpasswd failed");
        if Path::new("/etc/sudoers.d").is_dir() {
            let rule = format!("{SSH_TEST_USER} ALL=(root) /usr/bin/ss\n");
            let path = Path::new("/etc/sudoers.d/vantage-ssh-test");
            if std::fs::read_to_string(path).ok().as_deref() != Some(rule.as_str()) {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, &rule).expect("sudoers rule");
                std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o440))
                    .expect("sudoers mode");
                std::fs::rename(&tmp, path).expect("sudoers rule");
            }
        }
    });
}

/// The real sshd with extra configuration lines.
pub fn sshd_with(ip: &str, port: u16, extra: &str) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("hostkey");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&key));
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "{extra}Port {port}\nListenAddress {ip}\nHostKey {}\nPidFile {}\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n",
            key.display(),
            dir.path().join("sshd.pid").display()
        ),
    )
    .expect("sshd_config");
    let p = spawn(
        Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(&config),
        dir,
        "/usr/sbin/sshd (install openssh-server)",
    );
    wait_listening(SocketAddr::new(ip.parse().expect("ip"), port));
    p
}

/// Python's `http.server` on `ip:port`, serving a page with this title.
pub fn http_server(ip: &str, port: u16, title: &str) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("index.html"),
        format!("<!doctype html><html><head><title>{title}</title></head><body>lab</body></html>"),
    )
    .expect("index.html");
    let p = spawn(
        Command::new(crate::python())
            .args(["-m", "http.server", "--bind", ip])
            .arg(port.to_string())
            .current_dir(dir.path()),
        dir,
        "python3 -m http.server",
    );
    wait_listening(SocketAddr::new(ip.parse().expect("ip"), port));
    p
}

/// A certificate and key in PEM files.
pub struct CertFiles {
    /// Certificate.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// A self-signed RSA certificate made by the `openssl` command (e.g. a 1024-bit key signed with
/// SHA-1: `openssl_cert(dir, "weak.lab.test", 1024, "sha1")`).
pub fn openssl_cert(dir: &Path, name: &str, bits: u32, digest: &str) -> CertFiles {
    let files = CertFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    run(Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "30"])
        .arg("-newkey")
        .arg(format!("rsa:{bits}"))
        .arg(format!("-{digest}"))
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{name}"))
        .arg("-keyout")
        .arg(&files.key)
        .arg("-out")
        .arg(&files.cert));
    files
}

/// OpenSSL's own TLS server (`openssl s_server -www`) on `ip:port` with this certificate; with
/// `legacy`, TLS 1.0 and 1.1 are accepted too (security level 0).
pub fn tls_server(ip: &str, port: u16, cert: &CertFiles, legacy: bool) -> Proc {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-www", "-quiet"])
        .arg("-accept")
        .arg(format!("{ip}:{port}"))
        .arg("-cert")
        .arg(&cert.cert)
        .arg("-key")
        .arg(&cert.key);
    if legacy {
        cmd.args(["-cipher", "DEFAULT:@SECLEVEL=0", "-min_protocol", "TLSv1"]);
    }
    let p = spawn(&mut cmd, dir, "openssl s_server");
    wait_listening(SocketAddr::new(ip.parse().expect("ip"), port));
    p
}

/// A raw TCP service in this process: each connection gets `behaviour`'s bytes (then is closed),
/// or nothing at all when it is `None` (a stalling service). Stops when dropped.
pub struct RawService {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<std::sync::atomic::AtomicU64>,
}

impl RawService {
    /// Starts the service.
    pub fn start(addr: SocketAddr, reply: Option<Vec<u8>>) -> RawService {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (s, a) = (stop.clone(), accepted.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        a.fetch_add(1, Ordering::Relaxed);
                        match &reply {
                            Some(bytes) => {
                                let bytes = bytes.clone();
                                std::thread::spawn(move || {
                                    let _ = c.set_nonblocking(false);
                                    let _ = c.write_all(&bytes);
                                    let mut sink = [0u8; 1024];
                                    let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                                    let _ = c.read(&mut sink);
                                });
                            }
                            // Stalls: keep the connection open, say nothing.
                            None => held.push(c),
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        RawService {
            stop,
            addr,
            accepted,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RawService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A network namespace of the test's own, joined to this one by a veth pair: `host_ip` here,
/// `ns_ip` inside. Host routes send only the pair's /30 through the veth, and a blackhole route
/// keeps the rest of the /24 from ever leaving the machine. Removed when dropped.
pub struct Netns {
    /// Namespace name.
    pub name: String,
    /// This side's address.
    pub host_ip: String,
    /// The address inside the namespace.
    pub ns_ip: String,
    host_if: String,
    blackhole: String,
    procs: Vec<Child>,
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

impl Netns {
    /// Creates the namespace and the veth pair (needs root).
    pub fn new() -> Netns {
        let id = std::process::id() % 10_000;
        let r: u8 = rand::rng().random_range(1..250);
        let name = format!("vt{id}x{r}");
        let host_if = format!("vh{id}x{r}");
        let ns_if = format!("vn{id}x{r}");
        // 10.213.R.0/24, of which only R.0/30 exists: .1 here, .2 there.
        let net = format!("10.213.{r}");
        let blackhole = format!("{net}.0/24");
        ip(&["netns", "add", &name]);
        let ns = Netns {
            host_ip: format!("{net}.1"),
            ns_ip: format!("{net}.2"),
            name: name.clone(),
            host_if: host_if.clone(),
            blackhole: blackhole.clone(),
            procs: Vec::new(),
        };
        ip(&["route", "add", "blackhole", &blackhole]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &host_if,
        ]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &ns_if,
        ]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Starts a TCP service inside the namespace that sends `banner` to every connection.
    pub fn serve(&mut self, port: u16, banner: &str) {
        let code = format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('{}',{port}))\ns.listen(64)\nwhile True:\n  c,_=s.accept()\n  c.sendall({banner:?}.encode())\n  c.close()\n",
            self.ns_ip
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(crate::python())
            .args(["-c", &code])
            .stdin(Stdio::null())
            .spawn()
            .expect("python in the namespace");
        self.procs.push(child);
        wait_listening(SocketAddr::new(self.ns_ip.parse().expect("ip"), port));
    }

    /// Makes the namespace's host silent: every packet it receives is dropped (as an unplugged
    /// machine behind a firewall), without touching routes.
    pub fn silence(&self) {
        run(Command::new("ip").args([
            "netns", "exec", &self.name, "iptables", "-I", "INPUT", "-j", "DROP",
        ]));
    }

    /// Undoes [`Netns::silence`].
    pub fn unsilence(&self) {
        run(Command::new("ip").args([
            "netns", "exec", &self.name, "iptables", "-D", "INPUT", "-j", "DROP",
        ]));
    }
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["route", "del", "blackhole", &self.blackhole])
            .output();
    }
}
