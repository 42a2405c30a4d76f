#!/usr/bin/env python3
"""Reference ordering for language-package versions, from the OSV advisories of $VANTAGE_TEST_DATA:
- pypi: every version PyPA's advisories name (ranges and explicit lists), ordered by `packaging`
  (the PyPA's own implementation of PEP 440); versions it refuses are left out;
- semver: every version the Go vulndb and RustSec advisories name, ordered by python-semver
  (SemVer 2.0.0 precedence).
3,000 random pairs per scheme plus every neighbouring pair in sorted order, printed as
`SCHEME A B <|=|>`.

    python3 lang_pairs.py ../shared/data > pairs.txt
"""
import gzip, json, random, sys

def versions(path):
    out = set()
    for line in gzip.open(path, "rt"):
        rec = json.loads(line)
        for a in rec.get("affected", []):
            out.update(a.get("versions", []))
            for r in a.get("ranges", []):
                for e in r.get("events", []):
                    for k in ("introduced", "fixed", "last_affected"):
                        if k in e and e[k] != "0":
                            out.add(e[k])
    return out

def emit(scheme, vs, key, cmp):
    ok = []
    for v in sorted(vs):
        try:
            key(v)
            ok.append(v)
        except Exception:
            pass
    rng = random.Random(7)
    pairs = [(rng.choice(ok), rng.choice(ok)) for _ in range(3000)]
    pairs += [(ok[i], ok[i + 1]) for i in range(len(ok) - 1)]
    for a, b in pairs:
        c = cmp(key(a), key(b))
        print(scheme, a, b, "<" if c < 0 else ">" if c > 0 else "=")

data = sys.argv[1]
from packaging.version import Version
emit("pypi", versions(data + "/advisories/pypa-advisory-osv.jsonl.gz"), Version,
     lambda x, y: (x > y) - (x < y))
import semver
sv = versions(data + "/advisories/golang-vulndb-osv.jsonl.gz") | versions(
    data + "/advisories/rustsec-osv.jsonl.gz")
emit("semver", sv, semver.Version.parse, lambda x, y: x.compare(y))
