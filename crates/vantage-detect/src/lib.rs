//! Detection: version schemes ([`version`]), inventory parsers ([`inventory`]) and matchers
//! ([`matcher`]) that judge installed packages by the distribution's own security data and
//! explain every finding.
#![forbid(unsafe_code)]

pub mod cpe;
pub mod inventory;
pub mod matcher;
pub mod osv;
pub mod version;
