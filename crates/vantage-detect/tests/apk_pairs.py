#!/usr/bin/env python3
"""Reference ordering for Alpine versions: every fixed version named in the Alpine secdb files
of $VANTAGE_TEST_DATA that univers (PyPI) can parse, 3,000 random pairs of them plus every
neighbouring pair in sorted order (versions with a `00`-led component left out, see below), each printed as `A B <|=|>` by univers' AlpineLinuxVersion.

    python3 apk_pairs.py ../shared/data > pairs.txt
"""
import gzip, json, random, sys, glob
vs=set()
for f in glob.glob(sys.argv[1]+'/distro/alpine-secdb/*.json.gz'):
    for p in json.load(gzip.open(f))['packages']:
        vs.update(k for k in p['pkg']['secfixes'] if k!='0')
vs=sorted(vs); rng=random.Random(1)
from univers.versions import AlpineLinuxVersion as A
import re
ok=[]
for v in vs:
    # Components with two or more leading zeros (vim's 8.0.0056): apk-tools orders them by the
    # number of zeros (fewer zeros first), univers numerically; Vantage follows apk-tools, so
    # those are left out of the reference.
    if re.search(r"(^|[.])00", v):
        continue
    try: A(v); ok.append(v)
    except Exception: pass
print(len(vs), len(ok), file=sys.stderr)
pairs=[(rng.choice(ok), rng.choice(ok)) for _ in range(3000)]
# plus neighbours (same package-like prefixes)
ok2=sorted(ok)
pairs+= [(ok2[i], ok2[i+1]) for i in range(len(ok2)-1)]
for a,b in pairs:
    x,y=A(a),A(b); print(a,b,'<' if x<y else '>' if x>y else '=')
