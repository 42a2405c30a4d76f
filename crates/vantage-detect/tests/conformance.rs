//! Version ordering against the real tools, on real version strings:
//! - dpkg: `dpkg --compare-versions` over pairs drawn from a real Debian 12 status file and the
//!   Debian security tracker's DSA/DLA lists (`$VANTAGE_TEST_DATA`);
//! - rpm: librpm's `labelCompare` (Debian's `python3-rpm`, which `.ci/run` installs) over the
//!   EVRs of real RHEL 8/9, AlmaLinux, Rocky, Amazon Linux and CBL-Mariner package lists;
//! - apk: univers' `AlpineLinuxVersion` (`$VANTAGE_PYTHON`, which `.ci/run` provides with
//!   `pip install univers`) over the fixed versions of the Alpine secdb;
//! - PyPI: `packaging.version.Version` (PyPA's PEP 440 implementation) over every version the
//!   PyPA advisories name; SemVer: python-semver over the Go vulndb and RustSec versions;
//! - Maven: Maven's own `ComparableVersion` (`java`, Debian's `libmaven3-core-java`) over 3,000
//!   real Maven Central version strings (`tests/maven_versions.txt`).

use std::cmp::Ordering;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use vantage_detect::inventory::rpm as rpm_list;
use vantage_detect::version::{apk, dpkg, maven, pep440, rpm, semver};

fn data() -> PathBuf {
    std::env::var("VANTAGE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn python() -> String {
    std::env::var("VANTAGE_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/vantage-ci-venv/bin/python3".into())
}

/// A small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

fn debian_versions() -> Vec<String> {
    let mut out = Vec::new();
    let status = std::fs::read_to_string(data().join("packages/debian12-dpkg-status")).unwrap();
    out.extend(
        status
            .lines()
            .filter_map(|l| l.strip_prefix("Version: "))
            .map(str::to_string),
    );
    for list in ["DSA-list.gz", "DLA-list.gz"] {
        let mut text = String::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(data().join("distro/debian-security-tracker").join(list)).unwrap(),
        )
        .read_to_string(&mut text)
        .unwrap();
        // `\t[bookworm] - package 1.2-3+deb12u1`
        for l in text.lines() {
            if let Some((_, rest)) = l.trim().split_once("] - ")
                && let Some(v) = rest.split_whitespace().nth(1)
                && !v.starts_with('<')
                && dpkg::validate(v).is_ok()
            {
                out.push(v.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Requires our ordering to give every reference answer (`<`, `=`, `>`) for its pair.
fn assert_agree(tool: &str, answered: &[(&str, &str, &str)], compare: fn(&str, &str) -> Ordering) {
    let mismatches: Vec<String> = answered
        .iter()
        .filter_map(|(a, b, want)| {
            let got = match compare(a, b) {
                Ordering::Less => "<",
                Ordering::Equal => "=",
                Ordering::Greater => ">",
            };
            (got != *want).then(|| format!("{a} {b}: {tool} {want}, ours {got}"))
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} pairs differ:\n{}",
        mismatches.len(),
        answered.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

/// The output of a reference script of `tests/` run on the shared data with `$VANTAGE_PYTHON`
/// (univers, which brings `packaging` and python-semver).
fn reference_pairs(script: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new(python())
        .arg(&path)
        .arg(data())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (set VANTAGE_PYTHON): {e}", python()));
    assert!(
        out.status.success(),
        "{script}: pip install univers? {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a program with `input` on its standard input.
fn run_with_input(program: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    // A program that dies early (a missing module) is reported by its status and stderr below.
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn dpkg_order_matches_dpkg_compare_versions() {
    let versions = debian_versions();
    assert!(versions.len() > 5000, "{} versions", versions.len());
    let mut rng = Rng(0x5eed_cafe);
    let mut pairs: Vec<(&str, &str)> = (0..2500)
        .map(|_| {
            (
                versions[rng.below(versions.len())].as_str(),
                versions[rng.below(versions.len())].as_str(),
            )
        })
        .collect();
    // Neighbours in byte order share prefixes: the hard cases (~, +debNuM, epochs).
    let step = versions.len() / 1500;
    pairs.extend(
        (0..versions.len() - 1)
            .step_by(step.max(1))
            .map(|i| (versions[i].as_str(), versions[i + 1].as_str())),
    );
    // One shell runs dpkg for every pair (its exit status: 0 when `a lt b`).
    let mut script = String::new();
    for (a, b) in &pairs {
        script.push_str(&format!(
            "if dpkg --compare-versions '{a}' lt '{b}'; then echo '<'; elif dpkg --compare-versions '{a}' eq '{b}'; then echo '='; else echo '>'; fi\n"
        ));
    }
    let out = run_with_input("sh", &["-s"], &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(answers.len(), pairs.len());
    let answered: Vec<(&str, &str, &str)> = pairs
        .iter()
        .zip(&answers)
        .map(|((a, b), want)| (*a, *b, *want))
        .collect();
    assert_agree("dpkg", &answered, dpkg::compare);
}

#[test]
fn apk_order_matches_univers() {
    let text = reference_pairs("apk_pairs.py");
    let answered: Vec<(&str, &str, &str)> = text
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect();
    assert!(answered.len() > 5000, "only {} pairs", answered.len());
    assert_agree("univers", &answered, apk::compare);
}

#[test]
fn rpm_order_matches_librpm_label_compare() {
    let mut evrs = Vec::new();
    for list in ["rhel_80", "rhel_90", "alma_9", "rocky_9", "amazon_2023"] {
        let path = data().join(format!("packages/vuls-integration/{list}.rpm-qa.txt"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        evrs.extend(
            rpm_list::parse_qa(&text)
                .unwrap()
                .into_iter()
                .map(|p| p.version),
        );
    }
    let text =
        std::fs::read_to_string(data().join("packages/rpmdb/cbl-mariner-2.0.rpm-qa.tsv")).unwrap();
    evrs.extend(
        rpm_list::parse_tsv(&text)
            .unwrap()
            .into_iter()
            .map(|p| p.version),
    );
    evrs.sort();
    evrs.dedup();
    assert!(evrs.len() > 1000, "{} versions", evrs.len());
    let mut rng = Rng(0xfeed_f00d);
    let mut pairs: Vec<(&str, &str)> = (0..3000)
        .map(|_| {
            (
                evrs[rng.below(evrs.len())].as_str(),
                evrs[rng.below(evrs.len())].as_str(),
            )
        })
        .collect();
    pairs.extend(evrs.windows(2).map(|w| (w[0].as_str(), w[1].as_str())));
    let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let script = "import sys, rpm\n\
def evr(s):\n    e, _, vr = s.rpartition(':')\n    v, _, r = vr.rpartition('-')\n    return (e or '0', v, r)\n\
for line in sys.stdin:\n    a, b = line.split()\n    print({-1: '<', 0: '=', 1: '>'}[rpm.labelCompare(evr(a), evr(b))])\n";
    let out = run_with_input("/usr/bin/python3", &["-c", script], &input);
    assert!(
        out.status.success(),
        "python3-rpm installed? {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(answers.len(), pairs.len());
    let answered: Vec<(&str, &str, &str)> = pairs
        .iter()
        .zip(&answers)
        .map(|((a, b), want)| (*a, *b, *want))
        .collect();
    assert_agree("librpm", &answered, rpm::compare);
}

#[test]
fn pypi_and_semver_order_match_packaging_and_python_semver() {
    let text = reference_pairs("lang_pairs.py");
    let mut by_scheme: std::collections::HashMap<&str, Vec<(&str, &str, &str)>> =
        Default::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [scheme, a, b, want] = f[..] {
            by_scheme.entry(scheme).or_default().push((a, b, want));
        }
    }
    let pypi = &by_scheme["pypi"];
    assert!(pypi.len() > 10_000, "only {} PyPI pairs", pypi.len());
    assert_agree("packaging", pypi, pep440::compare);
    let sem = &by_scheme["semver"];
    assert!(sem.len() > 4_000, "only {} SemVer pairs", sem.len());
    assert_agree("python-semver", sem, semver::compare);
}

#[test]
fn maven_order_matches_maven_comparable_version() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/maven_versions.txt"),
    )
    .unwrap();
    let versions: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(versions.len() > 3000, "{} versions", versions.len());
    // ComparableVersion's main compares each argument with the next: a random walk through
    // the list, then the sorted list itself (neighbours share prefixes).
    let mut rng = Rng(0x00dd_ba11);
    let mut args: Vec<&str> = (0..3000)
        .map(|_| versions[rng.below(versions.len())])
        .collect();
    args.extend(&versions);
    let jar = std::env::var("VANTAGE_MAVEN_ARTIFACT_JAR")
        .unwrap_or_else(|_| "/usr/share/java/maven-artifact-3.x.jar".into());
    let out = Command::new("java")
        .args([
            "-cp",
            &jar,
            "org.apache.maven.artifact.versioning.ComparableVersion",
        ])
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run java (apt-get install default-jre-headless): {e}"));
    assert!(
        out.status.success(),
        "{jar} (apt-get install libmaven3-core-java)? {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // `   1.0 < 2.0`
    let answered: Vec<(&str, &str, &str)> = text
        .lines()
        .filter(|l| l.starts_with("   "))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [a, "==", b] => Some((a, b, "=")),
                [a, op, b] => Some((a, b, op)),
                _ => None,
            }
        })
        .collect();
    assert_eq!(answered.len(), args.len() - 1);
    assert_agree("maven", &answered, maven::compare);
}
