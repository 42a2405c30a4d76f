#!/usr/bin/env python3
"""Independent reference for OSV matching: the findings a CycloneDX SBOM should get from the OSV
advisories in $VANTAGE_TEST_DATA/advisories, evaluated as the OSV schema specifies (events
sorted, introduced inclusive, fixed exclusive, last_affected inclusive, limit; `versions`
exact), with `packaging` ordering PyPI versions and python-semver ordering SEMVER ranges.
Prints `ecosystem/name VULN-ID` per finding, named by the advisory's lowest CVE alias if any.

    python3 osv_reference.py ../shared/data fixtures/shop.cdx.json
"""
import gzip, json, re, sys
from packaging.version import Version, InvalidVersion
import semver

data, bom = sys.argv[1], json.load(open(sys.argv[2]))
ECO = {"pypi": "PyPI", "golang": "Go", "cargo": "crates.io", "npm": "npm"}

def norm(eco, name):
    return re.sub(r"[-_.]+", "-", name).lower() if eco == "PyPI" else name

packages = []  # (component, osv ecosystem, key, version)
for c in bom["components"]:
    purl = c.get("purl")
    if not purl:
        continue
    ty, rest = purl[4:].split("/", 1)
    path, version = rest.rsplit("@", 1)
    name = path.replace("%40", "@")
    if ty not in ECO:
        continue
    packages.append((f"{ty}/{name}", ECO[ty], norm(ECO[ty], name), version))

def key_of(kind, eco):
    if kind == "SEMVER":
        return lambda v: semver.Version.parse(v.lstrip("v"))
    if eco == "PyPI":
        return Version
    return None

def affected(version, rng, key):
    # A range with a version the scheme cannot read is not judged, nor an unreadable installed
    # version.
    try:
        v = key(version)
        for e in rng["events"]:
            for x in e.values():
                if x not in ("0", "*"):
                    key(x)
    except (InvalidVersion, ValueError):
        return False
    evs = []
    for e in rng["events"]:
        (k, x), = e.items()
        evs.append((k, x))
    def sort_key(e):
        k, x = e
        return (0, None) if x == "0" else (1, key(x))
    zeros = [e for e in evs if e[1] == "0"]
    others = sorted([e for e in evs if e[1] != "0"], key=lambda e: key(e[1]))
    vulnerable = False
    for k, x in zeros + others:
        if k == "introduced" and (x == "0" or v >= key(x)):
            vulnerable = True
        elif k == "fixed" and v >= key(x):
            vulnerable = False
        elif k == "last_affected" and v > key(x):
            vulnerable = False
    limits = [key(x) for k, x in evs if k == "limit" and x != "*"]
    if limits and not any(v < l for l in limits):
        return False
    return vulnerable

found = set()
for f in ("pypa-advisory-osv", "golang-vulndb-osv", "rustsec-osv"):
    for line in gzip.open(f"{data}/advisories/{f}.jsonl.gz", "rt"):
        rec = json.loads(line)
        if rec.get("withdrawn"):
            continue
        cves = sorted(a for a in rec.get("aliases", []) if a.startswith("CVE-"))
        vid = cves[0] if cves else rec["id"]
        for a in rec.get("affected", []):
            pk = a.get("package", {})
            for comp, eco, key, version in packages:
                if pk.get("ecosystem") != eco or norm(eco, pk.get("name", "")) != key:
                    continue
                hit = False
                for r in a.get("ranges", []):
                    k = key_of(r["type"], eco)
                    if k and affected(version, r, k):
                        hit = True
                if not hit and eco == "PyPI":
                    hit = any(Version(version) == Version(x) for x in a.get("versions", [])
                              if not re.search(r"[^0-9a-zA-Z.+!-]", x))
                elif not hit:
                    hit = version.lstrip("v") in [x.lstrip("v") for x in a.get("versions", [])]
                if hit:
                    found.add((comp, vid))
for comp, vid in sorted(found):
    print(comp, vid)
