//! Conformance against Red Hat's `cvss` Python package (the reference FIRST-calculator users rely
//! on): `reference/generate.py` scores every v2.0 and v3.x base vector, thousands of random vectors
//! per version with temporal / threat / environmental metrics, and broken vectors; every score
//! here must be identical, and every vector the reference refuses must be refused.
//!
//! The interpreter is `$VANTAGE_PYTHON` (default: the CI virtual environment that `.ci/run`
//! creates with `pip install cvss==3.6`).

use std::path::Path;
use std::process::Command;

use vantage_cvss::Cvss;

/// Random vectors per version (on top of the exhaustive base vectors).
const COUNT: &str = "5000";

fn python() -> String {
    std::env::var("VANTAGE_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/vantage-ci-venv/bin/python3".into())
}

#[test]
fn generated_reference_corpus_agrees_exactly() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/generate.py");
    let python = python();
    let output = Command::new(&python)
        .arg(&script)
        .args(["--seed", "20261127", "--count", COUNT])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (set VANTAGE_PYTHON; .ci/run creates it): {e}")
        });
    assert!(
        output.status.success(),
        "{} failed (is the `cvss` package installed? pip install cvss==3.6):\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let corpus = String::from_utf8(output.stdout).unwrap();

    let (mut scored, mut refused) = (std::collections::BTreeMap::new(), 0);
    let mut mismatches = Vec::new();
    for line in corpus.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let vector = row["vector"].as_str().unwrap();
        if row.get("error").is_some() {
            refused += 1;
            if let Ok(v) = Cvss::parse(vector) {
                mismatches.push(format!(
                    "{vector}: reference refuses it, we score {}",
                    v.score()
                ));
            }
            continue;
        }
        let v = match Cvss::parse(vector) {
            Ok(v) => v,
            Err(e) => {
                mismatches.push(format!(
                    "{vector}: refused ({e}) but the reference scores it"
                ));
                continue;
            }
        };
        let s = v.scores();
        let want = |key: &str| row.get(key).and_then(|x| x.as_f64());
        let mut check = |what: &str, got: Option<f64>, want: Option<f64>| {
            if got != want {
                mismatches.push(format!("{vector}: {what} {got:?}, reference {want:?}"));
            }
        };
        check("base", Some(s.base), want("base_score"));
        check("score", Some(s.score), want("score"));
        if let Some(t) = want("temporal_score") {
            check("temporal", s.temporal, Some(t));
        }
        if let Some(e) = want("environmental_score") {
            check("environmental", s.environmental, Some(e));
        }
        if let Some(sev) = row.get("severity").and_then(|x| x.as_str())
            && v.severity().as_str() != sev
        {
            mismatches.push(format!(
                "{vector}: severity {}, reference {sev}",
                v.severity()
            ));
        }
        *scored.entry(v.version().as_str()).or_insert(0usize) += 1;
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} vectors disagree with the reference, e.g.:\n{}",
        mismatches.len(),
        corpus.lines().count(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for version in ["2.0", "3.0", "3.1", "4.0"] {
        assert!(
            scored.get(version).copied().unwrap_or(0) >= 5000,
            "{version}: {scored:?}"
        );
    }
    assert!(
        refused >= 5000,
        "only {refused} broken vectors ({scored:?} scored)"
    );
}
