//! Errors raised when raw text is turned into domain values.

/// A value could not be turned into a domain type; the message names what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A name that is not one of the accepted values of an enumeration.
    #[error("unknown {what} `{value}` (expected one of: {expected})")]
    UnknownName {
        /// What was being parsed, e.g. "finding status".
        what: &'static str,
        /// The rejected input.
        value: String,
        /// The accepted names, comma separated.
        expected: String,
    },
    /// A value that has the wrong shape.
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        /// What was being parsed, e.g. "CVE id".
        what: &'static str,
        /// The rejected input.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
}

impl ParseError {
    /// Shorthand for [`ParseError::Invalid`].
    pub fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
