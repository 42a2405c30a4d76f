//! Small helpers shared by the query modules: timestamps, dynamic WHERE clauses with numbered
//! placeholders, and decoding stored names back into domain enums.

use std::str::FromStr;

use time::OffsetDateTime;

use crate::error::{Result, StoreError};

/// Instants are stored as Unix seconds on both backends.
pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Decodes a stored instant.
pub(crate) fn from_ts(v: i64, what: &'static str) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(v).map_err(|e| StoreError::corrupt(what, e))
}

/// Decodes an optional stored instant.
pub(crate) fn from_opt_ts(v: Option<i64>, what: &'static str) -> Result<Option<OffsetDateTime>> {
    v.map(|v| from_ts(v, what)).transpose()
}

/// Decodes a stored enum name.
pub(crate) fn parse<T: FromStr>(s: &str, what: &'static str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::corrupt(what, e))
}

/// `$first,…`: numbered placeholders for `n` values.
pub(crate) fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `($1, $2),($3, $4)…`: `n` row values of `width` placeholders each, for `(a, b) IN (…)`.
pub(crate) fn tuples(n: usize, width: usize) -> String {
    (0..n)
        .map(|i| format!("({})", placeholders(width, i * width + 1)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A comma-separated list of integer literals for `IN (…)`; integers need no quoting.
pub(crate) fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A bind value of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
}

/// A SQL text with numbered placeholders and the values bound to them, built clause by clause.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends raw SQL.
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
}

/// Binds every [`Arg`] of a [`Sql`] to a sqlx query (of either backend).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::sql::Arg::I64(v) => q.bind(*v),
                $crate::sql::Arg::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.bind(Arg::I64(1))
            .push(" AND b = ")
            .bind(Arg::Text("x".into()));
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(s.args.len(), 2);
    }
}
