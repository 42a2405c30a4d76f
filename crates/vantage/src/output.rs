//! Printing lists as a table, JSON or CSV. JSON and CSV are streamed row by row, so listing a
//! million findings does not hold them all in memory.

use std::io::Write;

use comfy_table::{Table, presets};
use serde::Serialize;

use crate::cli::Format;

/// A value that can be shown as a table or CSV row.
pub trait Row: Serialize {
    /// Column names.
    fn headers() -> &'static [&'static str];
    /// Cell texts, in header order.
    fn cells(&self) -> Vec<String>;
}

/// Writes rows as they arrive, in one format.
pub struct Printer<W: Write> {
    format: Format,
    out: W,
    table: Option<Table>,
    rows: u64,
    pending_header: Option<Vec<u8>>,
}

/// One CSV record, quoted as needed.
fn csv_line<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(cells: I) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells)?;
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

impl<W: Write> Printer<W> {
    /// A printer for rows of `R`.
    pub fn new<R: Row>(format: Format, out: W) -> Self {
        let mut p = Printer {
            format,
            out,
            table: None,
            rows: 0,
            pending_header: None,
        };
        match format {
            Format::Table => {
                let mut t = Table::new();
                t.load_preset(presets::UTF8_HORIZONTAL_ONLY)
                    .set_header(R::headers().to_vec());
                p.table = Some(t);
            }
            // The header is written with the first row or at the end, so that an error before
            // any output leaves standard output empty.
            Format::Csv => p.pending_header = csv_line(R::headers()).ok(),
            Format::Json => {}
        }
        p
    }

    /// Adds one row.
    pub fn row<R: Row>(&mut self, r: &R) -> std::io::Result<()> {
        match self.format {
            Format::Table => {
                if let Some(t) = &mut self.table {
                    t.add_row(r.cells());
                }
            }
            Format::Csv => {
                if let Some(h) = self.pending_header.take() {
                    self.out.write_all(&h)?;
                }
                self.out.write_all(&csv_line(r.cells())?)?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.rows == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, r)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Finishes the output and returns the number of rows.
    pub fn finish(mut self) -> std::io::Result<u64> {
        match self.format {
            Format::Table => {
                if let Some(t) = &self.table {
                    writeln!(self.out, "{t}")?;
                    writeln!(
                        self.out,
                        "{} row{}",
                        self.rows,
                        if self.rows == 1 { "" } else { "s" }
                    )?;
                }
            }
            Format::Csv => {
                if let Some(h) = self.pending_header.take() {
                    self.out.write_all(&h)?;
                }
            }
            Format::Json => {
                self.out
                    .write_all(if self.rows == 0 { b"[]\n" } else { b"\n]\n" })?;
            }
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Text of an optional value, empty when absent.
pub fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R {
        a: u32,
        b: &'static str,
    }
    impl Row for R {
        fn headers() -> &'static [&'static str] {
            &["a", "b"]
        }
        fn cells(&self) -> Vec<String> {
            vec![self.a.to_string(), self.b.to_string()]
        }
    }

    fn render(format: Format, rows: &[R]) -> String {
        let mut out = Vec::new();
        let mut p = Printer::new::<R>(format, &mut out);
        for r in rows {
            p.row(r).unwrap();
        }
        p.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_render() {
        let rows = [R { a: 1, b: "x,y" }, R { a: 2, b: "z" }];
        assert_eq!(render(Format::Csv, &rows), "a,b\n1,\"x,y\"\n2,z\n");
        let json: serde_json::Value = serde_json::from_str(&render(Format::Json, &rows)).unwrap();
        assert_eq!(json[1]["b"], "z");
        assert_eq!(render(Format::Json, &[]), "[]\n");
        assert_eq!(render(Format::Csv, &[]), "a,b\n");
        let t = render(Format::Table, &rows);
        assert!(t.contains("x,y") && t.ends_with("2 rows\n"), "{t}");
    }
}
