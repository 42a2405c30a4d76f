//! `vantage cvss`: scores vectors given as arguments or read from standard input, line for line.

use std::io::{BufRead, Write};

use serde::Serialize;
use vantage_cvss::Cvss;

use super::UsageError;
use crate::cli::{CvssArgs, Format};

/// One answer: the scores of a vector, or why it was refused.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answer<'a> {
    Scored {
        vector: &'a str,
        version: &'static str,
        base_score: f64,
        score: f64,
        severity: &'static str,
        nomenclature: Option<&'static str>,
    },
    Refused {
        vector: &'a str,
        error: String,
    },
}

fn answer(vector: &str) -> Answer<'_> {
    match Cvss::parse(vector) {
        Ok(v) => {
            let scores = v.scores();
            Answer::Scored {
                vector,
                version: v.version().as_str(),
                base_score: scores.base,
                score: scores.score,
                severity: v.severity().as_str(),
                nomenclature: v.nomenclature().map(|n| n.as_str()),
            }
        }
        Err(e) => Answer::Refused {
            vector,
            error: e.to_string(),
        },
    }
}

const HEADERS: [&str; 7] = [
    "vector",
    "version",
    "base_score",
    "score",
    "severity",
    "nomenclature",
    "error",
];

fn cells(a: &Answer<'_>) -> [String; 7] {
    match a {
        Answer::Scored {
            vector,
            version,
            base_score,
            score,
            severity,
            nomenclature,
        } => [
            vector.to_string(),
            version.to_string(),
            format!("{base_score:.1}"),
            format!("{score:.1}"),
            severity.to_string(),
            nomenclature.unwrap_or_default().to_string(),
            String::new(),
        ],
        Answer::Refused { vector, error } => [
            vector.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            error.clone(),
        ],
    }
}

/// One CSV record.
fn csv_line<S: AsRef<[u8]>>(cells: &[S]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells)?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes answers in one format; JSON Lines and CSV are flushed per line so a pipe gets each
/// answer as soon as its vector arrives.
struct Out<W: Write> {
    format: Format,
    out: W,
    table: Option<comfy_table::Table>,
    csv_header: bool,
    refused: usize,
    total: usize,
}

impl<W: Write> Out<W> {
    fn new(format: Format, out: W) -> Self {
        let table = (format == Format::Table).then(|| {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY)
                .set_header(HEADERS.to_vec());
            t
        });
        Out {
            format,
            out,
            table,
            csv_header: false,
            refused: 0,
            total: 0,
        }
    }

    fn write(&mut self, vector: &str, flush: bool) -> anyhow::Result<()> {
        let a = answer(vector);
        self.total += 1;
        if matches!(a, Answer::Refused { .. }) {
            self.refused += 1;
        }
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.out, &a)?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => {
                if !self.csv_header {
                    self.out.write_all(&csv_line(&HEADERS)?)?;
                    self.csv_header = true;
                }
                self.out.write_all(&csv_line(&cells(&a))?)?;
            }
            Format::Table => {
                if let Some(t) = &mut self.table {
                    t.add_row(cells(&a).to_vec());
                }
            }
        }
        if flush {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        if let Some(t) = &self.table {
            writeln!(self.out, "{t}")?;
        }
        if self.format == Format::Csv && !self.csv_header {
            self.out.write_all(&csv_line(&HEADERS)?)?;
        }
        self.out.flush()?;
        if self.refused > 0 {
            return Err(UsageError(format!(
                "{} of {} vector{} refused",
                self.refused,
                self.total,
                if self.total == 1 { "" } else { "s" }
            ))
            .into());
        }
        Ok(())
    }
}

/// `vantage cvss [VECTOR…]`.
pub fn run(args: CvssArgs) -> anyhow::Result<()> {
    let mut out = Out::new(args.format, std::io::stdout().lock());
    if args.vectors.is_empty() {
        let stdin = std::io::stdin().lock();
        for line in stdin.lines() {
            let line = line?;
            out.write(line.trim(), true)?;
        }
    } else {
        for v in &args.vectors {
            out.write(v.trim(), false)?;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: Format, vectors: &[&str]) -> (String, bool) {
        let mut buf = Vec::new();
        let mut out = Out::new(format, &mut buf);
        for v in vectors {
            out.write(v, false).unwrap();
        }
        let ok = out.finish().is_ok();
        (String::from_utf8(buf).unwrap(), ok)
    }

    #[test]
    fn json_lines_answer_each_vector() {
        let (text, ok) = render(
            Format::Json,
            &[
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "CVSS:3.1/AV:X",
            ],
        );
        assert!(!ok);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            serde_json::json!({"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "version": "3.1", "base_score": 9.8, "score": 9.8, "severity": "Critical",
                "nomenclature": null})
        );
        assert_eq!(lines[1]["vector"], "CVSS:3.1/AV:X");
        assert!(
            lines[1]["error"].as_str().unwrap().contains("AV"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[1].as_object().unwrap().len(), 2);
    }

    #[test]
    fn table_and_csv() {
        let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U";
        let (table, ok) = render(Format::Table, &[v4]);
        assert!(ok);
        assert!(
            table.contains("CVSS-BT") && table.contains("8.1"),
            "{table}"
        );
        let (csv, _) = render(Format::Csv, &[v4]);
        assert_eq!(
            csv,
            format!(
                "vector,version,base_score,score,severity,nomenclature,error\n{v4},4.0,9.3,8.1,High,CVSS-BT,\n"
            )
        );
    }
}
