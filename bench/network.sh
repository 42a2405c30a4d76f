#!/usr/bin/env bash
# Network discovery benchmark: Vantage against nmap, side by side in one run, on a lab this
# script builds in network namespaces of its own (root needed). No packet leaves the machine:
# every target is the namespace's own loopback, or addresses routed into a second namespace that
# drops them.
#
#   bash bench/network.sh            # writes bench/out/network.md and prints it
#
# Labs:
#   1. filtered: services on the namespace's 127.0.0.1 (one in the ephemeral port range) and an
#      iptables rule dropping 20000-40000; all 65,535 ports, nmap -sT -p- vs vantage (default,
#      with service identification);
#   2. plain: the same services, nothing filtered; all ports, nmap -sT vs vantage
#      --no-service-detection;
#   3. many hosts: 254 addresses of 127.0.0.0/24 on the top 1,000 ports, services on a few;
#      nmap -sT vs vantage --no-service-detection;
#   4. service identification: OpenSSH, Python's http.server, OpenSSL's s_server, an SMTP banner
#      and a raw banner; nmap -sV vs vantage product names;
#   5. memory: 4,096 unanswering addresses (routed into a namespace that drops them), resident
#      memory of vantage sampled while it scans.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
for c in nmap iptables ip python3 openssl ssh-keygen /usr/sbin/sshd; do
  command -v "$c" >/dev/null || { echo "missing $c (apt-get install nmap iptables iproute2 openssl openssh-server)"; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 2; }
cargo build --release --quiet --bin vantage
V=$CARGO_TARGET_DIR/release/vantage
out=$root/bench/out; mkdir -p "$out"
work=$(mktemp -d)
NS=vbench$$; NS2=vbsink$$
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  ip netns pids $NS 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $NS 2>/dev/null || true
  ip netns del $NS2 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ms() { date +%s%3N; }
inns() { ip netns exec $NS "$@"; }

ip netns add $NS
inns ip link set lo up

# Raw services (python): banner per port; one port in the ephemeral range (45000).
cat > "$work/serve.py" <<'PY'
import socket, sys, threading
def serve(host, port, banner):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port)); s.listen(512)
    while True:
        c, _ = s.accept()
        try: c.sendall(banner)
        except Exception: pass
        c.close()
specs = [a.split(":", 2) for a in sys.argv[1:]]
for host, port, banner in specs:
    threading.Thread(target=serve, args=(host, int(port), banner.encode().decode("unicode_escape").encode("latin-1")), daemon=True).start()
threading.Event().wait(7200)
PY
TRUTH_FILTERED="22 5433 8080 45000"
inns python3 "$work/serve.py" \
  "127.0.0.1:22:SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" \
  "127.0.0.1:8080:HTTP/1.0 200 OK\r\nServer: nginx/1.22.1\r\n\r\n" \
  "127.0.0.1:5433:" \
  "127.0.0.1:31337:x" \
  "127.0.0.1:45000:220 mail ESMTP Postfix (Debian/GNU)\r\n" &
sleep 1

# open ports of an nmap XML / a vantage JSON report, as "ip:port" lines
nmap_open() { python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
for h in ET.parse(sys.argv[1]).iter("host"):
    ip = h.find("address").get("addr")
    for p in h.iter("port"):
        if p.find("state").get("state") == "open": print(f"{ip}:{p.get('portid')}")
PY
}
vantage_open() { python3 - "$1" <<'PY'
import json, sys
for h in json.load(open(sys.argv[1]))["hosts"]:
    for p in h["ports"]: print(f"{h['ip']}:{p['port']}")
PY
}
count_diff() { comm -3 <(sort "$1") <(sort "$2") | wc -l; }
truth_file() { local host=$1; shift; for p in "$@"; do echo "$host:$p"; done > "$work/truth"; echo "$work/truth"; }

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); }

# 1. filtered lab, all ports
inns iptables -A INPUT -p tcp --dport 20000:40000 -j DROP
t=$(truth_file 127.0.0.1 $TRUTH_FILTERED)
t0=$(ms); inns nmap -sT -p- -n -Pn --open -oX "$work/n1.xml" 127.0.0.1 >/dev/null; t1=$(ms)
inns "$V" --data-dir "$work/d1" scan network 127.0.0.1 --ports 1-65535 --format json > "$work/v1.json"; t2=$(ms)
nmap_open "$work/n1.xml" > "$work/n1"; vantage_open "$work/v1.json" > "$work/v1"
row "65,535 ports, 20,001 dropped (default, with service identification)" "$((t1-t0)) ms" "$((t2-t1)) ms" \
  "nmap $(wc -l < "$work/n1") open, $(count_diff "$work/n1" "$t") wrong; vantage $(wc -l < "$work/v1") open, $(count_diff "$work/v1" "$t") wrong" \
  "$(python3 -c "print(f'{$((t1-t0))/$((t2-t1)):.1f}x')")"
inns iptables -F INPUT

# 2. plain loopback, all ports, port scan only
t0=$(ms); inns nmap -sT -p- -n -Pn --open -oX "$work/n2.xml" 127.0.0.1 >/dev/null; t1=$(ms)
inns "$V" --data-dir "$work/d2" scan network 127.0.0.1 --ports 1-65535 --no-service-detection --format json > "$work/v2.json"; t2=$(ms)
nmap_open "$work/n2.xml" > "$work/n2"; vantage_open "$work/v2.json" > "$work/v2"
t=$(truth_file 127.0.0.1 22 5433 8080 31337 45000)
row "65,535 ports, nothing filtered (port scan only)" "$((t1-t0)) ms" "$((t2-t1)) ms" \
  "nmap $(count_diff "$work/n2" "$t") wrong; vantage $(count_diff "$work/v2" "$t") wrong" \
  "$(python3 -c "print(f'{$((t1-t0))/$((t2-t1)):.1f}x')")"

# 3. many hosts: 127.0.0.1-254, top 1000 ports; services on a few addresses
inns python3 "$work/serve.py" "127.0.0.7:80:HTTP/1.0 200 OK\r\n\r\n" "127.0.0.42:443:" \
  "127.0.0.99:3306:x" "127.0.0.200:25:220 mx ESMTP\r\n" "127.0.0.254:8080:HTTP/1.0 200 OK\r\n\r\n" &
sleep 1
t0=$(ms); inns nmap -sT --top-ports 1000 -n --open -oX "$work/n3.xml" 127.0.0.1-254 >/dev/null; t1=$(ms)
inns "$V" --data-dir "$work/d3" scan network 127.0.0.1-254 --top-ports 1000 --no-service-detection --format json > "$work/v3.json"; t2=$(ms)
nmap_open "$work/n3.xml" | sort > "$work/n3"; vantage_open "$work/v3.json" | sort > "$work/v3"
row "254 hosts × top 1,000 ports (port scan only)" "$((t1-t0)) ms" "$((t2-t1)) ms" \
  "nmap $(wc -l < "$work/n3") open, vantage $(wc -l < "$work/v3") open, $(count_diff "$work/n3" "$work/v3") differ" \
  "$(python3 -c "print(f'{$((t1-t0))/$((t2-t1)):.1f}x')")"

# 4. service identification: real servers on the namespace's loopback
mkdir -p "$work/ssh" "$work/www" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/hostkey"
printf 'Port 2222\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nStrictModes no\n' \
  "$work/ssh/hostkey" "$work/ssh/pid" > "$work/ssh/config"
inns /usr/sbin/sshd -D -f "$work/ssh/config" &
echo '<title>bench</title>' > "$work/www/index.html"
(cd "$work/www" && inns python3 -m http.server --bind 127.0.0.1 18080 >/dev/null 2>&1) &
openssl req -x509 -nodes -days 30 -newkey rsa:2048 -subj /CN=bench.lab -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null
inns openssl s_server -www -quiet -accept 127.0.0.1:18443 -cert "$work/c.pem" -key "$work/k.pem" >/dev/null 2>&1 &
sleep 1.5
SV=2222,18080,18443,22,8080,45000
t0=$(ms); inns nmap -sV -Pn -n -p $SV -oX "$work/n4.xml" 127.0.0.1 >/dev/null; t1=$(ms)
inns "$V" --data-dir "$work/d4" scan network 127.0.0.1 --ports $SV --format json > "$work/v4.json"; t2=$(ms)
products=$(python3 - "$work/n4.xml" "$work/v4.json" <<'PY'
import json, sys, xml.etree.ElementTree as ET
nm = {}
for p in ET.parse(sys.argv[1]).iter("port"):
    s = p.find("service")
    if s is not None and s.get("product"): nm[int(p.get("portid"))] = s.get("product")
va = {p["port"]: p.get("product") for h in json.load(open(sys.argv[2]))["hosts"] for p in h["ports"]}
same = [p for p in nm if va.get(p) == nm[p]]
diff = [f"{p}: nmap {nm[p]!r} vantage {va.get(p)!r}" for p in nm if va.get(p) != nm[p]]
print(f"{len(same)}/{len(nm)} products nmap names are the same" + (f" (differ: {'; '.join(diff)})" if diff else "") +
      f"; {', '.join(sorted(set(nm.values())))}")
PY
)
row "service identification, 6 services (-sV)" "$((t1-t0)) ms" "$((t2-t1)) ms" "$products" \
  "$(python3 -c "print(f'{$((t1-t0))/$((t2-t1)):.1f}x')")"

# 5. memory while scanning 4,096 unanswering addresses (routed into a namespace that drops them)
ip netns add $NS2
ip link add vb$$a type veth peer name vb$$b
ip link set vb$$a netns $NS; ip link set vb$$b netns $NS2
inns ip addr add 192.0.2.1/30 dev vb$$a; inns ip link set vb$$a up
ip netns exec $NS2 ip addr add 192.0.2.2/30 dev vb$$b; ip netns exec $NS2 ip link set vb$$b up
ip netns exec $NS2 sysctl -qw net.ipv4.ip_forward=0
inns ip route add 10.99.0.0/16 via 192.0.2.2
inns "$V" --data-dir "$work/d5" scan network 10.99.0.0/20 --ports 22,80,443 --no-service-detection --format json > "$work/v5.json" &
vpid=$!
samples=()
while kill -0 $vpid 2>/dev/null; do
  pid=$(pgrep -f "d5 scan network" | head -n 1 || true)
  [ -n "$pid" ] && samples+=("$(ps -o rss= -p "$pid" 2>/dev/null || true)")
  sleep 1
done
wait $vpid || true
mem=$(printf '%s\n' "${samples[@]}" | python3 -c "
import sys; v=[int(x) for x in sys.stdin.read().split() if x.strip()]
n=len(v); q=max(1,n//4)
print(f'{n} samples: first quarter max {max(v[:q])/1024:.1f} MiB, last quarter max {max(v[-q:])/1024:.1f} MiB, peak {max(v)/1024:.1f} MiB')")
row "4,096 unanswering addresses × 3 ports: vantage resident memory" "—" "$(python3 -c "import json; print(round(json.load(open('$work/v5.json'))['elapsed_ms']))") ms" "$mem" "—"

{
  echo "# Network discovery benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(nmap --version | head -n 1))"
  echo
  echo "| Lab | nmap | Vantage | Accuracy | Vantage speed-up |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/network.md"
