//! Feed parsers: the files security teams rely on, turned into domain values.
//!
//! Every parser reads a stream (gzip is recognised by its magic bytes, whatever the file name)
//! and yields typed records one at a time, so memory stays bounded whatever the input size.
//! A record that cannot be understood is an error naming the file, the line (or record) and the
//! field; parsers never persist anything — the application writes what they return.
#![forbid(unsafe_code)]

mod certfr;
mod cve5;
mod detect;
mod distro;
mod epss;
mod error;
mod exploitdb;
mod input;
mod kev;
mod nvd;
mod osv;
mod oval;
mod util;

pub use certfr::parse_certfr;
pub use cve5::Cve5Reader;
pub use detect::detect;
pub use distro::{DistroFile, parse_alpine_secdb, parse_debian_list, parse_debian_tracker};
pub use epss::{EpssFile, EpssReader};
pub use error::FeedError;
pub use exploitdb::{ExploitMap, SOURCE as EXPLOITDB_SOURCE, parse_exploitdb, parse_exploitdb_csv};
pub use input::{open, sha256_file};
pub use kev::{KevCatalog, parse_kev};
pub use nvd::NvdReader;
pub use osv::OsvReader;
pub use oval::parse_oval;
