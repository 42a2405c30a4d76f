#!/usr/bin/env bash
# Cloud inventory at scale: 10,000 instances in 20 regions (500 each, 5 pages of 100 per region:
# 100 DescribeInstances pages) from a fake EC2 Query API on 127.0.0.1 (bench/fake_ec2.py), listed
# and stored by `vantage discover aws` on SQLite (and PostgreSQL when VANTAGE_BENCH_POSTGRES is a
# URL), twice: the first run creates the assets, the second merges them. Target: < 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/vantage-target}
cargo build --release --quiet --bin vantage
bin=$CARGO_TARGET_DIR/release/vantage
py=${VANTAGE_PYTHON:-python3}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$py" bench/fake_ec2.py "$port" 20 500 & fake=$!
trap 'kill $fake 2>/dev/null; rm -rf "$work"' EXIT
work=$(mktemp -d)
sleep 1
regions=$(python3 -c 'print(",".join(f"bench-{i}" for i in range(1,21)))')
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench AWS_REGION=bench-1
run() {
  local label=$1; shift
  local t0=$(date +%s.%N)
  "$bin" "$@" discover aws --regions "$regions" --page-size 100 --concurrency 8 --format json > "$work/out.json" 2> "$work/err"
  local t1=$(date +%s.%N)
  printf '%-34s %6.2f s  %s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(tail -n 1 "$work/err")"
}
run "SQLite, first listing (create)" --data-dir "$work/sqlite"
run "SQLite, second listing (merge)" --data-dir "$work/sqlite"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("instances listed:", len(d["resources"]), "internet-exposed:", d["internet_exposed"])' "$work/out.json"
if [ -n "${VANTAGE_BENCH_POSTGRES:-}" ]; then
  run "PostgreSQL, first listing (create)" --database "$VANTAGE_BENCH_POSTGRES"
  run "PostgreSQL, second listing (merge)" --database "$VANTAGE_BENCH_POSTGRES"
fi
