#!/usr/bin/env bash
# The JIT benchmark of issue 5: in one run, the same programs as Debian's native amd64 build,
# under qemu-aarch64 -0 PROGRAM -L ROOTFS (the guest sees the argv[0] kiln run gives it: python3.11
# takes its prefix from it) and under `kiln run --rootfs ROOTFS`:
#   lua      lua5.4: local s=0 for i=1,30000000 do s=s+i%7 end print(s)
#   sqlite   sqlite3 :memory: reading 200k INSERTs in one transaction, then aggregate queries
#   json     python3.11: json.dumps/json.loads of a small document in a loop
#   xz       xz -6 of a 20 MB text file to stdout
#   startup  python3.11 -c pass (start-up and translation cost)
# Each is run N times per engine; two tables (wall time, and user + system CPU time) give the
# medians, kiln/native and the speed-up qemu/kiln (the issue's goal: >= 2 on each workload, >= 1 on start-up). Outputs of
# every run are compared with native's (a wrong answer fails the benchmark).
#
# Usage: scripts/bench-jit.sh [-n RUNS] [-k KILN] [-b BASELINE] [WORKLOAD...]
#   RUNS defaults to 3, KILN to .build/release/kiln (built first when it is the default),
#   BASELINE: another kiln binary measured in the same run (a "before" column and its ratio),
#   ROOTFS to $KILN_ROOTFS or ~/.local/share/kiln/rootfs/debian-bookworm-arm64.
# Host needs: apt-get install lua5.4 sqlite3 python3.11 xz-utils qemu-user; the rootfs the
# same packages (kiln rootfs fetch lua5.4 sqlite3 python3.11 xz-utils).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
kiln=
baseline=
while getopts "n:k:b:" option; do
    case $option in
        n) runs=$OPTARG ;;
        k) kiln=$OPTARG ;;
        b) baseline=$OPTARG ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(lua sqlite json xz startup)

rootfs=${KILN_ROOTFS:-$HOME/.local/share/kiln/rootfs/debian-bookworm-arm64}
if [ -z "$kiln" ]; then
    swift build -c release --product kiln >&2
    kiln=.build/release/kiln
fi
for tool in /usr/bin/lua5.4 /usr/bin/sqlite3 /usr/bin/python3.11 /usr/bin/xz; do
    [ -x "$tool" ] || { echo "native $tool missing (apt-get install lua5.4 sqlite3 python3.11 xz-utils)" >&2; exit 1; }
    [ -x "$rootfs$tool" ] || { echo "$rootfs$tool missing (kiln rootfs fetch lua5.4 sqlite3 python3.11 xz-utils)" >&2; exit 1; }
done
command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 missing (apt-get install qemu-user)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-jit.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The JIT is measured, not caches: an empty cache directory (the user's may hold baked caches
# that a kiln of the same translation ABI would use, and another ABI's kiln would not).
export KILN_CACHE_DIR="$work/cache"

# Inputs, generated deterministically.
awk 'BEGIN {
    print "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, v REAL, name TEXT);"
    print "BEGIN;"
    for (i = 1; i <= 200000; i++) printf "INSERT INTO t VALUES(%d,%d,%d.25,\x27item-%d\x27);\n", i, (i * 7919) % 97, (i * 31) % 1000, i
    print "COMMIT;"
    print "CREATE INDEX t_grp ON t(grp);"
    print "SELECT count(*), sum(v), min(name), max(name) FROM t;"
    print "SELECT grp, count(*), round(avg(v), 3), max(v) FROM t GROUP BY grp ORDER BY sum(v) DESC LIMIT 5;"
    print "SELECT count(DISTINCT v), sum(length(name)) FROM t WHERE grp BETWEEN 10 AND 40;"
    print "SELECT count(*), sum(b.v - a.v) FROM t a JOIN t b ON b.id = a.id + 1 WHERE +a.grp < +b.grp;"
}' > "$work/sqlite.sql"
awk 'BEGIN {
    srand(5)
    split("the of and a to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part", w, " ")
    n = length(w); bytes = 0
    while (bytes < 20971520) {
        line = ""
        for (k = 0; k < 12; k++) line = line w[int(rand() * n) + 1] (rand() < 0.1 ? sprintf(" %d", int(rand() * 100000)) : "") " "
        print line; bytes += length(line) + 1
    }
}' > "$work/xz-input.txt"
truncate -s 20971520 "$work/xz-input.txt"
cat > "$work/bench_json.py" <<'EOF'
import json
doc = {"id": 12345, "name": "kiln", "tags": ["jit", "arm64", "x86-64"], "values": list(range(40)),
       "nested": {"ratio": 1.25, "flags": [True, False, None], "text": "caf\u00e9 \u2603 " * 4}}
total = 0
for i in range(40000):
    doc["id"] = i
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    total += back["id"] + len(text)
print(total)
EOF

# Each workload's command line (the program's absolute path is the same in the rootfs).
command_of() {
    case $1 in
        lua) cmd=(/usr/bin/lua5.4 -e 'local s=0 for i=1,30000000 do s=s+i%7 end print(s)') ;;
        sqlite) cmd=(/usr/bin/sqlite3 :memory:) ;;
        json) cmd=(/usr/bin/python3.11 "$work/bench_json.py") ;;
        xz) cmd=(/usr/bin/xz -6 -T1 -c "$work/xz-input.txt") ;;
        startup) cmd=(/usr/bin/python3.11 -c pass) ;;
        *) echo "unknown workload $1 (lua sqlite json xz startup)" >&2; exit 2 ;;
    esac
}
stdin_of() { if [ "$1" = sqlite ]; then echo "$work/sqlite.sql"; else echo /dev/null; fi; }

# run ENGINE WORKLOAD: prints "wall cpu" in seconds (cpu = user + system, which the other
# processes of a loaded machine disturb less); the output's digest goes to $work/out.
run() {
    local engine=$1 workload=$2
    command_of "$workload"
    case $engine in
        native) set -- "${cmd[@]}" ;;
        qemu) set -- qemu-aarch64 -0 "${cmd[0]}" -L "$rootfs" "$rootfs${cmd[0]}" "${cmd[@]:1}" ;;
        kiln) set -- "$kiln" run --rootfs "$rootfs" "${cmd[@]}" ;;
        baseline) set -- "$baseline" run --rootfs "$rootfs" "${cmd[@]}" ;;
    esac
    if ! /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" < "$(stdin_of "$workload")" 2> "$work/err" | md5sum > "$work/out"; then
        echo "$engine $workload failed: $(head -c 500 "$work/err")" >&2
        exit 1
    fi
    awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time"
}

median() { tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# a / b, or "-" when b is below the timer's 10 ms resolution.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) printf "-"; else printf "%.2f", a / b }'; }

engines=(native qemu kiln)
header="| workload | native (s) | qemu-aarch64 (s) | kiln (s) | kiln / native | qemu / kiln |
|---|---:|---:|---:|---:|---:|"
if [ -n "$baseline" ]; then
    engines=(native qemu baseline kiln)
    header="| workload | native (s) | qemu-aarch64 (s) | baseline kiln (s) | kiln (s) | kiln / native | qemu / baseline | qemu / kiln |
|---|---:|---:|---:|---:|---:|---:|---:|"
fi
wall_table=$header
cpu_table=$header
for workload in "${workloads[@]}"; do
    command_of "$workload"
    declare -A wall=() cpu=()
    expected=
    declare -A walls=() cpus=()
    # Engines alternate run by run, so load changes during the run touch each alike.
    for _ in $(seq "$runs"); do
        for engine in "${engines[@]}"; do
            read -r w c <<< "$(run "$engine" "$workload")"
            walls[$engine]="${walls[$engine]:-} $w"
            cpus[$engine]="${cpus[$engine]:-} $c"
            digest=$(cat "$work/out")
            if [ -z "$expected" ]; then expected=$digest
            elif [ "$digest" != "$expected" ]; then echo "$engine $workload: output differs from native" >&2; exit 1; fi
        done
    done
    for engine in "${engines[@]}"; do
        wall[$engine]=$(echo ${walls[$engine]} | median)
        cpu[$engine]=$(echo ${cpus[$engine]} | median)
        echo "$workload $engine: wall${walls[$engine]}; cpu${cpus[$engine]}" >&2
    done
    row() {
        local -n t=$1
        if [ -n "$baseline" ]; then
            echo "| $workload | ${t[native]} | ${t[qemu]} | ${t[baseline]} | ${t[kiln]} | $(ratio "${t[kiln]}" "${t[native]}") | $(ratio "${t[qemu]}" "${t[baseline]}") | $(ratio "${t[qemu]}" "${t[kiln]}") |"
        else
            echo "| $workload | ${t[native]} | ${t[qemu]} | ${t[kiln]} | $(ratio "${t[kiln]}" "${t[native]}") | $(ratio "${t[qemu]}" "${t[kiln]}") |"
        fi
    }
    wall_table="$wall_table
$(row wall)"
    cpu_table="$cpu_table
$(row cpu)"
    unset wall cpu walls cpus
done
echo "Medians of $runs runs; kiln $("$kiln" --version 2>/dev/null || echo "$kiln")${baseline:+, baseline $baseline}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "Wall time:"
echo
echo "$wall_table"
echo
echo "CPU time (user + system):"
echo
echo "$cpu_table"
