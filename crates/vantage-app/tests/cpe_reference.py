#!/usr/bin/env python3
"""Independent reference for NVD CPE matching: which CVEs of the NVD records in
$VANTAGE_TEST_DATA/nvd name a product seen on the network (vendor, product, observed version
such as `8.9p1`) in a vulnerable criterion: an exact version (`8.9` with update `p1`, `*` or
`-`), or a range whose bounds compare with the version part (`8.9`), or with the whole observed
string when the bound carries letters (`9.3p2`). Digit runs compare as numbers, other runs as
text, a longer string after its prefix.

    python3 cpe_reference.py ../shared/data openbsd openssh 8.9p1
"""
import gzip, json, re, sys

data, vendor, product, observed = sys.argv[1:5]
m = re.match(r"^([0-9][0-9.]*?)[-_.]?([a-z].*)?$", observed.lower())
version, update = (m.group(1), m.group(2) or "") if m else (observed.lower(), "")
full = version + update

def runs(s):
    return [(1, int(x), "") if x.isdigit() else (0, 0, x) for x in re.findall(r"\d+|\D+", s)]

def cmp(a, b):
    ra, rb = runs(a), runs(b)
    for x, y in zip(ra, rb):
        if x[0] and y[0]:
            if x[1] != y[1]:
                return -1 if x[1] < y[1] else 1
        else:
            xs = str(x[1]) if x[0] else x[2]
            ys = str(y[1]) if y[0] else y[2]
            if xs != ys:
                return -1 if xs < ys else 1
    return (len(ra) > len(rb)) - (len(ra) < len(rb))

def bound(b):
    return cmp(full if re.search(r"[a-z]", b.lower()) else version, b.lower())

def matches(crit):
    f = crit["criteria"].lower().split(":")
    if f[2] != "a" or f[3] != vendor or f[4] != product:
        return False
    cv, cu = f[5], f[6]
    if cv not in ("*", "-"):
        if cmp(version, cv) != 0:
            return False
        return cu == "*" or (cu == "-" and not update) or cu == update
    if "versionStartIncluding" in crit and bound(crit["versionStartIncluding"]) < 0: return False
    if "versionStartExcluding" in crit and bound(crit["versionStartExcluding"]) <= 0: return False
    if "versionEndIncluding" in crit and bound(crit["versionEndIncluding"]) > 0: return False
    if "versionEndExcluding" in crit and bound(crit["versionEndExcluding"]) >= 0: return False
    return True

out = set()
needle = f":{vendor}:{product}:"
for line in gzip.open(f"{data}/nvd/nvd-cve-api2.0-records.jsonl.gz", "rt"):
    if needle not in line:
        continue
    cve = json.loads(line)["cve"]
    for c in cve.get("configurations", []):
        for n in c["nodes"]:
            for crit in n["cpeMatch"]:
                if crit["vulnerable"] and matches(crit):
                    out.add(cve["id"])
for cve in sorted(out):
    print(cve)
