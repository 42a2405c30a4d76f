#!/usr/bin/env python3
"""Reference corpus for the CVSS calculators.

Writes JSON lines, one per vector: random vectors of every version with temporal / threat and
environmental metrics, every CVSS v2.0 and v3.x base vector, and broken vectors; each scored by
Red Hat's `cvss` package (PyPI, the library FIRST calculator users rely on). The Rust test
(`tests/reference.rs`) runs this script and requires the same scores, or a refusal where the
reference refuses.

    python3 generate.py --seed 1 --count 5000 > corpus.jsonl
"""
import argparse
import itertools
import json
import random
import sys

import cvss
from cvss import CVSS2, CVSS3, CVSS4

V2_BASE = [("AV", "LAN"), ("AC", "HML"), ("Au", "MSN"), ("C", "NPC"), ("I", "NPC"), ("A", "NPC")]
V2_TEMPORAL = [("E", ["U", "POC", "F", "H", "ND"]), ("RL", ["OF", "TF", "W", "U", "ND"]),
               ("RC", ["UC", "UR", "C", "ND"])]
V2_ENV = [("CDP", ["N", "L", "LM", "MH", "H", "ND"]), ("TD", ["N", "L", "M", "H", "ND"]),
          ("CR", ["L", "M", "H", "ND"]), ("IR", ["L", "M", "H", "ND"]), ("AR", ["L", "M", "H", "ND"])]

V3_BASE = [("AV", "NALP"), ("AC", "LH"), ("PR", "NLH"), ("UI", "NR"), ("S", "UC"),
           ("C", "HLN"), ("I", "HLN"), ("A", "HLN")]
V3_TEMPORAL = [("E", "XHFPU"), ("RL", "XUWTO"), ("RC", "XCRU")]
V3_ENV = [("CR", "XHML"), ("IR", "XHML"), ("AR", "XHML"), ("MAV", "XNALP"), ("MAC", "XLH"),
          ("MPR", "XNLH"), ("MUI", "XNR"), ("MS", "XUC"), ("MC", "XHLN"), ("MI", "XHLN"),
          ("MA", "XHLN")]

V4_BASE = [("AV", "NALP"), ("AC", "LH"), ("AT", "NP"), ("PR", "NLH"), ("UI", "NPA"),
           ("VC", "HLN"), ("VI", "HLN"), ("VA", "HLN"), ("SC", "HLN"), ("SI", "HLN"), ("SA", "HLN")]
V4_THREAT = [("E", "XAPU")]
V4_ENV = [("CR", "XHML"), ("IR", "XHML"), ("AR", "XHML"), ("MAV", "XNALP"), ("MAC", "XLH"),
          ("MAT", "XNP"), ("MPR", "XNLH"), ("MUI", "XNPA"), ("MVC", "XHLN"), ("MVI", "XHLN"),
          ("MVA", "XHLN"), ("MSC", "XHLN"), ("MSI", "XSHLN"), ("MSA", "XSHLN")]
V4_SUPPLEMENTAL = [("S", "XNP"), ("AU", "XNY"), ("R", "XAUI"), ("V", "XDC"), ("RE", "XLMH"),
                   ("U", ["X", "Clear", "Green", "Amber", "Red"])]


def pick(rng, metrics, p):
    return [(m, rng.choice(list(values))) for m, values in metrics if rng.random() < p]


def defined(fields, not_defined):
    return any(v != not_defined for _, v in fields)


def emit(out, vector, base, score, temporal=None, environmental=None, severity=None):
    row = {"vector": vector, "base_score": base, "score": score}
    if temporal is not None:
        row["temporal_score"] = temporal
    if environmental is not None:
        row["environmental_score"] = environmental
    if severity is not None:
        row["severity"] = severity
    out.write(json.dumps(row) + "\n")


def v2_row(out, fields):
    vector = "/".join(f"{m}:{v}" for m, v in fields)
    c = CVSS2(vector)
    base, temporal, env = c.scores()
    score = env if env is not None else temporal if temporal is not None else base
    emit(out, vector, base, score, temporal, env)


def v3_row(out, minor, base_fields, temporal_fields, env_fields):
    fields = base_fields + temporal_fields + env_fields
    vector = f"CVSS:3.{minor}/" + "/".join(f"{m}:{v}" for m, v in fields)
    c = CVSS3(vector)
    base, temporal, env = c.scores()
    has_t, has_e = defined(temporal_fields, "X"), defined(env_fields, "X")
    score = env if has_e else temporal if has_t else base
    severity = c.severities()[2 if has_e else 1 if has_t else 0]
    emit(out, vector, base, score, temporal if has_t else None, env if has_e else None, severity)


def v4_row(out, fields_base, fields_rest):
    base_vector = "CVSS:4.0/" + "/".join(f"{m}:{v}" for m, v in fields_base)
    vector = "CVSS:4.0/" + "/".join(f"{m}:{v}" for m, v in fields_base + fields_rest)
    c = CVSS4(vector)
    emit(out, vector, CVSS4(base_vector).base_score, c.base_score, severity=c.severity)


def broken(out, rng, vector, parse):
    """A mutation of a valid vector that the reference refuses."""
    fields = vector.split("/")
    kind = rng.randrange(6)
    if kind == 0:  # a mandatory metric dropped
        prefix = 1 if fields[0].startswith("CVSS:") else 0
        del fields[rng.randrange(prefix, prefix + 5)]
    elif kind == 1:  # duplicate metric
        fields.append(fields[-1])
    elif kind == 2:  # lowercase value
        i = rng.randrange(len(fields) - 1) + 1
        m, v = fields[i].split(":")
        if v.lower() == v:
            fields.append("ZZ:1")
        else:
            fields[i] = f"{m}:{v.lower()}"
    elif kind == 3:  # trailing slash
        fields.append("")
    elif kind == 4:  # unknown metric
        fields.insert(rng.randrange(1, len(fields)), "QQ:N")
    else:  # wrong version
        fields[0] = "CVSS:3.9" if fields[0].startswith("CVSS:") else "CVSS:9.9/" + fields[0]
    bad = "/".join(fields)
    try:
        parse(bad)
    except cvss.CVSSError:
        out.write(json.dumps({"vector": bad, "error": True}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000, help="random vectors per version")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout

    # Every base vector of v2.0, v3.0 and v3.1.
    for values in itertools.product(*[v for _, v in V2_BASE]):
        v2_row(out, list(zip([m for m, _ in V2_BASE], values)))
    for minor in (0, 1):
        for values in itertools.product(*[v for _, v in V3_BASE]):
            v3_row(out, minor, list(zip([m for m, _ in V3_BASE], values)), [], [])

    for _ in range(args.count):
        base = [(m, rng.choice(v)) for m, v in V2_BASE]
        fields = base + pick(rng, V2_TEMPORAL, 0.6) + pick(rng, V2_ENV, 0.6)
        v2_row(out, fields)
        broken(out, rng, "/".join(f"{m}:{v}" for m, v in fields), CVSS2)
    for minor in (0, 1):
        for _ in range(args.count):
            base = [(m, rng.choice(v)) for m, v in V3_BASE]
            t, e = pick(rng, V3_TEMPORAL, 0.6), pick(rng, V3_ENV, 0.5)
            v3_row(out, minor, base, t, e)
            broken(out, rng, f"CVSS:3.{minor}/" + "/".join(f"{m}:{v}" for m, v in base + t + e), CVSS3)
    for _ in range(args.count):
        base = [(m, rng.choice(v)) for m, v in V4_BASE]
        rest = pick(rng, V4_THREAT, 0.7) + pick(rng, V4_ENV, 0.4) + pick(rng, V4_SUPPLEMENTAL, 0.3)
        v4_row(out, base, rest)
        broken(out, rng, "CVSS:4.0/" + "/".join(f"{m}:{v}" for m, v in base + rest), CVSS4)


if __name__ == "__main__":
    main()
