//! Opening feed files: plain or gzip (recognised by its magic bytes), buffered, and digested.

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
    } else {
        Ok(Box::new(file))
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
