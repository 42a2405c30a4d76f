#!/usr/bin/env bash
# DNS brute-force rate: `vantage discover domain` with a 20,000-word list against dnsmasq
# (authoritative for bench.test on 127.0.0.1, answering NXDOMAIN for unknown names, 200 real
# names) at the default concurrency (100 queries in flight). Target: >= 2,000 queries/s.
# Needs dnsmasq (apt-get install dnsmasq).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/vantage-target}
cargo build --release --quiet --bin vantage
bin=$CARGO_TARGET_DIR/release/vantage
command -v dnsmasq >/dev/null || { echo "dnsmasq is needed: apt-get install dnsmasq"; exit 2; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hosts=()
for i in $(seq 1 200); do hosts+=(--host-record="host$i.bench.test,127.0.$((i / 250)).$((i % 250 + 1))"); done
/usr/sbin/dnsmasq --no-daemon --conf-file=/dev/null --port="$port" --listen-address=127.0.0.1 \
  --bind-interfaces --no-resolv --no-hosts --local=/bench.test/ --dns-forward-max=1000 \
  --cache-size=0 "${hosts[@]}" 2>"$work/dnsmasq.log" & dns=$!
trap 'kill $dns 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
python3 -c '
import random
random.seed(7)
words = {f"host{i}" for i in range(1, 201)}
while len(words) < 20000:
    words.add("".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(3, 10))))
print("\n".join(sorted(words)))' > "$work/words.txt"
for c in 50 100 200; do
  "$bin" --data-dir "$work/d$c" discover domain bench.test --nameserver "127.0.0.1:$port" --dns-port "$port" \
    --no-crtsh --no-rdap --wordlist "$work/words.txt" --concurrency "$c" --format json > "$work/out.json" 2>"$work/err"
  python3 bench/dns_rate.py "$work/out.json" "$c"
done
