#!/usr/bin/env python3
"""Knowledge-base import benchmark (issue 3 figures), on SQLite, with the release binary.

For each real feed file in $VANTAGE_TEST_DATA (default ../shared/data): wall time and peak RSS of
`vantage feeds import` into a fresh data directory, then a forced re-import of the same file
(every record compared and found unchanged) and a plain re-import (recognised by its digest).
Then the latency of `vantage cve CVE-2018-13379 --format json` (median of 20 runs).

Usage: python3 bench/knowledge.py   (builds the release binary first)
"""
import os, statistics, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data = os.environ.get("VANTAGE_TEST_DATA", os.path.join(root, "..", "shared", "data"))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
subprocess.run(["cargo", "build", "--release", "-q", "--bin", "vantage"], cwd=root, check=True)
vantage = os.path.join(target, "release", "vantage")

FILES = [
    ("epss", "epss/epss_scores-2026-08-16.csv.gz", 360_142),
    ("kev", "kev/known_exploited_vulnerabilities-2026-07-23.json.gz", 1_653),
    ("nvd", "nvd/nvd-cve-api2.0-records.jsonl.gz", 49_511),
    ("cve5", "cve/cisa-vulnrichment-cve5.jsonl.gz", 44_130),
    ("certfr", "certfr/cert-fr-ale_with_cves.json", 492),
    ("exploitdb", "exploits/pyexploitdb-cveToEdbid.json.gz", 29_559),
    ("oval", "distro/redhat-oval/com.redhat.rhsa-RHEL9.xml.gz", 7_178),
    ("oval", "distro/ubuntu-oval/com.ubuntu.noble.usn.oval.xml.gz", 5_950),
]


def nvd_document(dest):
    """The same NVD records as one 2.0 feed document (the yearly-file form), gzip, written as a
    stream: `{"format": "NVD_CVE", …, "vulnerabilities": [ {"cve": …}, … ]}`."""
    import gzip
    src = os.path.join(data, "nvd/nvd-cve-api2.0-records.jsonl.gz")
    with gzip.open(src, "rt") as inp, gzip.open(dest, "wt", compresslevel=6) as out:
        out.write('{"resultsPerPage":49511,"startIndex":0,"totalResults":49511,"format":"NVD_CVE",'
                  '"version":"2.0","timestamp":"2026-08-17T00:00:00.000","vulnerabilities":[')
        for i, line in enumerate(inp):
            out.write(("," if i else "") + line.strip())
        out.write("]}")
    return dest


def timed(args):
    """Runs a command; returns (seconds, that process's own peak RSS in MiB)."""
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{err}")
    return dt, usage.ru_maxrss / 1024


with tempfile.TemporaryDirectory() as d:
    print(f"{'feed':<10} {'records':>8} {'import s':>9} {'rec/s':>9} {'peak MiB':>9} {'forced re-import s':>19} {'speed-up':>9} {'same file s':>12}")
    for feed, rel, n in FILES:
        path = os.path.join(data, rel)
        first, rss = timed([vantage, "--data-dir", d, "feeds", "import", path])
        forced, _ = timed([vantage, "--data-dir", d, "feeds", "import", "--force", path])
        same, _ = timed([vantage, "--data-dir", d, "feeds", "import", path])
        print(f"{feed:<10} {n:>8} {first:>9.2f} {n / first:>9.0f} {rss:>9.0f} {forced:>19.2f} {first / forced:>8.1f}x {same:>12.2f}")
    # The yearly-feed form of the NVD records, into a fresh directory: streamed, not loaded whole.
    doc = nvd_document(os.path.join(d, "nvdcve-2.0-document.json.gz"))
    with tempfile.TemporaryDirectory() as fresh:
        first, rss = timed([vantage, "--data-dir", fresh, "feeds", "import", doc])
    size = os.path.getsize(doc) / 2**20
    print(f"{'nvd-doc':<10} {49511:>8} {first:>9.2f} {49511 / first:>9.0f} {rss:>9.0f}   (one 2.0 feed document, {size:.0f} MiB gzip)")
    lat = []
    for _ in range(20):
        t, _ = timed([vantage, "--data-dir", d, "cve", "CVE-2018-13379", "--format", "json"])
        lat.append(t * 1000)
    print(f"\nvantage cve CVE-2018-13379 --format json: median {statistics.median(lat):.1f} ms, max {max(lat):.1f} ms (process start included)")
