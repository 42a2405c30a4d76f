#!/usr/bin/env bash
# Image inventory benchmark: a 1 GB `docker save` archive (and the same image as a gzip OCI
# layout) built here — three layers of incompressible files, a whiteout, this machine's real
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

# Three layers: 40 %, 30 %, 30 % of SIZE_MB in 1 MiB random files; the last whites one out.
mk_layer() { # dir, MiB, prefix
  mkdir -p "$1/opt/data"
  for i in $(seq "$2"); do head -c 1048576 /dev/urandom > "$1/opt/data/$3-$i.bin"; done
}
l1=$work/l1; l2=$work/l2; l3=$work/l3
mk_layer "$l1" $((SIZE_MB * 4 / 10)) a
mkdir -p "$l1/etc" "$l1/var/lib/dpkg"
cp /etc/os-release "$l1/etc/os-release"
cp /var/lib/dpkg/status "$l1/var/lib/dpkg/status"
mk_layer "$l2" $((SIZE_MB * 3 / 10)) b
mk_layer "$l3" $((SIZE_MB * 3 / 10)) c
touch "$l3/opt/data/.wh.a-1.bin"

layout=$work/layout; mkdir -p "$layout/blobs/sha256"
blob() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$layout/blobs/sha256/$h"; echo "$h"; }
layers=(); diffs=()
for l in "$l1" "$l2" "$l3"; do
  tar -C "$l" -cf "$work/layer.tar" .
  diffs+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
  gzip -1 -c "$work/layer.tar" > "$work/layer.tgz"; rm "$work/layer.tar"
  size=$(stat -c %s "$work/layer.tgz")
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$(blob "$work/layer.tgz")\",\"size\":$size}")
done
rm -rf "$l1" "$l2" "$l3"
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
  echo "$(date -u +%Y-%m-%d), $(nproc) cores; three layers of 1 MiB random files, a whiteout, this machine's dpkg status ($(grep -c '^Package:' /var/lib/dpkg/status) stanzas); caches dropped before each run"
  echo
  echo "| run | wall time | peak RSS | packages |"
  echo "|---|---|---|---|"
  echo "$r_archive"
  echo "$r_layout"
  printf '| for scale: tar -x of the archive to disk, then listing each layer | %.2f s | — | — |\n' "$untar"
} | tee "$out/image.md"
