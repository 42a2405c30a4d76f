#!/usr/bin/env bash
# Image inventory benchmark: a 1 GB `docker save` archive (and the same image as a gzip OCI
# layout) built here — three layers of real files from /usr, a whiteout, this machine's real
# dpkg status — read by `vantage scan image`; wall time and peak memory. For scale, the time
# `tar -x` takes to unpack the same archive to disk (what a naive scanner does first).
# Writes bench/out/image.md.
#
#   bash bench/image.sh            # SIZE_MB=1024
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
SIZE_MB=${SIZE_MB:-1024}
for c in skopeo sha256sum /usr/bin/time gzip; do
  command -v "$c" >/dev/null || { echo "missing $c (apt-get install skopeo time)"; exit 2; }
done
cargo build --release --quiet --bin vantage
V=$CARGO_TARGET_DIR/release/vantage
out=$root/bench/out; mkdir -p "$out"
work=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
trap 'rm -rf "$work"' EXIT

# Three layers of real files (binaries, libraries, data from /usr: they compress like an image's
# content), 40 %, 30 %, 30 % of SIZE_MB; the first holds os-release and this machine's dpkg
# status, the last whites out a file of the first.
python3 - "$work" "$SIZE_MB" <<'PY'
import os, sys, tarfile
work, size = sys.argv[1], int(sys.argv[2]) << 20
files = []
for top in ("/usr/lib", "/usr/share", "/usr/bin"):
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
files.sort()
shares = [size * 4 // 10, size * 3 // 10, size * 3 // 10]
it = iter(files)
first = None
for i, share in enumerate(shares):
    with tarfile.open(os.path.join(work, f"layer{i}.tar"), "w", format=tarfile.GNU_FORMAT) as t:
        if i == 0:
            t.add(os.path.realpath("/etc/os-release"), "etc/os-release")
            t.add("/var/lib/dpkg/status", "var/lib/dpkg/status")
        if i == 2 and first:
            info = tarfile.TarInfo(os.path.join(os.path.dirname(first), ".wh." + os.path.basename(first)).lstrip("/"))
            t.addfile(info)
        total = 0
        for p in it:
            try:
                total += os.path.getsize(p)
                t.add(p, p.lstrip("/"), recursive=False)
            except OSError:
                continue
            first = first or p
            if total >= share:
                break
PY
layout=$work/layout; mkdir -p "$layout/blobs/sha256"
blob() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$layout/blobs/sha256/$h"; echo "$h"; }
layers=(); diffs=()
for l in 0 1 2; do
  mv "$work/layer$l.tar" "$work/layer.tar"
  diffs+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
  gzip -c "$work/layer.tar" > "$work/layer.tgz"; rm "$work/layer.tar"
  size=$(stat -c %s "$work/layer.tgz")
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$(blob "$work/layer.tgz")\",\"size\":$size}")
done
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s","%s","%s"]}}' "${diffs[@]}" > "$work/config.json"
csize=$(stat -c %s "$work/config.json"); chash=$(blob "$work/config.json")
(IFS=,; printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' "$chash" "$csize" "${layers[*]}") > "$work/manifest.json"
msize=$(stat -c %s "$work/manifest.json"); mhash=$(blob "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$mhash" "$msize" > "$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
archive=$work/image.tar
skopeo copy --quiet --insecure-policy "oci:$layout:1" "docker-archive:$archive:bench/big:1"
asize=$(stat -c %s "$archive")

now() { date +%s.%N; }
measure() { # label, source
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  local t0 t1
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$V" --data-dir "$work/data" scan image "$2" --format json > "$work/r.json"
  t1=$(now)
  local pk; pk=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["packages"]))' "$work/r.json")
  printf '| %s | %.2f s | %d MiB | %s |\n' "$1" "$(echo "$t1 - $t0" | bc)" "$(( $(cat "$work/rss") / 1024 ))" "$pk"
}
"$V" --data-dir "$work/data" migrate > /dev/null
r_archive=$(measure "vantage scan image, docker save archive ($((asize >> 20)) MiB, uncompressed layers)" "$archive")
r_layout=$(measure "vantage scan image, OCI layout (gzip layers)" "$layout")
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
mkdir "$work/x"; t0=$(now); tar -C "$work/x" -xf "$archive"; for f in "$work"/x/*/layer.tar "$work"/x/blobs/sha256/*; do [ -f "$f" ] && tar -tf "$f" > /dev/null 2>&1 || true; done; t1=$(now)
untar=$(echo "$t1 - $t0" | bc)
{
  echo "# Image inventory: a ${SIZE_MB} MiB image"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores; three layers of real files from /usr (gzip layout $(( $(du -sb "$layout" | cut -f1) >> 20 )) MiB), a whiteout, this machine's dpkg status ($(grep -c '^Package:' /var/lib/dpkg/status) stanzas); caches dropped before each run"
  echo
  echo "| run | wall time | peak RSS | packages |"
  echo "|---|---|---|---|"
  echo "$r_archive"
  echo "$r_layout"
  printf '| for scale: tar -x of the archive to disk, then listing each layer | %.2f s | — | — |\n' "$untar"
} | tee "$out/image.md"
