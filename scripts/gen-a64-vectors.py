#!/usr/bin/env python3
"""Generate per-instruction A64 oracle vectors with unicorn (QEMU's CPU model).

For every encoding class in scripts/a64_classes.py this draws random instruction words
inside the class, random and edge-valued operands, runs each word for exactly one
instruction under unicorn (CPU model "max") and records the state before and after in
the text format of docs/VECTORS.md, one gzip file per group under
Tests/KilnA64Tests/Vectors/.

Deterministic: every class has its own seed derived from its name, so the output is
byte-identical from run to run and adding a class does not disturb the others.

Usage: scripts/gen-a64-vectors.py [--out DIR] [--only GROUP] [--class NAME] [--check]
"""

import argparse
import gzip
import hashlib
import io
import os
import random
import struct
import sys

from unicorn import Uc, UcError, UC_ARCH_ARM64, UC_MODE_ARM, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE
from unicorn import UC_MEM_WRITE, UC_ERR_INSN_INVALID, UC_ERR_EXCEPTION, UC_ERR_FETCH_UNMAPPED
from unicorn.arm64_const import *

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import a64_classes as table  # noqa: E402

# Guest memory layout. The code region holds random bytes (literal loads read them) and
# is large enough that every pc-relative literal of an instruction placed in the middle
# window stays inside it; branch targets may leave it (unicorn then reports a fetch
# fault at the target, after the branch has completed).
CODE_BASE, CODE_SIZE = 0x10000000, 0x400000
PC_LO, PC_HI = 0x101F0000, 0x10210000
DATA_BASE, DATA_SIZE = 0x100000, 0x100000
BASE_LO, BASE_SPAN = DATA_BASE + 0x40000, 0x10000
STOP_ADDRESS = 0xDEAD0000  # never an instruction address; execution is bounded by count=1

X_REGS = [UC_ARM64_REG_X0 + i for i in range(29)] + [UC_ARM64_REG_X29, UC_ARM64_REG_X30]
V_REGS = [UC_ARM64_REG_V0 + i for i in range(32)]
ALL_REGS = X_REGS + [UC_ARM64_REG_SP, UC_ARM64_REG_NZCV, UC_ARM64_REG_FPCR, UC_ARM64_REG_FPSR] + V_REGS
M64 = (1 << 64) - 1


class State:
    """Architectural state that a vector records (memory is kept aside)."""

    __slots__ = ("x", "sp", "nzcv", "fpcr", "fpsr", "v")

    def __init__(self):
        self.x = [0] * 31
        self.sp = 0
        self.nzcv = 0
        self.fpcr = 0
        self.fpsr = 0
        self.v = [0] * 32

    def values(self):
        return self.x + [self.sp, self.nzcv, self.fpcr, self.fpsr] + self.v


def items(names_values):
    return " ".join(f"{n}={v:x}" for n, v in names_values)


def state_items(st, only_changed_from=None):
    out = []
    for i, value in enumerate(st.x):
        if (value != 0 if only_changed_from is None else value != only_changed_from.x[i]):
            out.append(f"x{i}={value:x}")
    for name in ("sp", "nzcv", "fpcr", "fpsr"):
        value = getattr(st, name)
        if (value != 0 if only_changed_from is None else value != getattr(only_changed_from, name)):
            out.append(f"{name}={value:x}")
    for i, value in enumerate(st.v):
        if (value != 0 if only_changed_from is None else value != only_changed_from.v[i]):
            out.append(f"v{i}={value:032x}")
    return out


def memory_items(byte_map):
    """byte_map: address -> value. Contiguous bytes become one m<addr>=<bytes> item."""
    out = []
    run_start, run = None, bytearray()
    for address in sorted(byte_map):
        if run_start is not None and address == run_start + len(run):
            run.append(byte_map[address])
            continue
        if run_start is not None:
            out.append(f"m{run_start:x}={run.hex()}")
        run_start, run = address, bytearray([byte_map[address]])
    if run_start is not None:
        out.append(f"m{run_start:x}={run.hex()}")
    return out


class Machine:
    """One unicorn instance reused for every vector; memory is restored after each run."""

    def __init__(self):
        self.uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM64_MAX)
        self.uc.mem_map(CODE_BASE, CODE_SIZE)
        self.uc.mem_map(DATA_BASE, DATA_SIZE)
        fill = random.Random(0x4B494C4E)
        # Code-region words keep bits 28:25 clear (the unallocated op0=0000 group): unicorn
        # translates ahead of pc and at branch targets, and some unallocated words elsewhere
        # abort QEMU's decoder. The words still serve as random literal-pool data.
        words = [fill.getrandbits(32) & ~(0xF << 25) for _ in range(CODE_SIZE // 4)]
        self.code = bytearray(struct.pack(f"<{len(words)}I", *words))
        self.data = bytearray(fill.randbytes(DATA_SIZE))
        self.uc.mem_write(CODE_BASE, bytes(self.code))
        self.uc.mem_write(DATA_BASE, bytes(self.data))
        self.reads, self.writes = set(), set()
        self.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, self._on_access)

    def _on_access(self, uc, access, address, size, value, user):
        (self.writes if access == UC_MEM_WRITE else self.reads).update(range(address, address + size))

    def initial_byte(self, address):
        if DATA_BASE <= address < DATA_BASE + DATA_SIZE:
            return self.data[address - DATA_BASE]
        if CODE_BASE <= address < CODE_BASE + CODE_SIZE:
            return self.code[address - CODE_BASE]
        raise ValueError(f"access outside mapped memory at {address:#x}")

    def memory_word(self, address, size):
        return int.from_bytes(bytes(self.initial_byte(address + i) for i in range(size)), "little")

    def run(self, encoding, pc, st, branch):
        """Returns (error, after_state, after_pc, bytes_touched, bytes_written)."""
        uc = self.uc
        offset = pc - CODE_BASE
        uc.mem_write(pc, encoding.to_bytes(4, "little"))
        uc.ctl_remove_cache(pc, pc + 4)
        uc.reg_write_batch(list(zip(ALL_REGS, st.values())))
        self.reads.clear()
        self.writes.clear()
        error = None
        try:
            uc.emu_start(pc, STOP_ADDRESS, count=1)
        except UcError as e:
            if not (branch and e.errno == UC_ERR_FETCH_UNMAPPED):
                error = e
        after_pc = uc.reg_read(UC_ARM64_REG_PC)
        values = uc.reg_read_batch(ALL_REGS)
        after = State()
        after.x = list(values[:31])
        after.sp, after.nzcv, after.fpcr, after.fpsr = values[31:35]
        after.v = list(values[35:])
        touched = self.reads | self.writes
        written = {}
        for address in sorted(self.writes):
            written[address] = uc.mem_read(address, 1)[0]
        # Restore the instruction slot and every written byte for the next vector.
        uc.mem_write(pc, bytes(self.code[offset:offset + 4]))
        for address in self.writes:
            uc.mem_write(address, bytes([self.initial_byte(address)]))
        return error, after, after_pc, touched, written


def _float_bits(value, width):
    fmt = {16: "<e", 32: "<f", 64: "<d"}[width]
    try:
        return int.from_bytes(struct.pack(fmt, value), "little")
    except (OverflowError, struct.error):
        return None


def _fp_edges(width):
    """Zeros, infinities, NaNs (quiet, signalling, with payload), denormals, extreme
    normals, exact halves (round-to-nearest ties) and integer-conversion boundaries."""
    exp_bits, man_bits = {16: (5, 10), 32: (8, 23), 64: (11, 52)}[width]
    sign = 1 << (width - 1)
    exp_all = ((1 << exp_bits) - 1) << man_bits
    quiet = 1 << (man_bits - 1)
    patterns = [0, sign, exp_all, exp_all | sign, exp_all | quiet, exp_all | quiet | sign,
                exp_all | quiet | 0x15, exp_all | 1, exp_all | 0x2A | sign, exp_all | (quiet >> 1),
                1, 1 | sign, (1 << man_bits) - 1, ((1 << man_bits) - 1) | sign,
                1 << man_bits, (1 << man_bits) | sign, exp_all - 1, (exp_all - 1) | sign]
    floats = [1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, -0.49999997, 0.75, 1 / 3, 3.0, 2.0 ** 31, 2.0 ** 31 - 1,
              2.0 ** 31 - 0.5, -(2.0 ** 31), -(2.0 ** 31) - 1, -(2.0 ** 31) + 0.5, 2.0 ** 32, 2.0 ** 32 - 1, 2.0 ** 63,
              -(2.0 ** 63), 2.0 ** 64, 2.0 ** 53 + 2, 2.0 ** 52 + 0.5, 2.0 ** 23 + 0.5, 4194304.5, 65504.0,
              65520.0, 2.0 ** -14, 2.0 ** -24, 2.0 ** -126, 2.0 ** -149, 1e10, -1e-10, 255.5, 127.5, -128.5]
    for value in floats:
        bits = _float_bits(value, width)
        if bits is not None:
            patterns.append(bits)
    return sorted(set(patterns))


FP_EDGES = {w: _fp_edges(w) for w in (16, 32, 64)}
INT_EDGES = {}
for _w in (8, 16, 32, 64):
    _m = (1 << _w) - 1
    INT_EDGES[_w] = sorted({0, 1, 2, _m, _m - 1, 1 << (_w - 1), (1 << (_w - 1)) - 1, (1 << (_w - 1)) + 1,
                            0x55 & _m, 0xAA & _m, 0x80 & _m, 0x7F & _m, 0xFF & _m, 0x8000 & _m, 0xFFFF & _m,
                            0x80000000 & _m, 0x7FFFFFFF & _m, 0xFFFFFFFF & _m, 0xFFFFFFFF80000000 & _m,
                            0x100000000 & _m})
DIV_EDGES = [0, 1, M64, 0x8000000000000000, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF80000000, 0x7FFFFFFF, 2, 0xFFFFFFFFFFFFFFFE]


DEST_PATTERNS = [0x5555555555555555, 0xAAAAAAAAAAAAAAAA, 0xFFFFFFFFFFFFFFFF, 0xDEADBEEFCAFEF00D,
                 0x0123456789ABCDEF]


class Values:
    """Random operand values mixed with edge values."""

    def __init__(self, rng):
        self.rng = rng

    def gpr(self, edges=None):
        rng = self.rng
        r = rng.random()
        if edges is not None and r < 0.5:
            return rng.choice(edges)
        if r < 0.3:
            return rng.choice(INT_EDGES[64])
        if r < 0.45:
            return rng.randrange(-40, 41) & M64
        if r < 0.65:
            return rng.getrandbits(32)
        return rng.getrandbits(64)

    def int_lane(self, width):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return rng.choice(INT_EDGES[width])
        if r < 0.45:
            return rng.randrange(-20, 21) & ((1 << width) - 1)
        return rng.getrandbits(width)

    def fp_lane(self, width):
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return rng.choice(FP_EDGES[width])
        if r < 0.8:
            exp_bits, man_bits = {16: (5, 10), 32: (8, 23), 64: (11, 52)}[width]
            bias = (1 << (exp_bits - 1)) - 1
            exponent = bias + rng.randrange(-12, 14 if width == 16 else 40)
            mantissa = rng.getrandbits(man_bits)
            if rng.random() < 0.3:  # few significant bits: exact ties and integers are likely
                mantissa &= ~((1 << (man_bits - rng.randrange(1, 6))) - 1)
            return (rng.getrandbits(1) << (width - 1)) | (exponent << man_bits) | mantissa
        return rng.getrandbits(width)

    def vector(self, width, lanes, scalar):
        lane = self.fp_lane if lanes == "fp" else self.int_lane
        if scalar:
            upper = 0 if self.rng.random() < 0.5 else self.rng.getrandbits(128 - width) << width
            return upper | lane(width)
        value = 0
        for i in range(128 // width):
            value |= lane(width) << (i * width)
        return value

    def shift_vector(self, width):
        value = 0
        for i in range(128 // width):
            amount = self.rng.randrange(-width - 2, width + 3) & 0xFF
            if width > 8 and self.rng.random() < 0.2:
                amount |= self.rng.getrandbits(width - 8) << 8  # only the low byte counts
            value |= amount << (i * width)
        return value

    def table_indices(self):
        return int.from_bytes(bytes(self.rng.randrange(72) if self.rng.random() < 0.8 else self.rng.getrandbits(8)
                                    for _ in range(16)), "little")


def set_x(st, reg, value, sp_at_31=False):
    if reg < 31:
        st.x[reg] = value & M64
    elif sp_at_31:
        st.sp = value & M64


def prepare(cls, F, st, values, machine, pc):
    """Draws the initial state for one encoding: operand registers, flags, FPCR/FPSR."""
    rng = values.rng
    es = cls.element_bits(F)
    base = None
    edges = DIV_EDGES if cls.edges == "div" else None
    for letter, kind in cls.ops:
        reg = F[letter]
        if kind == "xd":
            set_x(st, reg, rng.choice(DEST_PATTERNS) & M64)
        elif kind == "spd":
            set_x(st, reg, rng.choice(DEST_PATTERNS) & M64, sp_at_31=True)
        elif kind == "vd":
            st.v[reg] = rng.choice(DEST_PATTERNS) * ((1 << 64) + 1)
        elif kind == "x":
            set_x(st, reg, values.gpr(edges) & (cls.mask if cls.mask is not None else M64))
        elif kind == "sp":
            set_x(st, reg, values.gpr(edges), sp_at_31=True)
        elif kind == "xz":
            set_x(st, reg, 0 if rng.random() < 0.5 else values.gpr())
        elif kind == "xp":
            set_x(st, reg, values.gpr())
            set_x(st, reg + 1, values.gpr())
        elif kind == "xm":
            if F.p == 1:
                set_x(st, reg, values.gpr())
        elif kind == "i":
            extend = F.get("o", 3)
            offset = rng.randrange(0, 0x1000) if extend == 2 else rng.randrange(-0x1000, 0x1000)
            if extend in (2, 6):
                offset = (offset & 0xFFFFFFFF) | (rng.getrandbits(32) << 32)
            set_x(st, reg, offset)
        elif kind == "c":
            if rng.random() < 0.5:
                target = pc + rng.randrange(-0x4000, 0x4000) * 4
            else:
                target = (rng.randrange(1 << 32, 1 << 47)) & ~3  # unmapped: never translated
            set_x(st, reg, target)
        elif kind == "b":
            base = reg
        elif kind == "v":
            st.v[reg] = values.vector(es, cls.lanes, cls.scalar)
        elif kind == "vs":
            st.v[reg] = values.shift_vector(es)
        elif kind == "vt":
            st.v[reg] = values.table_indices()
        elif kind == "vl":
            for k in range(cls.nregs(F)):
                st.v[(reg + k) % 32] = values.vector(es, cls.lanes, False)
        elif kind == "vm":
            st.v[F.m if F.z == 1 else (F.M << 4) | F.m] = values.vector(es, cls.lanes, False)
        elif kind == "vmf":
            st.v[(F.M << 4) | F.m] = values.vector(es, cls.lanes, False)
        else:
            raise ValueError(f"{cls.name}: unknown operand kind {kind}")
    if base is not None:
        align = cls.align(F) if callable(cls.align) else cls.align
        if base == 31:
            align = max(align, 16)
        address = (BASE_LO + rng.randrange(BASE_SPAN)) & ~(align - 1)
        set_x(st, base, address, sp_at_31=True)
        compare_regs = () if not cls.match else (F.s, F.s + 1) if cls.match == "casp" else (F.s,)
        if cls.match and base not in compare_regs and rng.random() < 0.5:
            size = 1 << F.k if cls.match == "cas" else 4 << F.k
            current = machine.memory_word(address, size)
            s = F.s
            if cls.match == "cas":
                set_x(st, s, current | (st.x[s] & ~((1 << (8 * size)) - 1) if s < 31 and size < 8 else current))
            else:
                set_x(st, s, current)
                set_x(st, s + 1, machine.memory_word(address + size, size))
    if cls.nzcv:
        st.nzcv = rng.getrandbits(4) << 28
    if cls.fp:
        st.fpcr = (rng.getrandbits(2) << 22) | (rng.getrandbits(1) << 24) | (rng.getrandbits(1) << 25)
        if cls.ahp:
            st.fpcr |= rng.getrandbits(1) << 26
    if cls.fpsr == "always" or (cls.fpsr and rng.random() < 0.125):
        st.fpsr = rng.getrandbits(32) & 0x0800009F



def class_seed(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def generate_class(machine, cls, count, stats):
    rng = random.Random(class_seed(cls.name))
    values = Values(rng)
    lines = [f"class {cls.name}" + ("" if not cls.ignore else " ignore=" + ",".join(sorted(cls.ignore)))]
    made = dropped = faulted = attempts = 0
    pcs_in_window = (PC_HI - PC_LO) // 4
    while made < count:
        attempts += 1
        if attempts > count * 4 + 200:
            break
        fields = cls.draw(rng)
        encoding = cls.encode(fields)
        pc = PC_LO + rng.randrange(pcs_in_window) * 4
        st = State()
        prepare(cls, fields, st, values, machine, pc)
        error, after, after_pc, touched, written = machine.run(encoding, pc, st, cls.branch)
        if error is not None:
            if error.errno in (UC_ERR_INSN_INVALID, UC_ERR_EXCEPTION):
                dropped += 1
            else:
                faulted += 1
            continue
        before_items = state_items(st)
        before_items += memory_items({a: machine.initial_byte(a) for a in touched})
        after_items = state_items(after, st) + [f"pc={after_pc:x}"] + memory_items(written)
        lines.append(f"{encoding:08x} {pc:x} " + " ".join(before_items) + " | " + " ".join(after_items))
        made += 1
    stats.append((cls.group, cls.name, made, dropped, faulted))
    return lines


def write_group(path, lines):
    raw = ("\n".join(lines) + "\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as f:
        f.write(raw)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    return len(raw), len(buffer.getvalue())


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "Tests/KilnA64Tests/Vectors"))
    parser.add_argument("--only", help="generate only this group")
    parser.add_argument("--class", dest="cls", help="print vectors of one class to stdout")
    parser.add_argument("--count", type=int, help="override the per-class vector count")
    parser.add_argument("--disasm", action="store_true", help="print a disassembly sample per class")
    args = parser.parse_args()

    machine = Machine()
    stats = []
    if args.cls or args.disasm:
        import capstone
        md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
        for cls in table.CLASSES:
            if args.cls and cls.name != args.cls:
                continue
            lines = generate_class(machine, cls, args.count or (8 if args.disasm else cls.count), stats)
            if args.cls:
                print("\n".join(lines))
            mnemonics = []
            for line in lines[1:4]:
                enc = int(line.split()[0], 16)
                dis = list(md.disasm(enc.to_bytes(4, "little"), 0))
                mnemonics.append(f"{dis[0].mnemonic} {dis[0].op_str}" if dis else f"?{enc:08x}")
            g, n, made, dropped, faulted = stats[-1]
            print(f"{n:24} made={made} drop={dropped} fault={faulted} | " + " ; ".join(mnemonics), file=sys.stderr)
        return

    os.makedirs(args.out, exist_ok=True)
    for group in table.GROUPS:
        if args.only and group != args.only:
            continue
        lines = [f"# A64 vectors, group {group}: generated by scripts/gen-a64-vectors.py with unicorn; "
                 "format in docs/VECTORS.md"]
        for cls in table.CLASSES:
            if cls.group == group:
                lines += generate_class(machine, cls, args.count or cls.count, stats)
        raw, packed = write_group(os.path.join(args.out, f"{group}.vec.gz"), lines)
        group_stats = [s for s in stats if s[0] == group]
        total = sum(s[2] for s in group_stats)
        print(f"{group}: {len(group_stats)} classes, {total} vectors, {raw} bytes raw, {packed} gzip", file=sys.stderr)
    for g, n, made, dropped, faulted in stats:
        flag = "  <-- more than half dropped" if dropped + faulted > made else ""
        if dropped or faulted or made == 0:
            print(f"  {g:8} {n:24} made={made} dropped={dropped} faulted={faulted}{flag}", file=sys.stderr)
    print(f"total: {len(stats)} classes, {sum(s[2] for s in stats)} vectors, "
          f"{sum(s[3] for s in stats)} dropped, {sum(s[4] for s in stats)} faulted", file=sys.stderr)


if __name__ == "__main__":
    main()
