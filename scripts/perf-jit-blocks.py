#!/usr/bin/env python3
"""Attributes perf samples in Kiln's JIT code to guest blocks.

perf reads /tmp/perf-<pid>.map only for anonymous mappings, and Kiln's code buffer is a memfd
mapping, so `perf report` shows its samples as bare addresses. This reads the map that
KILN_PERF_MAP=1 writes and the samples of `perf script` and prints the hottest blocks.

Usage: KILN_PERF_MAP=1 perf record -F 10000 -o perf.data kiln run ...
       scripts/perf-jit-blocks.py [-i perf.data] [-n TOP] [--offsets]
--offsets also prints each hot block's hottest host offsets. With KILN_PERF_MAP=code (the map
plus /tmp/perf-<pid>.code, each block's bytes), --code N disassembles the N hottest blocks:
guest instructions (from the file under --rootfs) and x86-64 with samples per instruction.
"""
import argparse, bisect, collections, glob, os, subprocess

parser = argparse.ArgumentParser()
parser.add_argument("-i", default="perf.data")
parser.add_argument("-n", type=int, default=30)
parser.add_argument("--offsets", action="store_true")
parser.add_argument("--code", type=int, default=0)
parser.add_argument("--rootfs", default=os.path.expanduser("~/.local/share/kiln/rootfs/debian-bookworm-arm64"))
args = parser.parse_args()

script = subprocess.run(["perf", "script", "-i", args.i, "-F", "pid,ip,dso"], capture_output=True, text=True, check=True).stdout
samples = collections.Counter()
total = 0
for line in script.splitlines():
    fields = line.split(None, 2)
    if len(fields) < 2:
        continue
    total += 1
    if len(fields) == 3 and "kiln-code" in fields[2]:
        samples[(int(fields[0]), int(fields[1], 16))] += 1

blocks = {}  # pid -> sorted [(start, size, name)]
for pid in {pid for pid, _ in samples}:
    path = f"/tmp/perf-{pid}.map"
    if not os.path.exists(path):
        continue
    entries = []
    with open(path) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            entries.append((int(start, 16), int(size, 16), name))
    entries.sort()
    blocks[pid] = entries

per_block = collections.Counter()
offsets = collections.defaultdict(collections.Counter)
jit = 0
for (pid, ip), count in samples.items():
    jit += count
    entries = blocks.get(pid, [])
    k = bisect.bisect_right(entries, (ip, float("inf"), "")) - 1
    # A later block may reuse addresses after a flush: the last entry covering ip wins.
    if k >= 0 and entries[k][0] <= ip < entries[k][0] + entries[k][1]:
        key = (pid, entries[k][0], entries[k][2])
        per_block[key] += count
        offsets[key][ip - entries[k][0]] += count
    else:
        per_block[(pid, 0, "(unnamed JIT code)")] += count

print(f"{total} samples, {jit} in JIT code ({100.0 * jit / max(total, 1):.1f}%)")
for (pid, start, name), count in per_block.most_common(args.n):
    print(f"{100.0 * count / max(total, 1):6.2f}%  {hex(start)}  {name}")
    if args.offsets:
        hot = ", ".join(f"+{o:#x}:{c}" for o, c in offsets[(pid, start, name)].most_common(8))
        print(f"         {hot}")

def block_code(pid, start):
    path = f"/tmp/perf-{pid}.code"
    if not os.path.exists(path):
        return None
    wanted = format(start, "x")
    found = None
    with open(path) as f:
        for line in f:
            if line.startswith(wanted + " "):
                found = bytes.fromhex(line.split(" ", 1)[1].strip())
    return found

def guest_listing(name):
    # name: "0xPC (PATH+0xOFFSET) len 0xLEN"
    try:
        path, rest = name.split(" (", 1)[1].split("+", 1)
        offset = int(rest.split(")")[0], 16)
        length = int(name.rsplit(" len ", 1)[1], 16)
    except (IndexError, ValueError):
        return ""
    with open(args.rootfs + path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    with open("/tmp/perf-jit-guest.bin", "wb") as f:
        f.write(data)
    out = subprocess.run(["aarch64-linux-gnu-objdump", "-D", "-b", "binary", "-m", "aarch64", f"--adjust-vma={offset:#x}",
                          "/tmp/perf-jit-guest.bin"], capture_output=True, text=True).stdout
    return "\n".join(l for l in out.splitlines() if l.startswith("  ") or l.startswith(" "))

for (pid, start, name), count in per_block.most_common(args.code):
    code = block_code(pid, start)
    if code is None:
        continue
    print(f"\n=== {100.0 * count / max(total, 1):.2f}%  {name}")
    print(guest_listing(name))
    with open("/tmp/perf-jit-host.bin", "wb") as f:
        f.write(code)
    out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", "--no-show-raw-insn",
                          "/tmp/perf-jit-host.bin"], capture_output=True, text=True).stdout
    hits = offsets[(pid, start, name)]
    for line in out.splitlines():
        head = line.strip().split(":", 1)[0]
        try:
            offset = int(head, 16)
        except ValueError:
            continue
        print(f"{hits.get(offset, 0):5d} {line.strip().expandtabs(1)}")
