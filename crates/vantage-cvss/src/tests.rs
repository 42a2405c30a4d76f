//! Unit tests: published examples and every kind of refused vector.

use super::*;

fn score(v: &str) -> (f64, f64) {
    let c: Cvss = v.parse().unwrap_or_else(|e| panic!("{v}: {e}"));
    (c.base_score(), c.score())
}

fn err(v: &str) -> String {
    Cvss::parse(v).expect_err(v).to_string()
}

#[test]
fn v2_guide_examples() {
    // CVSS v2.0 guide, section 3.3: CVE-2002-0392, CVE-2003-0818, CVE-2003-0062.
    assert_eq!(score("AV:N/AC:L/Au:N/C:N/I:N/A:C"), (7.8, 7.8));
    assert_eq!(
        score("AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C"),
        (7.8, 6.4)
    );
    assert_eq!(
        score("AV:N/AC:L/Au:N/C:C/I:C/A:C/E:F/RL:OF/RC:C"),
        (10.0, 8.3)
    );
    assert_eq!(
        score("AV:L/AC:H/Au:N/C:C/I:C/A:C/E:POC/RL:OF/RC:C"),
        (6.2, 4.9)
    );
    let v: Cvss = "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H"
        .parse()
        .unwrap();
    assert_eq!(v.scores().environmental, Some(9.2));
    assert_eq!(v.severity(), Severity::High);
    assert_eq!(v.nomenclature(), None);
}

#[test]
fn v3_specification_examples() {
    // CVSS v3.1 examples document: CVE-2014-0160 (Heartbleed), CVE-2014-6271 (Shellshock),
    // CVE-2013-1937 (phpMyAdmin XSS, scope changed).
    assert_eq!(
        score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
        (7.5, 7.5)
    );
    assert_eq!(
        score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        (9.8, 9.8)
    );
    assert_eq!(
        score("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
        (6.1, 6.1)
    );
    assert_eq!(
        score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
        (10.0, 10.0)
    );
    assert_eq!(
        score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:R"),
        (9.8, 8.2)
    );
    let s = Cvss::parse("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/CR:H/MAV:N").unwrap();
    assert_eq!(s.scores().environmental, Some(8.8));
    assert_eq!(s.base_severity(), Severity::High);
}

#[test]
fn v30_and_v31_differ_on_changed_modified_scope() {
    // The v3.1 modified-impact formula (ISC × 0.9731 − 0.02)^13 changes some scores.
    let tail = "/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L/MAV:L/MS:C/MC:H/MI:H/MA:H/CR:H";
    let v30 = Cvss::parse(&format!("CVSS:3.0{tail}")).unwrap().score();
    let v31 = Cvss::parse(&format!("CVSS:3.1{tail}")).unwrap().score();
    assert_eq!((v30, v31), (9.3, 9.4));
}

#[test]
fn v4_specification_examples() {
    // Scores published by FIRST's v4.0 calculator and its examples page.
    assert_eq!(
        score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
        (9.3, 9.3)
    );
    assert_eq!(
        score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"),
        (10.0, 10.0)
    );
    assert_eq!(
        score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
        (8.5, 8.5)
    );
    assert_eq!(
        score("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L"),
        (1.0, 1.0)
    );
    assert_eq!(
        score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
        (0.0, 0.0)
    );
    let bt =
        Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U").unwrap();
    assert_eq!((bt.base_score(), bt.score()), (9.3, 8.1));
    assert_eq!(bt.nomenclature(), Some(Nomenclature::Bt));
    let be = Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MAV:L")
        .unwrap();
    assert_eq!(be.nomenclature(), Some(Nomenclature::Be));
    let b = Cvss::parse(
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/S:P/AU:Y/U:Red",
    )
    .unwrap();
    assert_eq!(b.nomenclature(), Some(Nomenclature::B));
    assert_eq!(b.get("U"), Some("Red"));
    assert_eq!(
        b.to_string(),
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P/AU:Y/U:Red"
    );
    assert_eq!(b.severity(), Severity::Critical);
}

#[test]
fn derived_vectors() {
    let mut v =
        Cvss::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
    v.set("E", "A").unwrap();
    v.set("MAV", "L").unwrap();
    v.set("CR", "L").unwrap();
    assert_eq!(v.nomenclature(), Some(Nomenclature::Bte));
    assert_eq!(
        v.to_string(),
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:L/MAV:L"
    );
    assert!(v.score() < v.base_score());
    assert!(v.set("MAV", "Q").is_err());
    assert!(!v.remove("AV"));
    assert!(v.remove("MAV"));
    assert_eq!(v.base_vector().nomenclature(), Some(Nomenclature::B));
    let round: Cvss = v.to_string().parse().unwrap();
    assert_eq!(round, v);
}

#[test]
fn refused_vectors_say_why() {
    let base4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    assert_eq!(err(""), "empty vector");
    assert_eq!(
        err(&format!("{base4}/")),
        "trailing \"/\" at the end of the vector"
    );
    assert_eq!(
        err(&format!("{base4}/XX:N")),
        "unknown metric \"XX\" for CVSS v4.0"
    );
    assert_eq!(err(&format!("{base4}/AV:N")), "duplicate metric AV");
    assert_eq!(
        err("CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N"),
        "missing mandatory metrics AT, SA"
    );
    assert_eq!(
        err("CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        "unsupported prefix \"CVSS:3.2\": expected CVSS:3.0, CVSS:3.1 or CVSS:4.0 (CVSS v2.0 vectors have no prefix)"
    );
    assert_eq!(
        err("cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        "prefix \"cvss:3.1\" must be written in capitals: \"CVSS:3.1\""
    );
    assert_eq!(
        err("CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        "invalid value \"n\" for metric AV (Attack Vector): expected one of N, A, L, P (values are case-sensitive)"
    );
    assert_eq!(
        err("CVSS:3.1/av:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        "unknown metric \"av\" for CVSS v3.1 (metric names are case-sensitive: \"AV\")"
    );
    assert_eq!(
        err("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:A"),
        "invalid value \"A\" for metric E (Exploit Code Maturity): expected one of X, H, F, P, U"
    );
    assert_eq!(
        err("CVSS:3.1/AV:N//AC:L"),
        "empty field (two \"/\" in a row)"
    );
    assert_eq!(
        err("CVSS:3.1/AVN/AC:L"),
        "malformed field \"AVN\": expected METRIC:VALUE"
    );
    assert_eq!(
        err("CVSS:3.1/AV:N:L/AC:L"),
        "malformed field \"AV:N:L\": expected METRIC:VALUE"
    );
    assert_eq!(
        err("CVSS:3.1"),
        "missing mandatory metrics AV, AC, PR, UI, S, C, I, A"
    );
    assert_eq!(
        err("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        "metric \"PR\" is not a CVSS v2.0 metric, and only v2.0 vectors have no prefix: start a v3.x or v4.0 vector with CVSS:3.1/ or CVSS:4.0/"
    );
    assert_eq!(err("AV:N/AC:L/Au:N/C:P/I:P"), "missing mandatory metric A");
    assert_eq!(
        err("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:X"),
        "invalid value \"X\" for metric E (Exploitability): expected one of U, POC, F, H, ND"
    );
    let e = Cvss::parse(&format!("{base4}/AV:N")).unwrap_err();
    assert_eq!(e.metric(), Some("AV"));
}

#[test]
fn v2_accepts_its_prefix_and_prints_without() {
    let v: Cvss = "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P".parse().unwrap();
    assert_eq!(v.version(), Version::V2_0);
    assert_eq!(v.to_string(), "AV:N/AC:L/Au:N/C:P/I:P/A:P");
    assert_eq!(v.base_score(), 7.5);
}

#[test]
fn severities() {
    assert_eq!(Severity::of(Version::V3_1, 0), Severity::None);
    assert_eq!(Severity::of(Version::V3_1, 39), Severity::Low);
    assert_eq!(Severity::of(Version::V3_1, 40), Severity::Medium);
    assert_eq!(Severity::of(Version::V3_1, 89), Severity::High);
    assert_eq!(Severity::of(Version::V4_0, 90), Severity::Critical);
    assert_eq!(Severity::of(Version::V2_0, 0), Severity::Low);
    assert_eq!(Severity::of(Version::V2_0, 100), Severity::High);
}
