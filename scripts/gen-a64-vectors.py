#!/usr/bin/env python3
"""Generate per-instruction A64 oracle vectors with unicorn (QEMU's CPU model).

For every encoding class in scripts/a64_classes.py this draws random instruction words
inside the class, random and edge-valued operands, runs each word for exactly one
instruction under unicorn (CPU model "max") and records the state before and after in
the text format of docs/VECTORS.md, one gzip file per group under
Tests/KilnA64Tests/Vectors/. Every vector that ends at pc+4 is run again under qemu-user
(qemu-aarch64, a newer QEMU) and kept only if both agree.

Deterministic: every class has its own seed derived from its name, so the output is
byte-identical from run to run and adding a class does not disturb the others.

Usage: scripts/gen-a64-vectors.py [--out DIR] [--only GROUP] [--class NAME] [--count N]
                                  [--disasm] [--no-qemu]
"""

import argparse
import collections
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

# Guest memory layout. The code region holds random words (literal loads read them) and
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
DIV_EDGES = [0, 1, 2, M64, M64 - 1, 0x8000000000000000, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF80000000, 0x7FFFFFFF]


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


class Record:
    """One executed vector: the initial state, every touched byte, and unicorn's result."""

    __slots__ = ("encoding", "pc", "before", "memory", "after", "after_pc", "written")

    def __init__(self, encoding, pc, before, memory, after, after_pc, written):
        self.encoding, self.pc, self.before, self.memory = encoding, pc, before, memory
        self.after, self.after_pc, self.written = after, after_pc, written


def generate_class(machine, cls, count, stat):
    rng = random.Random(class_seed(cls.name))
    values = Values(rng)
    records = []
    attempts = 0
    pcs_in_window = (PC_HI - PC_LO) // 4
    while len(records) < count:
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
            stat["dropped" if error.errno in (UC_ERR_INSN_INVALID, UC_ERR_EXCEPTION) else "faulted"] += 1
            continue
        memory = {a: machine.initial_byte(a) for a in sorted(touched)}
        records.append(Record(encoding, pc, st, memory, after, after_pc, written))
    return records


def format_class(cls, records):
    lines = [f"class {cls.name}" + ("" if not cls.ignore else " ignore=" + ",".join(sorted(cls.ignore)))]
    for r in records:
        before_items = state_items(r.before) + memory_items(r.memory)
        after_items = state_items(r.after, r.before) + [f"pc={r.after_pc:x}"] + memory_items(r.written)
        lines.append(f"{r.encoding:08x} {r.pc:x} " + " ".join(before_items) + " | " + " ".join(after_items))
    return lines


# A second oracle: qemu-user (Debian's qemu-aarch64, a much newer QEMU than unicorn's) runs
# every non-branch vector natively as an aarch64 Linux process. A static harness maps the
# data and code regions at the same addresses, loads the before-state, jumps to the
# instruction, and a stub at pc+4 stores the state back.
HARNESS_ASM = r"""
    .text
    .global enter_vector, resume_vector
enter_vector:                       // (state, trampoline): save the C context, enter the trampoline
    adrp x9, save_area
    add x9, x9, :lo12:save_area
    stp x19, x20, [x9, #0]
    stp x21, x22, [x9, #16]
    stp x23, x24, [x9, #32]
    stp x25, x26, [x9, #48]
    stp x27, x28, [x9, #64]
    stp x29, x30, [x9, #80]
    mov x10, sp
    str x10, [x9, #96]
    mrs x10, tpidr_el0
    str x10, [x9, #104]
    stp d8, d9, [x9, #112]
    stp d10, d11, [x9, #128]
    stp d12, d13, [x9, #144]
    stp d14, d15, [x9, #160]
    mrs x10, fpcr
    str x10, [x9, #176]
    mov x30, x0
    br x1
resume_vector:                      // back from the exit stub: restore the C context
    adrp x9, save_area
    add x9, x9, :lo12:save_area
    ldp x19, x20, [x9, #0]
    ldp x21, x22, [x9, #16]
    ldp x23, x24, [x9, #32]
    ldp x25, x26, [x9, #48]
    ldp x27, x28, [x9, #64]
    ldp x29, x30, [x9, #80]
    ldr x10, [x9, #96]
    mov sp, x10
    ldr x10, [x9, #104]
    msr tpidr_el0, x10
    ldp d8, d9, [x9, #112]
    ldp d10, d11, [x9, #128]
    ldp d12, d13, [x9, #144]
    ldp d14, d15, [x9, #160]
    ldr x10, [x9, #176]
    msr fpcr, x10
    ret
    .global tramp_start, tramp_branch, tramp_end
tramp_start:                        // copied next to the vector's pc; x30 = state block
    ldr x1, [x30, #256]
    msr nzcv, x1
    ldr x1, [x30, #264]
    msr fpcr, x1
    ldr x1, [x30, #272]
    msr fpsr, x1
    add x2, x30, #288
""" + "".join(f"    ldp q{r}, q{r + 1}, [x2], #32\n" for r in range(0, 32, 2)) + r"""
    ldr x1, [x30, #248]
    mov sp, x1
""" + "".join(f"    ldp x{r}, x{r + 1}, [x30, #{8 * r}]\n" for r in range(0, 30, 2)) + r"""
    ldr x30, [x30, #240]
tramp_branch:
    b .
tramp_end:
    .global exit_start, exit_out, exit_resume, exit_end
exit_start:                         // reached from pc+4: store the whole state
    msr tpidr_el0, x0
    ldr x0, exit_out
""" + "".join(f"    stp x{r}, x{r + 1}, [x0, #{8 * r}]\n" for r in range(1, 31, 2)) + r"""
    mov x1, sp
    str x1, [x0, #248]
    mrs x1, nzcv
    str x1, [x0, #256]
    mrs x1, fpcr
    str x1, [x0, #264]
    mrs x1, fpsr
    str x1, [x0, #272]
    add x2, x0, #288
""" + "".join(f"    stp q{r}, q{r + 1}, [x2], #32\n" for r in range(0, 32, 2)) + r"""
    mrs x1, tpidr_el0
    str x1, [x0, #0]
    ldr x1, exit_resume
    br x1
    .balign 8
exit_out: .quad 0
exit_resume: .quad 0
exit_end:
    .bss
    .balign 16
save_area: .space 192
"""

HARNESS_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
extern void enter_vector(void *state, void *trampoline);
extern char resume_vector[], tramp_start[], tramp_branch[], tramp_end[];
extern char exit_start[], exit_out[], exit_resume[], exit_end[];
struct state { uint64_t s[36]; uint8_t v[512]; };
static struct state in_state, out_state;
static uint64_t addresses[1 << 16];
static uint32_t branch(uint64_t from, uint64_t to) { return 0x14000000u | (uint32_t)(((to - from) >> 2) & 0x3ffffff); }
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    if (!in || !out) return 2;
    int prot = PROT_READ | PROT_WRITE | PROT_EXEC, flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    if (mmap((void *)DATA_BASE, DATA_SIZE, prot, flags, -1, 0) == MAP_FAILED) return 3;
    if (mmap((void *)CODE_BASE, CODE_SIZE, prot, flags, -1, 0) == MAP_FAILED) return 3;
    char *trampoline = (char *)TRAMPOLINE, *exit_stub = (char *)EXIT_STUB;
    memcpy(trampoline, tramp_start, tramp_end - tramp_start);
    memcpy(exit_stub, exit_start, exit_end - exit_start);
    *(uint64_t *)(exit_stub + (exit_out - exit_start)) = (uint64_t)&out_state;
    *(uint64_t *)(exit_stub + (exit_resume - exit_start)) = (uint64_t)resume_vector;
    uint32_t *jump = (uint32_t *)(trampoline + (tramp_branch - tramp_start));
    struct { uint32_t encoding, bytes; uint64_t pc; } header;
    while (fread(&header, sizeof header, 1, in) == 1) {
        if (fread(&in_state, sizeof in_state, 1, in) != 1 || header.bytes > (1 << 16)) return 4;
        for (uint32_t i = 0; i < header.bytes; i++) {
            uint64_t item[2];
            if (fread(item, sizeof item, 1, in) != 1) return 4;
            addresses[i] = item[0];
            *(uint8_t *)item[0] = (uint8_t)item[1];
        }
        uint32_t *code = (uint32_t *)header.pc;
        code[0] = header.encoding;
        code[1] = branch(header.pc + 4, (uint64_t)exit_stub);
        *jump = branch((uint64_t)jump, header.pc);
        __builtin___clear_cache((char *)code, (char *)(code + 2));
        __builtin___clear_cache((char *)jump, (char *)(jump + 1));
        enter_vector(&in_state, trampoline);
        fwrite(&out_state, sizeof out_state, 1, out);
        for (uint32_t i = 0; i < header.bytes; i++) fputc(*(uint8_t *)addresses[i], out);
    }
    return fclose(out) == 0 ? 0 : 5;
}
"""

STATE_NAMES = [f"x{i}" for i in range(31)] + ["sp", "nzcv", "fpcr", "fpsr"]
TRAMPOLINE, EXIT_STUB = 0x10380000, 0x10390000  # inside the code region, beyond every literal


class QemuUser:
    """Builds the harness once and runs batches of records under qemu-aarch64."""

    def __init__(self, workdir):
        import subprocess
        self.subprocess = subprocess
        self.workdir = workdir
        with open(os.path.join(workdir, "harness.S"), "w") as f:
            f.write(HARNESS_ASM)
        with open(os.path.join(workdir, "harness.c"), "w") as f:
            f.write(HARNESS_C)
        defines = [f"-D{k}={v:#x}" for k, v in (("DATA_BASE", DATA_BASE), ("DATA_SIZE", DATA_SIZE),
                                                ("CODE_BASE", CODE_BASE), ("CODE_SIZE", CODE_SIZE),
                                                ("TRAMPOLINE", TRAMPOLINE), ("EXIT_STUB", EXIT_STUB))]
        self.binary = os.path.join(workdir, "harness")
        subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-O1", *defines, "-o", self.binary,
                        os.path.join(workdir, "harness.c"), os.path.join(workdir, "harness.S")], check=True)
        self.version = subprocess.run(["qemu-aarch64", "--version"], capture_output=True, text=True,
                                      check=True).stdout.splitlines()[0]

    @staticmethod
    def checkable(record):
        return record.after_pc == record.pc + 4 and not any(record.pc <= a < record.pc + 8 for a in record.memory)

    def run(self, records):
        """Returns, per record, (State, {address: final byte}) or None when it cannot be checked."""
        checked = [r for r in records if self.checkable(r)]
        payload = bytearray()
        for r in checked:
            st = r.before
            payload += struct.pack("<IIQ", r.encoding, len(r.memory), r.pc)
            payload += struct.pack("<36Q", *(st.x + [st.sp, st.nzcv, st.fpcr, st.fpsr, 0]))
            payload += b"".join(v.to_bytes(16, "little") for v in st.v)
            for address, byte in r.memory.items():
                payload += struct.pack("<QQ", address, byte)
        in_path, out_path = os.path.join(self.workdir, "in.bin"), os.path.join(self.workdir, "out.bin")
        with open(in_path, "wb") as f:
            f.write(payload)
        self.subprocess.run(["qemu-aarch64", self.binary, in_path, out_path], check=True)
        with open(out_path, "rb") as f:
            data = f.read()
        results, offset = {}, 0
        for r in checked:
            values = struct.unpack_from("<36Q", data, offset)
            st = State()
            st.x = list(values[:31])
            st.sp, st.nzcv, st.fpcr = values[31:34]
            st.fpsr = values[34] & 0x0800009F  # the cumulative flags and QC; 31:28 are AArch32's
            st.v = [int.from_bytes(data[offset + 288 + 16 * i:offset + 304 + 16 * i], "little") for i in range(32)]
            offset += 800
            results[id(r)] = (st, dict(zip(r.memory, data[offset:offset + len(r.memory)])))
            offset += len(r.memory)
        return [results.get(id(r)) for r in records]


def crosscheck(qemu, cls, records, stat):
    """Keeps the vectors both oracles agree on. For a class whose unicorn results are known
    wrong (oracle="qemu-user"), qemu-user's final state replaces unicorn's instead."""
    kept = []
    for r, result in zip(records, qemu.run(records)):
        if result is None:
            if cls.oracle == "qemu-user":
                stat["disagreed"] += 1
                continue
            stat["unchecked"] += 1
            kept.append(r)
            continue
        st, memory = result
        agrees = st.values() == r.after.values() and all(memory[a] == r.written.get(a, r.memory[a]) for a in memory)
        if cls.oracle == "qemu-user":
            stat["replaced"] += not agrees
            r.after = st
            r.written = {a: memory[a] for a in r.written}
            kept.append(r)
        elif agrees:
            kept.append(r)
        else:
            stat["disagreed"] += 1
    return kept


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
    parser.add_argument("--no-qemu", action="store_true", help="skip the qemu-user cross-check")
    args = parser.parse_args()

    machine = Machine()
    stats = {}
    selected = [c for c in table.CLASSES if (not args.cls or c.name == args.cls)
                and (not args.only or c.group == args.only)]
    qemu = None
    if not args.disasm and not args.no_qemu:
        import tempfile
        workdir = tempfile.mkdtemp(prefix="kiln-vectors-")
        qemu = QemuUser(workdir)
        print(f"cross-checking with {qemu.version}", file=sys.stderr)
    output = {}
    for cls in selected:
        stat = stats[cls.name] = collections.Counter()
        records = generate_class(machine, cls, args.count or (8 if args.disasm else cls.count), stat)
        stat["generated"] = len(records)
        if qemu is not None:
            records = crosscheck(qemu, cls, records, stat)
        stat["made"] = len(records)
        output[cls.name] = format_class(cls, records)
        if args.disasm:
            import capstone
            md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
            sample = []
            for r in records[:3]:
                dis = list(md.disasm(r.encoding.to_bytes(4, "little"), 0))
                sample.append(f"{dis[0].mnemonic} {dis[0].op_str}" if dis else f"?{r.encoding:08x}")
            print(f"{cls.name:24} made={len(records)} drop={stat['dropped']} fault={stat['faulted']} | "
                  + " ; ".join(sample), file=sys.stderr)
    if args.disasm:
        return
    if args.cls:
        print("\n".join(output[args.cls]))
        return

    os.makedirs(args.out, exist_ok=True)
    for group in table.GROUPS:
        if args.only and group != args.only:
            continue
        lines = [f"# A64 vectors, group {group}: generated by scripts/gen-a64-vectors.py with unicorn, "
                 "cross-checked with qemu-user; format in docs/VECTORS.md"]
        group_classes = [c for c in selected if c.group == group]
        for cls in group_classes:
            lines += output[cls.name]
        raw, packed = write_group(os.path.join(args.out, f"{group}.vec.gz"), lines)
        total = sum(stats[c.name]["made"] for c in group_classes)
        print(f"{group}: {len(group_classes)} classes, {total} vectors, {raw} bytes raw, {packed} gzip",
              file=sys.stderr)
    for cls in selected:
        stat = stats[cls.name]
        notes = {k: stat[k] for k in ("dropped", "faulted", "disagreed", "replaced", "unchecked") if stat[k]}
        if notes or stat["made"] < cls.count:
            flag = "  <-- more than half dropped" if stat["dropped"] + stat["faulted"] > stat["generated"] else ""
            print(f"  {cls.group:8} {cls.name:24} made={stat['made']} "
                  + " ".join(f"{k}={v}" for k, v in notes.items()) + flag, file=sys.stderr)
    totals = collections.Counter()
    for stat in stats.values():
        totals.update(stat)
    print(f"total: {len(selected)} classes, {totals['made']} vectors; dropped {totals['dropped']}, "
          f"faulted {totals['faulted']}, disagreeing with qemu-user {totals['disagreed']}, "
          f"taken from qemu-user {totals['replaced']}, not cross-checked {totals['unchecked']}", file=sys.stderr)


if __name__ == "__main__":
    main()
