#!/usr/bin/env bash
# SSH inventory benchmark: N inventories of this machine through a real OpenSSH server on
# 127.0.0.1, Vantage (concurrency C) against a sequential loop of the OpenSSH client running the
# same script (`vantage inventory ssh --show-script`) — one `ssh` per host. Measured in one run; writes bench/out/ssh.md.
#
#   bash bench/ssh.sh               # N=100 C=20
#   N=200 C=40 bash bench/ssh.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
N=${N:-100}; C=${C:-20}; PORT=${PORT:-22022}
for c in ssh ssh-keygen /usr/sbin/sshd /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "missing $c (apt-get install openssh-server openssh-client time)"; exit 2; }
done
cargo build --release --quiet --bin vantage
V=$CARGO_TARGET_DIR/release/vantage
out=$root/bench/out; mkdir -p "$out"
work=$(mktemp -d)
cleanup() { [ -f "$work/sshd.pid" ] && kill "$(cat "$work/sshd.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$work/client"
cp "$work/client.pub" "$work/authorized_keys"
cat > "$work/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 64
MaxStartups 256
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$work/sshd_config"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

for _ in $(seq "$N"); do echo "root@127.0.0.1:$PORT"; done > "$work/targets"
# Exactly the script Vantage runs on each host.
CMDS=$("$V" inventory ssh --show-script)
SSH=(ssh -i "$work/client" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o "UserKnownHostsFile=$work/known_hosts" -o LogLevel=ERROR)
"${SSH[@]}" root@127.0.0.1 true   # learn the host key outside the measurement
bytes=$("${SSH[@]}" root@127.0.0.1 "$CMDS" | wc -c)

now() { date +%s.%N; }
t0=$(now)
for _ in $(seq "$N"); do "${SSH[@]}" root@127.0.0.1 "$CMDS" > /dev/null; done
t1=$(now)
openssh=$(echo "$t1 - $t0" | bc)
# The same commands one `ssh` each, as a plain shell loop over them would run them.
python3 - "$CMDS" > "$work/parts" <<'PY'
import re, sys
parts = [p.strip().strip(';').strip() for p in re.split(r"echo [\"']@@vantage [^\"']*[\"'];?", sys.argv[1])]
print("\0".join(p for p in parts if p), end="")
PY
mapfile -d '' parts < "$work/parts"
t0=$(now)
for _ in $(seq "$N"); do for p in "${parts[@]}"; do "${SSH[@]}" root@127.0.0.1 "$p" > /dev/null; done; done
t1=$(now)
openssh_each=$(echo "$t1 - $t0" | bc)

data="$work/data"
"$V" --data-dir "$data" migrate > /dev/null
run_vantage() { # label, extra args…
  local label=$1; shift
  local t0 t1 rss
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$V" --data-dir "$data" inventory ssh --targets-file "$work/targets" \
    --key "$work/client" --format csv "$@" > "$work/out.csv"
  t1=$(now)
  rss=$(cat "$work/rss")
  local ok; ok=$(tail -n +2 "$work/out.csv" | awk -F, '$NF == ""' | wc -l)
  printf '| %s | %.2f s | %d / %d | %d MiB |\n' "$label" "$(echo "$t1 - $t0" | bc)" "$ok" "$N" "$((rss / 1024))"
}
v_collect=$(run_vantage "vantage, collection only, concurrency $C" --collect-only --concurrency "$C")
v_seq=$(run_vantage "vantage, collection only, concurrency 1" --collect-only --concurrency 1)
v_full=$(run_vantage "vantage, full inventory (stored, judged), concurrency $C" --concurrency "$C")
vc=$(echo "$v_collect" | awk -F'|' '{print $3}' | tr -d ' s')
speedup=$(echo "scale=1; $openssh / $vc" | bc)
speedup_each=$(echo "scale=1; $openssh_each / $vc" | bc)

{
  echo "# SSH inventory: $N sessions against a local OpenSSH server"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(ssh -V 2>&1), $(dpkg-query -W -f='${db:Status-Abbrev}\n' | grep -c '^.i') packages (${bytes} bytes of command output per host)"
  echo
  echo "| run | wall time | hosts collected | peak RSS |"
  echo "|---|---|---|---|"
  printf '| OpenSSH client, sequential loop, one ssh per host running the whole script | %.2f s | %d / %d | — |\n' "$openssh" "$N" "$N"
  printf '| OpenSSH client, sequential loop, one ssh per command (%d per host) | %.2f s | %d / %d | — |\n' "${#parts[@]}" "$openssh_each" "$N" "$N"
  echo "$v_collect"
  echo "$v_seq"
  echo "$v_full"
  echo
  echo "Vantage (concurrency $C) is **${speedup}×** faster than one ssh per host running the whole script, **${speedup_each}×** faster than one ssh per command."
} | tee "$out/ssh.md"
