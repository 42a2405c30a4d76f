//! Container image inventory without a container runtime: `docker save` archives, OCI image
//! layouts (a directory or a tar of one), and images pulled from an OCI registry (distribution
//! API v2; anonymous, basic or token auth; a manifest list resolved to one platform).
//!
//! Layers are streamed in order — gzip, zstd or plain tar, recognised by their first bytes — and
//! nothing is ever written from them to disk: only the few files inventory needs (os-release,
//! the dpkg status and `status.d`, the apk installed database, the rpm sqlite database) are kept
//! in memory, with whiteouts (`.wh.NAME`, `.wh..wh..opq`) applied layer by layer and symlinks
//! resolved inside the image. Hostile archives are refused with the entry named: absolute paths,
//! `..` components, symlinks that climb out of the image, more unpacked bytes or entries than
//! the limits (decompression bombs), truncated layers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::host::PackageSource;

/// Bounds on what one image may make us read.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Bytes all layers may unpack to (tar streams after decompression).
    pub max_unpacked: u64,
    /// Bytes of one kept file (a package database).
    pub max_file: u64,
    /// Entries over all layers.
    pub max_entries: u64,
    /// Layers.
    pub max_layers: usize,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_unpacked: 16 << 30,
            max_file: 256 << 20,
            max_entries: 5_000_000,
            max_layers: 512,
        }
    }
}

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The archive, layout or a layer is malformed, truncated or unreadable.
    #[error("{0}: {1}")]
    Malformed(String, String),
    /// An entry that would land outside the image (refused, never written).
    #[error("{0}: refused entry `{1}`: {2}")]
    Unsafe(String, String, String),
    /// A limit was reached (a decompression bomb, or an image larger than allowed).
    #[error("{0}: {1} (limit {2}); refused")]
    TooLarge(String, String, u64),
    /// The registry failed or refused.
    #[error("registry {0}: {1}")]
    Registry(String, String),
}

/// What an image holds, for inventory.
#[derive(Debug, Clone, Serialize)]
pub struct ImageFacts {
    /// What was read (a path or a reference).
    pub source: String,
    /// `docker-archive`, `oci-layout`, `oci-archive` or `registry`.
    pub format: &'static str,
    /// The image id: the digest of its configuration (`sha256:…`), the same wherever it is read.
    pub config_digest: String,
    /// The manifest digest (what `image@sha256:…` pins), when known.
    pub manifest_digest: Option<String>,
    /// Tags the archive names (`repo:tag`).
    pub repo_tags: Vec<String>,
    /// `linux` …
    pub os: Option<String>,
    /// `amd64` …
    pub architecture: Option<String>,
    /// Number of layers applied.
    pub layers: usize,
    /// Bytes the layers unpacked to.
    pub unpacked_bytes: u64,
    /// The os-release file.
    #[serde(skip)]
    pub os_release: Option<String>,
    /// The package database found.
    #[serde(skip)]
    pub packages: PackageSource,
    /// What was found but could not be read (a Berkeley DB rpm database …).
    pub warnings: Vec<String>,
}

const KEEP: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages",
];
const STATUS_D: &str = "var/lib/dpkg/status.d/";

fn kept(path: &str) -> bool {
    KEEP.contains(&path) || (path.starts_with(STATUS_D) && path.len() > STATUS_D.len())
}

/// A path inside a layer, normalised (`./a//b/` → `a/b`), or why it is refused.
fn normalise(raw: &str) -> Result<String, String> {
    if raw.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("`..` climbs out of the image".into()),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// The merged file view of the layers applied so far: only kept files, every symlink.
#[derive(Default)]
struct Tree {
    files: HashMap<String, Vec<u8>>,
    links: HashMap<String, String>,
    unpacked: u64,
    entries: u64,
}

enum Change {
    Whiteout(String),
    Opaque(String),
    File(String, Vec<u8>),
    Symlink(String, String),
    Hardlink(String, String),
    Other(String),
}

impl Tree {
    fn remove_under(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.files
            .retain(|k, _| k != path && !k.starts_with(&prefix));
        self.links
            .retain(|k, _| k != path && !k.starts_with(&prefix));
    }

    fn remove_below(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.files.retain(|k, _| !k.starts_with(&prefix));
        self.links.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Applies one layer (a tar stream, compressed or not).
    fn apply(
        &mut self,
        layer: impl Read,
        name: &str,
        limits: &ImageLimits,
    ) -> Result<(), ImageError> {
        let counted = Counted {
            inner: layer,
            // Compressed bytes count too: a huge compressed stream is as costly as its content.
            left: limits.max_unpacked.saturating_sub(self.unpacked),
            read: 0,
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, counted);
        let magic = buffered
            .fill_buf()
            .map_err(|e| ImageError::Malformed(name.into(), e.to_string()))?
            .get(..4)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let stream: Box<dyn Read + '_> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else if magic == [0x28, 0xb5, 0x2f, 0xfd] {
            Box::new(
                ruzstd::decoding::StreamingDecoder::new(buffered)
                    .map_err(|e| ImageError::Malformed(name.into(), format!("zstd: {e}")))?,
            )
        } else {
            Box::new(buffered)
        };
        let unpacked = Counted {
            inner: stream,
            left: limits.max_unpacked.saturating_sub(self.unpacked),
            read: 0,
        };
        let mut archive = tar::Archive::new(unpacked);
        let mut changes = Vec::new();
        let limit_err =
            |what: &str, limit: u64| ImageError::TooLarge(name.into(), what.into(), limit);
        let result = (|| -> Result<(), ImageError> {
            let entries = archive
                .entries()
                .map_err(|e| ImageError::Malformed(name.into(), e.to_string()))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| read_error(name, e, limits))?;
                self.entries += 1;
                if self.entries > limits.max_entries {
                    return Err(limit_err("too many entries", limits.max_entries));
                }
                let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let path = normalise(&raw)
                    .map_err(|why| ImageError::Unsafe(name.into(), raw.clone(), why))?;
                if path.is_empty() {
                    continue;
                }
                let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
                if base == ".wh..wh..opq" {
                    changes.push(Change::Opaque(dir.to_string()));
                    continue;
                }
                if let Some(hidden) = base.strip_prefix(".wh.") {
                    let target = if dir.is_empty() {
                        hidden.to_string()
                    } else {
                        format!("{dir}/{hidden}")
                    };
                    changes.push(Change::Whiteout(target));
                    continue;
                }
                let kind = entry.header().entry_type();
                if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    if kind.is_symlink() {
                        changes.push(Change::Symlink(path, target));
                    } else {
                        let t = normalise(&target).map_err(|why| {
                            ImageError::Unsafe(name.into(), format!("{raw} -> {target}"), why)
                        })?;
                        changes.push(Change::Hardlink(path, t));
                    }
                } else if kind.is_file() && kept(&path) {
                    let size = entry.size();
                    if size > limits.max_file {
                        return Err(ImageError::TooLarge(
                            name.into(),
                            format!("{path} is {size} bytes"),
                            limits.max_file,
                        ));
                    }
                    let mut data = Vec::with_capacity(size as usize);
                    entry
                        .read_to_end(&mut data)
                        .map_err(|e| read_error(name, e, limits))?;
                    changes.push(Change::File(path, data));
                } else {
                    changes.push(Change::Other(path));
                }
            }
            Ok(())
        })();
        self.unpacked += archive.into_inner().read;
        result?;
        // Whiteouts hide what lower layers had; then this layer's entries land.
        for c in &changes {
            match c {
                Change::Whiteout(p) => self.remove_under(p),
                Change::Opaque(d) => self.remove_below(d),
                _ => {}
            }
        }
        for c in changes {
            match c {
                Change::File(p, data) => {
                    self.links.remove(&p);
                    self.files.insert(p, data);
                }
                Change::Symlink(p, t) => {
                    self.files.remove(&p);
                    self.links.insert(p, t);
                }
                Change::Hardlink(p, t) => {
                    self.links.remove(&p);
                    match self.files.get(&t).cloned() {
                        Some(data) => {
                            self.files.insert(p, data);
                        }
                        None => {
                            self.files.remove(&p);
                        }
                    }
                }
                Change::Other(p) => {
                    // A directory or an unkept file replaces a link or file of a lower layer.
                    self.files.remove(&p);
                    self.links.remove(&p);
                }
                Change::Whiteout(_) | Change::Opaque(_) => {}
            }
        }
        Ok(())
    }

    /// `path` with every symlink on the way followed inside the image; an escape is refused.
    fn resolve(&self, path: &str) -> Result<String, String> {
        let mut todo: Vec<String> = path.split('/').rev().map(String::from).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    if done.pop().is_none() {
                        return Err(format!(
                            "a symlink on the way to {path} climbs out of the image"
                        ));
                    }
                    continue;
                }
                _ => {}
            }
            done.push(c);
            let here = done.join("/");
            if let Some(target) = self.links.get(&here) {
                hops += 1;
                if hops > 40 {
                    return Err(format!("too many symlinks on the way to {path}"));
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(target.split('/').rev().map(String::from));
            }
        }
        Ok(done.join("/"))
    }

    fn read(&self, path: &str) -> Result<Option<&Vec<u8>>, String> {
        Ok(self.files.get(&self.resolve(path)?))
    }
}

fn read_error(name: &str, e: std::io::Error, limits: &ImageLimits) -> ImageError {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        ImageError::TooLarge(
            name.into(),
            "unpacks to more bytes than allowed".into(),
            limits.max_unpacked,
        )
    } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ImageError::Malformed(name.into(), "truncated (unexpected end of data)".into())
    } else {
        ImageError::Malformed(name.into(), format!("truncated or corrupt: {e}"))
    }
}

/// A reader that fails with `FileTooLarge` past a budget.
struct Counted<R> {
    inner: R,
    left: u64,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.left {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "unpacked size limit reached",
            ));
        }
        Ok(n)
    }
}

/// The facts of the merged tree.
fn facts_of(tree: &Tree, base: ImageFacts) -> Result<ImageFacts, ImageError> {
    let src = base.source.clone();
    let unsafe_link = |why: String| ImageError::Unsafe(src.clone(), "symlink".into(), why);
    let text = |p: &str| -> Result<Option<String>, ImageError> {
        Ok(tree
            .read(p)
            .map_err(unsafe_link)?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    };
    let mut facts = base;
    facts.os_release = match text("etc/os-release")? {
        Some(t) => Some(t),
        None => text("usr/lib/os-release")?,
    };
    let status_d = {
        let mut parts: Vec<(&String, &Vec<u8>)> = tree
            .files
            .iter()
            .filter(|(k, _)| k.starts_with(STATUS_D) && !k.ends_with(".md5sums"))
            .collect();
        parts.sort();
        parts
            .into_iter()
            .map(|(_, v)| {
                let mut s = String::from_utf8_lossy(v).trim_end().to_string();
                s.push_str("\n\n");
                s
            })
            .collect::<String>()
    };
    facts.packages = if let Some(t) = text("var/lib/dpkg/status")? {
        PackageSource::DpkgStatus(t + "\n" + &status_d)
    } else if !status_d.is_empty() {
        PackageSource::DpkgStatus(status_d)
    } else if let Some(t) = text("lib/apk/db/installed")? {
        PackageSource::ApkInstalled(t)
    } else {
        let db = match tree.read("var/lib/rpm/rpmdb.sqlite").map_err(unsafe_link)? {
            Some(d) => Some(d),
            None => tree
                .read("usr/lib/sysimage/rpm/rpmdb.sqlite")
                .map_err(unsafe_link)?,
        };
        match db {
            Some(bytes) => PackageSource::RpmSqlite(bytes.clone()),
            None => {
                if tree.read("var/lib/rpm/Packages").ok().flatten().is_some()
                    || tree
                        .read("usr/lib/sysimage/rpm/Packages")
                        .ok()
                        .flatten()
                        .is_some()
                {
                    facts.warnings.push(
                        "an rpm Berkeley DB database (EL7/EL8) was found: not supported yet; only rpmdb.sqlite is read"
                            .into(),
                    );
                }
                PackageSource::None
            }
        }
    };
    Ok(facts)
}

/// Where layers come from.
trait Blobs {
    /// A blob's reader, by archive path (`blobs/sha256/HEX`, `HEX/layer.tar`).
    fn open(&self, path: &str) -> Result<Box<dyn Read + '_>, ImageError>;
    fn name(&self) -> String;
}

/// A tar archive (docker save, oci-archive) read in place: entries found once, then each blob
/// read from its offset.
struct TarBlobs {
    path: PathBuf,
    entries: HashMap<String, (u64, u64)>,
    links: HashMap<String, String>,
}

impl TarBlobs {
    fn index(path: &Path) -> Result<TarBlobs, ImageError> {
        let shown = path.display().to_string();
        let file =
            File::open(path).map_err(|e| ImageError::Malformed(shown.clone(), e.to_string()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let mut links = HashMap::new();
        let iter = archive
            .entries_with_seek()
            .map_err(|e| ImageError::Malformed(shown.clone(), e.to_string()))?;
        for e in iter {
            let e = e.map_err(|e| {
                ImageError::Malformed(shown.clone(), format!("not a readable tar archive: {e}"))
            })?;
            let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let p = normalise(&raw)
                .map_err(|why| ImageError::Unsafe(shown.clone(), raw.clone(), why))?;
            let kind = e.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                // docker save links identical layers: `a/layer.tar -> ../b/layer.tar`.
                let base = if kind.is_symlink() {
                    p.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
                } else {
                    ""
                };
                let joined = if base.is_empty() {
                    target.clone()
                } else {
                    format!("{base}/{target}")
                };
                let mut parts: Vec<&str> = Vec::new();
                for c in joined.split('/') {
                    match c {
                        "" | "." => {}
                        ".." => {
                            parts.pop().ok_or_else(|| {
                                ImageError::Unsafe(
                                    shown.clone(),
                                    format!("{raw} -> {target}"),
                                    "link climbs out of the archive".into(),
                                )
                            })?;
                        }
                        c => parts.push(c),
                    }
                }
                links.insert(p, parts.join("/"));
            } else if kind.is_file() {
                let (offset, size) = (e.raw_file_position(), e.size());
                if offset.saturating_add(size) > len {
                    return Err(ImageError::Malformed(
                        shown.clone(),
                        format!(
                            "`{p}` is truncated ({size} bytes announced, the file ends before)"
                        ),
                    ));
                }
                entries.insert(p, (offset, size));
            }
        }
        Ok(TarBlobs {
            path: path.to_path_buf(),
            entries,
            links,
        })
    }

    fn read_small(&self, path: &str) -> Result<Vec<u8>, ImageError> {
        let mut out = Vec::new();
        self.open(path)?
            .take(64 << 20)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::Malformed(self.name(), format!("{path}: {e}")))?;
        Ok(out)
    }
}

impl Blobs for TarBlobs {
    fn open(&self, path: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        let mut p = path.trim_start_matches("./").to_string();
        for _ in 0..8 {
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        let (offset, size) = *self.entries.get(&p).ok_or_else(|| {
            ImageError::Malformed(self.name(), format!("`{path}` is not in the archive"))
        })?;
        let mut f = File::open(&self.path)
            .map_err(|e| ImageError::Malformed(self.name(), e.to_string()))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| ImageError::Malformed(self.name(), e.to_string()))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, f.take(size))))
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// An OCI layout directory.
struct DirBlobs(PathBuf);

impl Blobs for DirBlobs {
    fn open(&self, path: &str) -> Result<Box<dyn Read + '_>, ImageError> {
        let rel =
            normalise(path).map_err(|why| ImageError::Unsafe(self.name(), path.into(), why))?;
        let f = File::open(self.0.join(&rel))
            .map_err(|e| ImageError::Malformed(self.name(), format!("{rel}: {e}")))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
    }
    fn name(&self) -> String {
        self.0.display().to_string()
    }
}

fn read_all(b: &dyn Blobs, path: &str) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    b.open(path)?
        .take(64 << 20)
        .read_to_end(&mut out)
        .map_err(|e| ImageError::Malformed(b.name(), format!("{path}: {e}")))?;
    Ok(out)
}

fn json(b: &dyn Blobs, path: &str) -> Result<serde_json::Value, ImageError> {
    serde_json::from_slice(&read_all(b, path)?)
        .map_err(|e| ImageError::Malformed(b.name(), format!("{path}: not JSON: {e}")))
}

fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn blob_path(digest: &str) -> Result<String, String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("digest `{digest}` has no algorithm"))?;
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) || hex.is_empty() || alg.contains('/') {
        return Err(format!("malformed digest `{digest}`"));
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

/// A requested platform: `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`.
    pub architecture: String,
    /// `v8`.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let mut it = s.split('/');
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform {
                    os: os.into(),
                    architecture: arch.into(),
                    variant: variant.map(String::from),
                })
            }
            _ => Err(format!(
                "platform `{s}`: expected os/arch[/variant], e.g. linux/amd64"
            )),
        }
    }

    /// This machine's (`linux/amd64` on x86-64).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: None,
        }
    }

    fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == arch
            && (self.variant.is_none() || self.variant.as_deref() == variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The manifest of an OCI index (following nested indexes) for the platform.
fn pick_manifest(
    b: &dyn Blobs,
    index: &serde_json::Value,
    platform: &Platform,
    depth: usize,
) -> Result<(String, serde_json::Value), ImageError> {
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| ImageError::Malformed(b.name(), "index.json has no manifests".into()))?;
    let usable: Vec<&serde_json::Value> = manifests
        .iter()
        .filter(|m| m["platform"]["architecture"].as_str() != Some("unknown"))
        .collect();
    let chosen = if usable.len() == 1 {
        usable[0]
    } else {
        usable
            .iter()
            .find(|m| {
                let p = &m["platform"];
                p.is_object()
                    && platform.matches(
                        p["os"].as_str().unwrap_or(""),
                        p["architecture"].as_str().unwrap_or(""),
                        p["variant"].as_str(),
                    )
            })
            .copied()
            .or_else(|| {
                usable
                    .first()
                    .copied()
                    .filter(|_| usable.iter().all(|m| !m["platform"].is_object()))
            })
            .ok_or_else(|| {
                let have: Vec<String> = usable
                    .iter()
                    .map(|m| {
                        format!(
                            "{}/{}",
                            m["platform"]["os"].as_str().unwrap_or("?"),
                            m["platform"]["architecture"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                ImageError::Malformed(
                    b.name(),
                    format!(
                        "no manifest for {platform} (the index has {})",
                        have.join(", ")
                    ),
                )
            })?
    };
    let digest = chosen["digest"]
        .as_str()
        .ok_or_else(|| ImageError::Malformed(b.name(), "a manifest entry has no digest".into()))?
        .to_string();
    let path = blob_path(&digest).map_err(|e| ImageError::Malformed(b.name(), e))?;
    let doc = json(b, &path)?;
    if doc["manifests"].is_array() {
        if depth > 4 {
            return Err(ImageError::Malformed(
                b.name(),
                "indexes nested too deep".into(),
            ));
        }
        return pick_manifest(b, &doc, platform, depth + 1);
    }
    Ok((digest, doc))
}

/// Applies layers in order and reads the merged facts.
fn apply_layers(
    b: &dyn Blobs,
    layers: &[String],
    mut facts: ImageFacts,
    limits: &ImageLimits,
) -> Result<ImageFacts, ImageError> {
    if layers.len() > limits.max_layers {
        return Err(ImageError::TooLarge(
            b.name(),
            format!("{} layers", layers.len()),
            limits.max_layers as u64,
        ));
    }
    let mut tree = Tree::default();
    for (i, layer) in layers.iter().enumerate() {
        let name = format!("{}: layer {} ({layer})", b.name(), i + 1);
        tree.apply(b.open(layer)?, &name, limits)?;
    }
    facts.layers = layers.len();
    facts.unpacked_bytes = tree.unpacked;
    facts_of(&tree, facts)
}

fn empty_facts(source: String, format: &'static str) -> ImageFacts {
    ImageFacts {
        source,
        format,
        config_digest: String::new(),
        manifest_digest: None,
        repo_tags: vec![],
        os: None,
        architecture: None,
        layers: 0,
        unpacked_bytes: 0,
        os_release: None,
        packages: PackageSource::None,
        warnings: vec![],
    }
}

fn with_config(mut facts: ImageFacts, config: &[u8]) -> ImageFacts {
    facts.config_digest = format!("sha256:{}", sha256_hex(config));
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(config) {
        facts.os = v["os"].as_str().map(String::from);
        facts.architecture = v["architecture"].as_str().map(String::from);
    }
    facts
}

/// Reads an OCI image through its index.
fn read_oci(
    b: &dyn Blobs,
    format: &'static str,
    platform: &Platform,
    limits: &ImageLimits,
) -> Result<ImageFacts, ImageError> {
    let index = json(b, "index.json")?;
    let (digest, manifest) = pick_manifest(b, &index, platform, 0)?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .ok_or_else(|| ImageError::Malformed(b.name(), "the manifest has no config".into()))?;
    let config = read_all(
        b,
        &blob_path(config_digest).map_err(|e| ImageError::Malformed(b.name(), e))?,
    )?;
    let mut facts = with_config(empty_facts(b.name(), format), &config);
    facts.manifest_digest = Some(digest);
    facts.repo_tags = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(String::from)
        .collect();
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| ImageError::Malformed(b.name(), "the manifest has no layers".into()))?
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap_or("");
            blob_path(d).map_err(|e| ImageError::Malformed(b.name(), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    apply_layers(b, &layers, facts, limits)
}

/// Reads an image archive (`docker save`, or a tar of an OCI layout) or an OCI layout directory.
pub fn read_image_path(
    path: &Path,
    platform: &Platform,
    limits: &ImageLimits,
) -> Result<ImageFacts, ImageError> {
    if path.is_dir() {
        if !path.join("index.json").exists() {
            return Err(ImageError::Malformed(
                path.display().to_string(),
                "a directory without index.json is not an OCI image layout".into(),
            ));
        }
        return read_oci(
            &DirBlobs(path.to_path_buf()),
            "oci-layout",
            platform,
            limits,
        );
    }
    let blobs = TarBlobs::index(path)?;
    if blobs.entries.contains_key("manifest.json") {
        let m: serde_json::Value = serde_json::from_slice(&blobs.read_small("manifest.json")?)
            .map_err(|e| {
                ImageError::Malformed(blobs.name(), format!("manifest.json: not JSON: {e}"))
            })?;
        let images = m.as_array().ok_or_else(|| {
            ImageError::Malformed(blobs.name(), "manifest.json is not a list of images".into())
        })?;
        let first = images.first().ok_or_else(|| {
            ImageError::Malformed(blobs.name(), "manifest.json lists no image".into())
        })?;
        let config_path = first["Config"].as_str().ok_or_else(|| {
            ImageError::Malformed(blobs.name(), "manifest.json: no Config".into())
        })?;
        let config = blobs.read_small(config_path)?;
        let mut facts = with_config(empty_facts(blobs.name(), "docker-archive"), &config);
        facts.repo_tags = first["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        if images.len() > 1 {
            facts.warnings.push(format!(
                "the archive holds {} images; the first ({}) was read",
                images.len(),
                facts
                    .repo_tags
                    .first()
                    .map(String::as_str)
                    .unwrap_or("untagged")
            ));
        }
        let layers: Vec<String> = first["Layers"]
            .as_array()
            .ok_or_else(|| ImageError::Malformed(blobs.name(), "manifest.json: no Layers".into()))?
            .iter()
            .map(|l| l.as_str().unwrap_or("").to_string())
            .collect();
        return apply_layers(&blobs, &layers, facts, limits);
    }
    if blobs.entries.contains_key("index.json") {
        return read_oci(&blobs, "oci-archive", platform, limits);
    }
    Err(ImageError::Malformed(
        blobs.name(),
        "neither manifest.json (docker save) nor index.json (OCI) in the archive".into(),
    ))
}

/// Registry credentials.
#[derive(Clone, Default)]
pub enum RegistryLogin {
    /// Anonymous (a token is still fetched when the registry asks for one).
    #[default]
    Anonymous,
    /// User and password (basic, or exchanged for a token when the registry asks).
    Basic(String, zeroize::Zeroizing<String>),
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryLogin::Anonymous => f.write_str("Anonymous"),
            RegistryLogin::Basic(u, _) => write!(f, "Basic({u}, <redacted>)"),
        }
    }
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Credentials.
    pub login: RegistryLogin,
    /// Registries spoken to over plain HTTP (`127.0.0.1:5000`): only ever for local registries.
    pub insecure: Vec<String>,
}

/// Pulls `reference` from its registry (layers verified against their digests, kept in a temp
/// directory only while being read) and reads it.
pub async fn pull_image(
    reference: &str,
    platform: &Platform,
    options: &RegistryOptions,
    limits: &ImageLimits,
) -> Result<ImageFacts, ImageError> {
    use oci_client::client::{ClientConfig, ClientProtocol};
    use oci_client::secrets::RegistryAuth;
    let reg_err = |e: String| ImageError::Registry(reference.to_string(), e);
    let r: oci_client::Reference = reference
        .parse()
        .map_err(|e| reg_err(format!("not an image reference: {e}")))?;
    let wanted = platform.clone();
    let config = ClientConfig {
        protocol: if options.insecure.is_empty() {
            ClientProtocol::Https
        } else {
            ClientProtocol::HttpsExcept(options.insecure.clone())
        },
        platform_resolver: Some(Box::new(
            move |entries: &[oci_client::manifest::ImageIndexEntry]| {
                entries
                    .iter()
                    .find(|e| {
                        e.platform.as_ref().is_some_and(|p| {
                            wanted.matches(
                                &p.os.to_string(),
                                &p.architecture.to_string(),
                                p.variant.as_deref(),
                            )
                        })
                    })
                    .map(|e| e.digest.clone())
            },
        )),
        connect_timeout: Some(std::time::Duration::from_secs(15)),
        read_timeout: Some(std::time::Duration::from_secs(120)),
        ..Default::default()
    };
    let client = oci_client::Client::new(config);
    let auth = match &options.login {
        RegistryLogin::Anonymous => RegistryAuth::Anonymous,
        RegistryLogin::Basic(u, p) => RegistryAuth::Basic(u.clone(), p.to_string()),
    };
    let (manifest, digest, config) = client
        .pull_manifest_and_config(&r, &auth)
        .await
        .map_err(|e| reg_err(e.to_string()))?;
    let mut facts = with_config(
        empty_facts(reference.to_string(), "registry"),
        config.as_bytes(),
    );
    facts.manifest_digest = Some(digest);
    facts.repo_tags = vec![format!(
        "{}/{}:{}",
        r.registry(),
        r.repository(),
        r.tag().unwrap_or("latest")
    )];
    if manifest.layers.len() > limits.max_layers {
        return Err(ImageError::TooLarge(
            reference.into(),
            format!("{} layers", manifest.layers.len()),
            limits.max_layers as u64,
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| reg_err(format!("temp dir: {e}")))?;
    let mut layers = Vec::new();
    for (i, layer) in manifest.layers.iter().enumerate() {
        let path = dir.path().join(format!("layer{i}"));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| reg_err(format!("temp file: {e}")))?;
        let mut w = tokio::io::BufWriter::new(file);
        client
            .pull_blob(&r, layer, &mut w)
            .await
            .map_err(|e| reg_err(format!("layer {} ({}): {e}", i + 1, layer.digest)))?;
        tokio::io::AsyncWriteExt::flush(&mut w)
            .await
            .map_err(|e| reg_err(format!("temp file: {e}")))?;
        layers.push(format!("layer{i}"));
    }
    let limits = *limits;
    let root = dir.path().to_path_buf();
    let facts =
        tokio::task::spawn_blocking(move || apply_layers(&DirBlobs(root), &layers, facts, &limits))
            .await
            .map_err(|e| reg_err(format!("reading layers: {e}")))??;
    drop(dir);
    Ok(facts)
}

/// One installed rpm package's header fields, read from a header blob (the `Packages.blob`
/// column of `rpmdb.sqlite`): name, epoch, version, release, arch, source rpm.
pub fn rpm_header_fields(blob: &[u8]) -> Result<[String; 6], String> {
    let be = |o: usize| -> Result<u32, String> {
        blob.get(o..o + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "header truncated".to_string())
    };
    let count = be(0)? as usize;
    let data_len = be(4)? as usize;
    if count > 100_000 || data_len > blob.len() {
        return Err("header sizes out of range".into());
    }
    let data_start = 8 + count * 16;
    let data = blob
        .get(data_start..data_start + data_len)
        .ok_or("header data truncated")?;
    let mut out: [String; 6] = Default::default();
    for i in 0..count {
        let at = 8 + i * 16;
        let (tag, kind, offset) = (be(at)?, be(at + 4)?, be(at + 8)? as usize);
        let slot = match tag {
            1000 => 0, // NAME
            1003 => 1, // EPOCH
            1001 => 2, // VERSION
            1002 => 3, // RELEASE
            1022 => 4, // ARCH
            1044 => 5, // SOURCERPM
            _ => continue,
        };
        let field = data.get(offset..).ok_or("header field out of range")?;
        out[slot] = match kind {
            // STRING, I18NSTRING: NUL-terminated.
            6 | 9 => {
                let end = field
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or("unterminated string")?;
                String::from_utf8_lossy(&field[..end]).into_owned()
            }
            // INT32
            4 => {
                let b = field.get(..4).ok_or("int32 out of range")?;
                u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
            }
            _ => continue,
        };
    }
    if out[0].is_empty() || out[2].is_empty() {
        return Err("a header without name or version".into());
    }
    Ok(out)
}

/// The packages of an `rpmdb.sqlite` (bytes), as `rpm -qa --qf RPM_QUERY` prints them.
pub async fn rpmdb_sqlite_packages(db: &[u8]) -> Result<String, String> {
    use sqlx::ConnectOptions;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, db).map_err(|e| e.to_string())?;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| format!("rpmdb.sqlite: {e}"))?;
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT blob FROM Packages ORDER BY hnum")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("rpmdb.sqlite: {e}"))?;
    let mut out = String::new();
    for (i, (blob,)) in rows.iter().enumerate() {
        let [name, epoch, version, release, arch, source] =
            rpm_header_fields(blob).map_err(|e| format!("rpmdb.sqlite package {}: {e}", i + 1))?;
        if name == "gpg-pubkey" {
            continue;
        }
        let epoch = if epoch.is_empty() { "0".into() } else { epoch };
        out.push_str(&format!(
            "{name}\t{epoch}:{version}-{release}\t{arch}\t{source}\n"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, Option<&str>, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            match (data, link) {
                (_, Some(target)) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    b.append_link(&mut h, path, target).unwrap();
                }
                (Some(d), None) => {
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, path, d.as_bytes()).unwrap();
                }
                (None, None) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_symlinks_and_opaque_directories() {
        let limits = ImageLimits::default();
        let mut t = Tree::default();
        t.apply(
            &layer(&[
                ("usr/lib/os-release", Some("ID=debian\n"), None),
                ("etc/os-release", None, Some("../usr/lib/os-release")),
                ("var/lib/dpkg/status", Some("old"), None),
                ("var/lib/dpkg/status.d/a", Some("Package: a"), None),
            ])[..],
            "l1",
            &limits,
        )
        .unwrap();
        assert_eq!(t.read("etc/os-release").unwrap().unwrap(), b"ID=debian\n");
        // Layer 2 deletes the status file and makes status.d opaque, adding b.
        t.apply(
            &layer(&[
                ("var/lib/dpkg/.wh.status", Some(""), None),
                ("var/lib/dpkg/status.d/.wh..wh..opq", Some(""), None),
                ("var/lib/dpkg/status.d/b", Some("Package: b"), None),
            ])[..],
            "l2",
            &limits,
        )
        .unwrap();
        assert!(t.read("var/lib/dpkg/status").unwrap().is_none());
        assert!(!t.files.contains_key("var/lib/dpkg/status.d/a"));
        assert!(t.files.contains_key("var/lib/dpkg/status.d/b"));
        // An absolute symlink resolves inside the image.
        t.apply(
            &layer(&[("etc/os-release", None, Some("/usr/lib/os-release"))])[..],
            "l3",
            &limits,
        )
        .unwrap();
        assert_eq!(t.read("etc/os-release").unwrap().unwrap(), b"ID=debian\n");
        // One that climbs out is refused when followed.
        t.apply(
            &layer(&[("etc/os-release", None, Some("../../../../etc/passwd"))])[..],
            "l4",
            &limits,
        )
        .unwrap();
        assert!(t.read("etc/os-release").unwrap_err().contains("climbs out"));
    }

    #[test]
    fn hostile_entries_are_refused() {
        let limits = ImageLimits::default();
        // tar::Builder refuses `..` itself; write the name into the header by hand.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..16].copy_from_slice(b"../../etc/passwd");
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        let mut raw = h.as_bytes().to_vec();
        raw.extend_from_slice(b"x");
        raw.resize(raw.len() + 511, 0);
        raw.extend_from_slice(&[0; 1024]);
        let e = Tree::default().apply(&raw[..], "l", &limits).unwrap_err();
        assert!(
            matches!(e, ImageError::Unsafe(..)) && e.to_string().contains("../../etc/passwd"),
            "{e}"
        );
        // A truncated layer.
        let full = layer(&[("var/lib/dpkg/status", Some(&"x".repeat(5000)), None)]);
        let e = Tree::default()
            .apply(&full[..2000], "l", &limits)
            .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A bomb: 64 MiB of zeros in a tiny gzip, with a 16 MiB budget.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        let big = {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(64 << 20);
            h.set_mode(0o644);
            b.append_data(&mut h, "zeros", std::io::repeat(0).take(64 << 20))
                .unwrap();
            b.into_inner().unwrap()
        };
        std::io::Write::write_all(&mut gz, &big).unwrap();
        drop(zeros);
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        let small = ImageLimits {
            max_unpacked: 16 << 20,
            ..limits
        };
        let e = Tree::default().apply(&bomb[..], "l", &small).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(..)), "{e}");
    }

    /// An OCI layout whose index lists two platforms, each image with its own os-release.
    fn two_platform_layout(dir: &Path) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| -> (String, usize) {
            let h = sha256_hex(data);
            std::fs::write(blobs.join(&h), data).unwrap();
            (format!("sha256:{h}"), data.len())
        };
        let mut entries = Vec::new();
        for (arch, id) in [("amd64", "x86"), ("arm64", "arm")] {
            let l = layer(&[("etc/os-release", Some(&format!("ID={id}\n")), None)]);
            let (ld, ls) = put(&l);
            let config = format!("{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}");
            let (cd, cs) = put(config.as_bytes());
            let m = serde_json::json!({"schemaVersion": 2, "config": {"digest": cd, "size": cs},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]});
            let (md, ms) = put(m.to_string().as_bytes());
            entries.push(
                serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": md, "size": ms, "platform": {"os": "linux", "architecture": arch}}),
            );
        }
        // The index itself is a blob named by the top-level index.json (a nested index).
        let nested = serde_json::json!({"schemaVersion": 2, "manifests": entries});
        let (nd, ns) = put(nested.to_string().as_bytes());
        let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": nd, "size": ns}]});
        std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
    }

    #[test]
    fn a_multi_platform_index_gives_the_platform_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        two_platform_layout(dir.path());
        let limits = ImageLimits::default();
        let arm = read_image_path(
            dir.path(),
            &Platform::parse("linux/arm64").unwrap(),
            &limits,
        )
        .unwrap();
        assert_eq!(
            (arm.architecture.as_deref(), arm.os_release.as_deref()),
            (Some("arm64"), Some("ID=arm\n"))
        );
        let x86 = read_image_path(
            dir.path(),
            &Platform::parse("linux/amd64").unwrap(),
            &limits,
        )
        .unwrap();
        assert_eq!(x86.os_release.as_deref(), Some("ID=x86\n"));
        assert_ne!(arm.config_digest, x86.config_digest);
        let e = read_image_path(
            dir.path(),
            &Platform::parse("linux/s390x").unwrap(),
            &limits,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("no manifest for linux/s390x")
                && e.to_string().contains("linux/arm64"),
            "{e}"
        );
    }

    #[test]
    fn absolute_paths_are_refused() {
        assert!(normalise("/etc/passwd").unwrap_err().contains("absolute"));
        assert!(normalise("a/../../b").unwrap_err().contains(".."));
        assert_eq!(normalise("./usr//lib/").unwrap(), "usr/lib");
    }

    #[test]
    fn platforms() {
        assert_eq!(
            Platform::parse("linux/arm64/v8")
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        assert!(Platform::parse("linux").is_err());
        assert!(
            Platform::host().matches("linux", "amd64", None) || std::env::consts::ARCH != "x86_64"
        );
        assert_eq!(blob_path("sha256:ab").unwrap(), "blobs/sha256/ab");
        assert!(blob_path("sha256:../x").is_err());
    }
}
