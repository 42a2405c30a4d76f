//! Throughput of parsing + scoring (the figure: ≥ 1,000,000 CVSS v4.0 BTE scores per
//! second on one core, the vector parsed each time).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vantage_cvss::Cvss;

/// Vectors spread over many macro vectors, with threat and environmental metrics.
const V4_BTE: &[&str] = &[
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:H/IR:M/AR:L/MAV:L",
    "CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:P/VC:L/VI:H/VA:N/SC:H/SI:L/SA:N/E:P/CR:M/IR:H/AR:H/MSI:S",
    "CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:A/VC:N/VI:L/VA:H/SC:L/SI:N/SA:H/E:U/CR:L/IR:L/AR:M/MAC:H/MVC:H",
    "CVSS:4.0/AV:P/AC:H/AT:N/PR:N/UI:N/VC:H/VI:N/VA:L/SC:N/SI:H/SA:L/E:A/CR:X/IR:H/AR:L/MPR:L/MUI:P",
    "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N/E:P/CR:H/IR:H/AR:H/MAT:N/S:P/AU:Y",
    "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:H/VI:H/VA:N/SC:L/SI:L/SA:L/E:U/CR:M/IR:M/AR:M/MSA:S/R:U",
    "CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:H/SC:H/SI:H/SA:H/E:A/CR:L/IR:H/AR:X/MVA:L/MSC:N",
    "CVSS:4.0/AV:L/AC:H/AT:P/PR:L/UI:P/VC:H/VI:L/VA:H/SC:N/SI:L/SA:N/E:P/CR:H/IR:L/AR:H/MAV:N/U:Amber",
];

const V3: &[&str] = &[
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/IR:M/AR:L/MAV:L",
    "CVSS:3.0/AV:A/AC:H/PR:L/UI:R/S:C/C:L/I:H/A:N/E:U/RL:T/RC:R/CR:M/MS:U/MPR:H",
];

const V2: &[&str] = &["AV:N/AC:L/Au:N/C:P/I:P/A:C/E:F/RL:OF/RC:C/CDP:LM/TD:H/CR:M/IR:H/AR:L"];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cvss");
    for (name, set) in [("v4_bte", V4_BTE), ("v3_env", V3), ("v2_env", V2)] {
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function(format!("parse_and_score/{name}"), |b| {
            b.iter(|| {
                for v in set {
                    let c = Cvss::parse(black_box(v)).unwrap();
                    black_box(c.scores());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
