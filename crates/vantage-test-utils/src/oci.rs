//! Container images built by tests: an OCI image layout written file by file (layers as tar or
//! gzip-compressed tar, whiteouts and symlinks as the test says), turned into a `docker save`
//! archive or pushed to a real registry by `skopeo`, and a real registry (Debian's
//! `docker-registry`) on a loopback address.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::lab::Proc;

/// One entry of a layer.
pub enum Entry<'a> {
    /// A regular file.
    File(&'a str, Vec<u8>),
    /// A symlink and its target.
    Symlink(&'a str, &'a str),
    /// A directory.
    Dir(&'a str),
    /// A whiteout of `path` (written as `.wh.NAME` beside it).
    Whiteout(&'a str),
}

/// A layer's tar bytes.
pub fn layer_tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match e {
            Entry::File(p, data) => {
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, p, &data[..]).expect("tar file");
            }
            Entry::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, p, target).expect("tar symlink");
            }
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, p, &[][..]).expect("tar dir");
            }
            Entry::Whiteout(p) => {
                let (dir, base) = p.rsplit_once('/').unwrap_or(("", p));
                let wh = if dir.is_empty() {
                    format!(".wh.{base}")
                } else {
                    format!("{dir}/.wh.{base}")
                };
                h.set_size(0);
                h.set_mode(0o644);
                b.append_data(&mut h, wh, &[][..]).expect("tar whiteout");
            }
        }
    }
    b.into_inner().expect("tar")
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes an OCI image layout at `dir` with these layers (gzip-compressed when `gzip`), tagged
/// `tag`. Returns the config digest (`sha256:…`, the image id).
pub fn write_layout(dir: &Path, tag: &str, layers: &[Vec<u8>], gzip: bool) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    let put = |data: &[u8]| -> String {
        let h = sha(data);
        std::fs::write(blobs.join(&h), data).expect("blob");
        format!("sha256:{h}")
    };
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(format!("sha256:{}", sha(l)));
        let (data, media) = if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).expect("gzip");
            (
                gz.finish().expect("gzip"),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (l.clone(), "application/vnd.oci.image.layer.v1.tar")
        };
        let d = put(&data);
        layer_descs.push(serde_json::json!({"mediaType": media, "digest": d, "size": data.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layer_descs,
    }))
    .expect("manifest");
    let manifest_digest = put(&manifest);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        }))
        .expect("index"),
    )
    .expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    config_digest
}

/// `skopeo copy SRC DEST` (e.g. `oci:DIR:tag` → `docker-archive:FILE:repo:tag`).
pub fn skopeo_copy(src: &str, dest: &str) {
    skopeo_copy_with(src, dest, &[]);
}

/// `skopeo copy` with extra flags (`--dest-creds user:password` …).
pub fn skopeo_copy_with(src: &str, dest: &str, extra: &[&str]) {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--insecure-policy",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .args([src, dest])
        .output()
        .expect("skopeo (install skopeo)");
    assert!(
        out.status.success(),
        "skopeo copy {src} {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real OCI registry (Debian's `docker-registry`, the CNCF distribution server) on `ip:port`,
/// storing in a temp dir.
pub fn registry(ip: &str, port: u16) -> (Proc, SocketAddr) {
    registry_with(ip, port, "")
}

/// The registry with extra configuration (an `auth:` section …) appended to its YAML.
pub fn registry_with(ip: &str, port: u16, extra_yaml: &str) -> (Proc, SocketAddr) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config: PathBuf = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {ip}:{port}\n{extra_yaml}",
            dir.path().join("data").display()
        ),
    )
    .expect("registry config");
    let p = crate::lab::spawn_proc(
        Command::new("docker-registry").arg("serve").arg(&config),
        dir,
        "docker-registry (install docker-registry)",
    );
    let addr = SocketAddr::new(ip.parse().expect("ip"), port);
    crate::lab::wait_listening(addr);
    (p, addr)
}

/// A real rpm database (`rpmdb.sqlite`, rpm 4.16+'s format) holding these packages (name,
/// epoch, version, release): each built by `rpmbuild` from an empty spec and recorded with
/// `rpm -i --justdb`. Returns the database directory (for `rpm --dbpath DIR -qa` as the oracle).
pub fn rpmdb(dir: &Path, packages: &[(&str, Option<u32>, &str, &str)]) -> PathBuf {
    let top = dir.join("rpmbuild");
    let db = dir.join("rpmdb");
    std::fs::create_dir_all(top.join("SPECS")).expect("rpmbuild dir");
    let run = |cmd: &mut Command| {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install rpm)"));
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("rpm").arg("--dbpath").arg(&db).arg("--initdb"));
    for (name, epoch, version, release) in packages {
        let spec = top.join("SPECS").join(format!("{name}.spec"));
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\n{}Version: {version}\nRelease: {release}\nSummary: lab package\nLicense: MIT\nBuildArch: noarch\n\n%description\nlab\n\n%files\n",
                epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default()
            ),
        )
        .expect("spec");
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("--quiet")
            .arg("-bb")
            .arg(&spec));
    }
    let mut install = Command::new("rpm");
    install.arg("--dbpath").arg(&db).args([
        "-i",
        "--justdb",
        "--nodeps",
        "--ignorearch",
        "--ignoreos",
        "--nosignature",
    ]);
    for entry in std::fs::read_dir(top.join("RPMS/noarch")).expect("built rpms") {
        install.arg(entry.expect("rpm").path());
    }
    run(&mut install);
    db
}
