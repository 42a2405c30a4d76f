//! Opening feed files: plain, gzip or zip (recognised by their magic bytes), buffered, and
//! digested. A zip archive (OSV's per-ecosystem `all.zip`) reads as JSON lines: each member
//! becomes one line, its line breaks (whitespace between JSON tokens) turned into spaces.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::error::FeedError;

/// Opens a file for line-by-line reading, decompressing gzip transparently.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, FeedError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| FeedError::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(io("cannot open"))?);
    let head = file.fill_buf().map_err(io("cannot read"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(file),
        )))
    } else if head.starts_with(b"PK\x03\x04") {
        let archive = zip::ZipArchive::new(file.into_inner()).map_err(|e| {
            FeedError::record(
                path,
                "zip archive",
                format!("not a readable zip archive: {e}"),
            )
        })?;
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            ZipLines {
                path: path.to_path_buf(),
                archive,
                next: 0,
                member: Vec::new(),
                pos: 0,
            },
        )))
    } else {
        Ok(Box::new(file))
    }
}

/// The members of a zip archive, one per line (see the module documentation).
struct ZipLines {
    path: std::path::PathBuf,
    archive: zip::ZipArchive<File>,
    next: usize,
    member: Vec<u8>,
    pos: usize,
}

impl Read for ZipLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.member.len() {
            if self.next == self.archive.len() {
                return Ok(0);
            }
            let mut entry = self.archive.by_index(self.next).map_err(|e| {
                std::io::Error::other(format!(
                    "{}: zip member {}: {e}",
                    self.path.display(),
                    self.next + 1
                ))
            })?;
            self.next += 1;
            self.member.clear();
            self.pos = 0;
            if entry.is_dir() {
                continue;
            }
            entry.read_to_end(&mut self.member)?;
            for b in &mut self.member {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
            self.member.push(b'\n');
        }
        let n = buf.len().min(self.member.len() - self.pos);
        buf[..n].copy_from_slice(&self.member[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// SHA-256 of a file's bytes, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, FeedError> {
    let mut f = File::open(path).map_err(|source| FeedError::Io {
        path: path.to_path_buf(),
        what: "cannot open".into(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            what: "cannot read".into(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::util::hex(&h.finalize()))
}

/// Line-by-line reading shared by the line-oriented parsers: counts lines, skips blank ones,
/// digests each line and, when given the stored digests, skips lines whose record is unchanged
/// (its id found with `id_key`, e.g. `"id":"`, without parsing the line).
pub(crate) struct Lines {
    pub(crate) path: std::path::PathBuf,
    input: Box<dyn BufRead + Send>,
    line_no: u64,
    buf: String,
    id_key: &'static str,
    known: std::collections::HashMap<String, String>,
    skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// One line: its number, its text (trimmed) and its digest.
pub(crate) struct Line {
    pub(crate) no: u64,
    pub(crate) text: String,
    pub(crate) digest: String,
}

impl Lines {
    pub(crate) fn open(path: &Path, id_key: &'static str) -> Result<Self, FeedError> {
        Ok(Lines {
            path: path.to_path_buf(),
            input: open(path)?,
            line_no: 0,
            buf: String::new(),
            id_key,
            known: Default::default(),
            skipped: Default::default(),
        })
    }

    pub(crate) fn skip_known(
        &mut self,
        known: std::collections::HashMap<String, String>,
        skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) {
        self.known = known;
        self.skipped = skipped;
    }

    /// The next line worth parsing, or `None` at the end.
    pub(crate) fn next_line(&mut self) -> Result<Option<Line>, FeedError> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(|source| FeedError::Io {
                    path: self.path.clone(),
                    what: format!("line {}", self.line_no),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let digest = crate::util::digest(text.as_bytes());
            if !self.known.is_empty()
                && let Some(id) = crate::util::quick_field(text, self.id_key)
                && self.known.get(id) == Some(&digest)
            {
                self.skipped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            return Ok(Some(Line {
                no: self.line_no,
                text: text.to_string(),
                digest,
            }));
        }
    }

    /// The first bytes of the unread input, without consuming them (at most the buffer).
    pub(crate) fn peek(&mut self) -> Result<&[u8], FeedError> {
        self.input.fill_buf().map_err(|source| FeedError::Io {
            path: self.path.clone(),
            what: "start of file".into(),
            source,
        })
    }

    /// The unread rest of the input, after the current line (for whole-document formats read
    /// by a streaming deserializer).
    pub(crate) fn take_rest(&mut self) -> Box<dyn BufRead + Send> {
        std::mem::replace(&mut self.input, Box::new(std::io::empty()))
    }

    /// A JSON error at a line, located by line and column.
    pub(crate) fn json_error(&self, line: u64, e: &serde_json::Error) -> FeedError {
        FeedError::record(
            &self.path,
            format!("line {line}, column {}", e.column()),
            e.to_string(),
        )
    }
}

/// Reads a whole JSON document (the small, single-document feeds) into `T`; a syntax or shape
/// error names the line and column.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, FeedError> {
    let mut text = String::new();
    open(path)?
        .read_to_string(&mut text)
        .map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            what: "document".into(),
            source,
        })?;
    serde_json::from_str(&text).map_err(|e| {
        FeedError::record(
            path,
            format!("line {}, column {}", e.line(), e.column()),
            e.to_string(),
        )
    })
}

/// Declares a reader of JSON-lines records: one line is one `$raw` record, turned into a
/// `VulnRecord` by its `into_record(digest, locate, path)`; lines whose id (found with `$id_key`)
/// and digest match the stored ones are skipped unparsed.
macro_rules! json_lines_reader {
    ($(#[$doc:meta])* $name:ident, $raw:ty, $id_key:expr) => {
        $(#[$doc])*
        pub struct $name {
            lines: crate::input::Lines,
        }

        impl $name {
            /// Reads `path` (plain or gzip).
            pub fn open(path: &std::path::Path) -> Result<Self, crate::error::FeedError> {
                Ok($name { lines: crate::input::Lines::open(path, $id_key)? })
            }

            /// Skips, without parsing them, lines whose digest equals the one stored for their
            /// id (`known`: id → digest), counting them in `skipped`.
            pub fn skip_known(
                mut self,
                known: std::collections::HashMap<String, String>,
                skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
            ) -> Self {
                self.lines.skip_known(known, skipped);
                self
            }

            fn next_record(&mut self) -> Result<Option<vantage_domain::VulnRecord>, crate::error::FeedError> {
                let Some(line) = self.lines.next_line()? else { return Ok(None) };
                let raw: $raw = serde_json::from_str(&line.text).map_err(|e| self.lines.json_error(line.no, &e))?;
                let no = line.no;
                let loc = move |f: &str| format!("line {no}, field {f}");
                raw.into_record(line.digest, &loc, &self.lines.path).map(Some)
            }
        }

        impl Iterator for $name {
            type Item = Result<vantage_domain::VulnRecord, crate::error::FeedError>;
            fn next(&mut self) -> Option<Self::Item> {
                self.next_record().transpose()
            }
        }
    };
}
pub(crate) use json_lines_reader;
