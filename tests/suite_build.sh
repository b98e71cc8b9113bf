#!/usr/bin/env bash
# meshc build and meshrt verify end to end: byte-identical images whatever
# the order of files and documents; atomic writes (a failed build leaves
# the old image and no temporary file); meshrt verify's answers.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# split a multi-document YAML file into one file per document
split_docs() {
    awk -v dir="$2" -v base="$3" 'BEGIN { k = 0; f = sprintf("%s/%s-%03d.yaml", dir, base, k) }
        /^---/ { k++; f = sprintf("%s/%s-%03d.yaml", dir, base, k); next }
        { print > f }' "$1"
}

# --- determinism: every route-test config, documents shuffled
for dir in testdata/routes/*/; do
    c=$(basename "$dir")
    [ -f "$dir/config.yaml" ] || continue
    "$MESHC" build -o "$T/$c.ref.img" "$dir/config.yaml" > /dev/null 2>&1 || { fail "determinism/$c: reference build"; continue; }
    ok=1
    for seed in 1 2 3; do
        rm -rf "$T/docs" && mkdir -p "$T/docs"
        split_docs "$dir/config.yaml" "$T/docs" d
        # one shuffled multi-document file
        ls "$T/docs"/*.yaml | shuf --random-source=<(yes "$seed$c") | while read -r f; do cat "$f"; echo '---'; done > "$T/one.yaml"
        "$MESHC" build -o "$T/$c.one.img" "$T/one.yaml" > /dev/null 2>&1 || ok=0
        cmp -s "$T/$c.ref.img" "$T/$c.one.img" || ok=0
        # the documents as separate files, given in shuffled order
        mapfile -t files < <(ls "$T/docs"/*.yaml | shuf --random-source=<(yes "x$seed$c"))
        "$MESHC" build -o "$T/$c.many.img" "${files[@]}" > /dev/null 2>&1 || ok=0
        cmp -s "$T/$c.ref.img" "$T/$c.many.img" || ok=0
    done
    if [ "$ok" = 1 ]; then pass "determinism/$c: byte-identical under 6 shuffles"; else fail "determinism/$c: images differ after shuffling"; fi
done
# the seed given as a directory, and file by file in reverse order
"$MESHC" build -o "$T/seed.dir.img" testdata/seed > /dev/null 2>&1
mapfile -t rev < <(ls testdata/seed/*.yaml | sort -r)
"$MESHC" build -o "$T/seed.rev.img" "${rev[@]}" > /dev/null 2>&1
check "determinism/seed: directory and reversed files agree" 'cmp -s "$T/seed.dir.img" "$T/seed.rev.img"'

# --- atomic write
mkdir -p "$T/out"
"$MESHC" build -o "$T/out/routes.img" testdata/seed > /dev/null 2>&1
cp "$T/out/routes.img" "$T/old.img"
printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: x\n' > "$T/broken.yaml"
"$MESHC" build -o "$T/out/routes.img" "$T/broken.yaml" > "$T/err" 2>&1
rc=$?
check "atomic: a build with an error exits non-zero ($rc)" '[ "$rc" -ne 0 ]'
check "atomic: ... and leaves the old image untouched" 'cmp -s "$T/out/routes.img" "$T/old.img"'
check "atomic: ... and no temporary file" '[ "$(ls -A "$T/out")" = routes.img ]'
check "atomic: ... and says why" 'grep -q "not written" "$T/err"'
# a write failing half way (file size limit): old image kept, no temp file
( ulimit -f 1; "$MESHC" build -o "$T/out/routes.img" testdata/routes/matching/config.yaml > "$T/err" 2>&1 )
rc=$?
check "atomic: a write that fails half way exits 2 ($rc)" '[ "$rc" -eq 2 ]'
check "atomic: ... keeps the old image" 'cmp -s "$T/out/routes.img" "$T/old.img"'
check "atomic: ... leaves no temporary file" '[ "$(ls -A "$T/out")" = routes.img ]'
# an unwritable directory
mkdir -p "$T/ro" && cp "$T/old.img" "$T/ro/routes.img" && chmod a-w "$T/ro"
if [ "$(id -u)" != 0 ]; then
    "$MESHC" build -o "$T/ro/routes.img" testdata/seed > "$T/err" 2>&1
    rc=$?
    check "atomic: an unwritable directory exits 2 ($rc)" '[ "$rc" -eq 2 ] && grep -q "cannot create a temporary file" "$T/err"'
else
    "$MESHC" build -o "$T/nodir/routes.img" testdata/seed > "$T/err" 2>&1
    rc=$?
    check "atomic: a missing directory exits 2 ($rc)" '[ "$rc" -eq 2 ] && grep -q "cannot create a temporary file" "$T/err"'
fi
chmod u+w "$T/ro"
"$MESHC" build -o "$T/out/routes.img" testdata/routes/matching/config.yaml > /dev/null 2>&1
check "atomic: a good build replaces the image" '! cmp -s "$T/out/routes.img" "$T/old.img" && [ "$(ls -A "$T/out")" = routes.img ]'

# --- meshrt verify
out=$("$MESHRT" verify "$T/out/routes.img"); rc=$?
check "verify: a good image exits 0 with a summary" '[ "$rc" -eq 0 ] && grep -q ": ok: route image format 2.1, [0-9]* bytes, build [0-9a-f]\{32\}" <<<"$out"'
head -c 1000 "$T/out/routes.img" > "$T/cut.img"
out=$("$MESHRT" verify "$T/cut.img" 2>&1); rc=$?
check "verify: a truncated image exits 1 naming the offset" '[ "$rc" -eq 1 ] && grep -q "bad route image: at offset 24: truncated image" <<<"$out"'
cp "$T/out/routes.img" "$T/flip.img"
printf '\x55' | dd of="$T/flip.img" bs=1 seek=900 conv=notrunc status=none
out=$("$MESHRT" verify "$T/flip.img" 2>&1); rc=$?
check "verify: a flipped byte exits 1 (checksum)" '[ "$rc" -eq 1 ] && grep -q "at offset 48: checksum mismatch" <<<"$out"'
out=$("$MESHRT" verify "$T/none.img" 2>&1); rc=$?
check "verify: a missing file exits 2" '[ "$rc" -eq 2 ] && grep -q "cannot open" <<<"$out"'
out=$("$MESHRT" verify testdata/seed/gateway.yaml 2>&1); rc=$?
check "verify: a YAML file is not an image" '[ "$rc" -eq 1 ] && grep -q "not a route image" <<<"$out"'
"$MESHC" dump "$T/cut.img" > /dev/null 2>&1; rc=$?
check "dump: refuses a bad image (exit 2)" '[ "$rc" -eq 2 ]'

# --- meshrt route CLI contract
img="$T/seed.dir.img"
out=$("$MESHRT" route "$img" --port 80 --host httpbin.org --path /status/418 -o json); rc=$?
check "route: json for a routed request" '[ "$rc" -eq 0 ] && [ "$out" = "{\"action\":\"route\",\"cluster\":\"outbound|80||httpbin.org\",\"path\":\"/status/418\",\"authority\":\"httpbin.org\",\"route\":\"default/httpbin.http[0].match[0]\"}" ]'
out=$("$MESHRT" route "$img" --port 80 --host httpbin.org --path /get -o json); rc=$?
check "route: 404 NR exits 1" '[ "$rc" -eq 1 ] && [ "$out" = "{\"action\":\"no_route\",\"status\":404,\"flags\":\"NR\"}" ]'
out=$("$MESHRT" route "$img" --port 443 --sni www.google.com -o json); rc=$?
check "route: SNI passthrough" '[ "$rc" -eq 0 ] && grep -q "\"cluster\":\"outbound|443||www.google.com\"" <<<"$out"'
out=$("$MESHRT" route "$img" --port 443 --sni unknown.example -o json); rc=$?
check "route: unknown SNI closes" '[ "$rc" -eq 1 ] && [ "$out" = "{\"action\":\"close\",\"flags\":\"NR\"}" ]'
out=$("$MESHRT" route "$img" --mesh --port 80 --host httpbin.org --path /x -o json); rc=$?
check "route: the mesh view" '[ "$rc" -eq 0 ] && grep -q "outbound|80||localhost.local" <<<"$out"'
out=$("$MESHRT" route "$img" --port 81 --host httpbin.org --path / 2>&1); rc=$?
check "route: no listener is an error naming the ports" '[ "$rc" -eq 2 ] && grep -q "no listener on port 81 .*ports: 80, 443" <<<"$out"'
out=$("$MESHRT" route "$img" --labels app=none --port 80 --host h --path / 2>&1); rc=$?
check "route: an unknown workload lists the views" '[ "$rc" -eq 2 ] && grep -q "it has: workload istio-system/istio=ingressgateway" <<<"$out"'
out=$("$MESHRT" route "$img" --port 80 --host h 2>&1); rc=$?
check "route: HTTP needs --path" '[ "$rc" -eq 2 ] && grep -q "give --host and --path" <<<"$out"'
echo "1..$n"
