//! FIRST EPSS CSV: an optional `#model_version:…,score_date:…` line, the header
//! `cve,epss,percentile`, then one row per CVE. The score date comes from that first line, else
//! from a `YYYY-MM-DD` in the file name.

use std::path::Path;

use time::Date;
use vantage_domain::{EpssScore, VulnId};

use crate::error::FeedError;
use crate::util::date;

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpssFile {
    /// The day the scores apply to.
    pub date: Date,
    /// Model version, when the file names it.
    pub model_version: Option<String>,
}

/// Streams the rows of an EPSS file.
pub struct EpssReader {
    lines: crate::input::Lines,
    /// The file's date and model.
    pub file: EpssFile,
}

fn date_in_name(path: &Path) -> Option<Date> {
    let name = path.file_name()?.to_str()?;
    (0..name.len().saturating_sub(9)).find_map(|i| {
        name.get(i..i + 10)
            .filter(|s| s.as_bytes()[4] == b'-')
            .and_then(date)
    })
}

impl EpssReader {
    /// Opens `path`, reads its comment and header lines. `date` overrides the file's date.
    pub fn open(path: &Path, date_override: Option<Date>) -> Result<Self, FeedError> {
        let mut lines = crate::input::Lines::open(path, "")?;
        let mut model_version = None;
        let mut header_date = None;
        loop {
            let Some(line) = lines.next_line()? else {
                return Err(FeedError::record(
                    path,
                    "end of file",
                    "no `cve,epss,percentile` header: not an EPSS file",
                ));
            };
            if let Some(meta) = line.text.strip_prefix('#') {
                for kv in meta.split(',') {
                    match kv.split_once(':') {
                        Some(("model_version", v)) => model_version = Some(v.trim().to_string()),
                        Some(("score_date", v)) => header_date = date(v),
                        _ => {}
                    }
                }
                continue;
            }
            if line.text.eq_ignore_ascii_case("cve,epss,percentile") {
                break;
            }
            return Err(FeedError::record(
                path,
                format!("line {}", line.no),
                format!(
                    "expected the header `cve,epss,percentile`, found `{}`",
                    line.text.chars().take(60).collect::<String>()
                ),
            ));
        }
        let date = date_override.or(header_date).or_else(|| date_in_name(path)).ok_or_else(|| FeedError::Format {
            path: path.to_path_buf(),
            message: "cannot tell the score date: no `#…score_date:` line and no YYYY-MM-DD in the file name (pass --date)".into(),
        })?;
        Ok(EpssReader {
            lines,
            file: EpssFile {
                date,
                model_version,
            },
        })
    }

    fn next_row(&mut self) -> Result<Option<EpssScore>, FeedError> {
        let Some(line) = self.lines.next_line()? else {
            return Ok(None);
        };
        let path = &self.lines.path;
        let at = |field: &str| format!("line {}, field {field}", line.no);
        let mut parts = line.text.split(',');
        let (Some(cve), Some(score), Some(pct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FeedError::record(
                path,
                format!("line {}", line.no),
                format!(
                    "expected 3 fields (cve,epss,percentile), found `{}`",
                    line.text
                ),
            ));
        };
        let cve: VulnId = cve.parse().map_err(|e: vantage_domain::ParseError| {
            FeedError::record(path, at("cve"), e.to_string())
        })?;
        let prob = |v: &str, field: &str| -> Result<f64, FeedError> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    FeedError::record(
                        path,
                        at(field),
                        format!("`{v}` is not a probability between 0 and 1"),
                    )
                })
        };
        let score = prob(score, "epss")?;
        let percentile = prob(pct, "percentile")?;
        Ok(Some(EpssScore {
            cve,
            date: self.file.date,
            score,
            percentile,
            model_version: self.file.model_version.clone(),
        }))
    }
}

impl Iterator for EpssReader {
    type Item = Result<EpssScore, FeedError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn header_line_gives_date_and_model() {
        let (_d, p) = file(
            "x.csv",
            "#model_version:v2025.03.14,score_date:2026-08-16T00:00:00+0000\ncve,epss,percentile\nCVE-2018-13379,0.99999,0.99994\n",
        );
        let r = EpssReader::open(&p, None).unwrap();
        assert_eq!(r.file.model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(r.file.date.to_string(), "2026-08-16");
        let rows: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!((rows.len(), rows[0].score), (1, 0.99999));
    }

    #[test]
    fn the_date_falls_back_to_the_file_name_and_bad_rows_are_named() {
        let (_d, p) = file(
            "epss_scores-2025-08-31.csv",
            "cve,epss,percentile\nCVE-2020-0001,0.5,0.6\nCVE-2020-0002,1.5,0.1\n",
        );
        let r = EpssReader::open(&p, None).unwrap();
        assert_eq!(r.file.date.to_string(), "2025-08-31");
        let err = r.collect::<Result<Vec<_>, _>>().unwrap_err().to_string();
        assert!(
            err.contains("line 3, field epss") && err.contains("1.5"),
            "{err}"
        );
        let (_d, p) = file("scores.csv", "cve,epss,percentile\n");
        let err = EpssReader::open(&p, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("--date"), "{err}");
    }
}
