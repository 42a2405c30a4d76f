"""Prints the brute-force figures of a `vantage discover domain --format json` report."""
import json
import sys

d = json.load(open(sys.argv[1]))
s = d["stats"]
found = sum(1 for n in d["names"] if "brute" in n["sources"])
rate = s["brute_rate"]
print(f"concurrency {sys.argv[2]:>3}: {s['brute_names']} names, {rate:.0f} names/s "
      f"(A and AAAA each: {2 * rate:.0f} queries/s), {found} found, {s['dns_queries']} queries in all")
