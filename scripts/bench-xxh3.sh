#!/usr/bin/env bash
# XXH3 throughput: Kiln's Swift implementation against Debian's xxhsum, in the same run.
#   1. in memory: `kiln cache hash --benchmark` vs `xxhsum -b` on the same buffer size
#   2. on a file in the page cache: wall time of hashing it with each tool (best of N)
# Prints GB/s for both and the ratio xxhsum/kiln (the goal is at most 2).
# Usage: scripts/bench-xxh3.sh [file-size-MiB (default 1024)] [buffer-bytes (default 102400)]
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-1024}
buffer=${2:-102400}
command -v xxhsum >/dev/null || { echo "xxhsum not installed (apt-get install xxhash)" >&2; exit 1; }

swift build -c release --product kiln >&2
kiln=.build/release/kiln

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

echo "== in memory, ${buffer}-byte buffer =="
for pair in "xxh3-64:5" "xxh128:11"; do
    algorithm=${pair%%:*}; id=${pair##*:}
    ours=$("$kiln" cache hash --algorithm "$algorithm" --benchmark "$buffer" | awk '{print $(NF-1)}')
    theirs=$(xxhsum -b"$id" -B"$buffer" 2>&1 | tr '\r' '\n' | grep -o '([0-9.]* MB/s)' | tail -1 | tr -d '(' | awk '{print $1}')
    printf '%-8s kiln %6.2f GB/s   xxhsum %6.2f GB/s   ratio xxhsum/kiln %s\n' "$algorithm" \
        "$(python3 -c "print($ours/1000)")" "$(python3 -c "print($theirs/1000)")" "$(ratio "$theirs" "$ours")"
done

echo "== file of ${size_mib} MiB in the page cache (best of 5, includes process start and reading) =="
file=$(mktemp "${TMPDIR:-/tmp}/kiln-bench-xxh3.XXXXXX")
trap 'rm -f "$file"' EXIT
head -c "$((size_mib * 1048576))" /dev/urandom > "$file"
cat "$file" > /dev/null
best() {
    local best=999999
    for _ in 1 2 3 4 5; do
        local start end
        start=$(date +%s%N); "$@" > /dev/null; end=$(date +%s%N)
        local t=$(( (end - start) / 1000 ))
        (( t < best )) && best=$t
    done
    echo "$best"
}
for pair in "xxh3-64:-H3" "xxh128:-H2"; do
    algorithm=${pair%%:*}; flag=${pair##*:}
    [ "$("$kiln" cache hash --algorithm "$algorithm" "$file" | grep -o '[0-9a-f]\{16,32\}')" = \
      "$(xxhsum "$flag" "$file" | grep -o '[0-9a-f]\{16,32\}' | head -1)" ] || { echo "digest mismatch for $algorithm" >&2; exit 1; }
    ours=$(best "$kiln" cache hash --algorithm "$algorithm" "$file")
    theirs=$(best xxhsum "$flag" "$file")
    bytes=$((size_mib * 1048576))
    printf '%-8s kiln %6.2f GB/s   xxhsum %6.2f GB/s   ratio xxhsum/kiln %s\n' "$algorithm" \
        "$(python3 -c "print($bytes/$ours/1000)")" "$(python3 -c "print($bytes/$theirs/1000)")" "$(ratio "$ours" "$theirs")"
done
