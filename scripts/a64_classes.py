"""The encoding-class table for scripts/gen-a64-vectors.py: one line per encoding class.

A line is `C(group, name, pattern, ops, **options)`:

- pattern: the 32 instruction bits, most significant first (spaces ignored). `0`/`1` are
  fixed bits; a letter is a field. Bits of one letter form one field even when they are
  not adjacent, concatenated in pattern order (most significant first).
- ops: which fields name registers and how their initial values are drawn:
    x   general register, 31 = XZR            sp  general register, 31 = SP
    xd, spd, vd  a destination the instruction does not read: starts as one of a few fixed
        non-zero patterns (random bits there would only bloat the data)
    xz  like x, but zero half of the time     xp  register pair (Rs/Rt of CASP)
    b   memory base, 31 = SP; points into the data region (aligned to `align`)
    i   register-offset index: a small offset, with random upper bits for UXTW/SXTW
    xm  post-index offset register: set only when field p is 1 and the field is not 31
    c   branch target register (4-aligned)
    v   vector register; lanes drawn per `es` (element bits) and `lanes` ("int" or "fp");
        `scalar=True` draws only the low element (the rest is random or zero)
    vs  vector of small per-lane shift amounts   vt  vector of TBL/TBX byte indices
    vl  a list of consecutive vector registers (count from `nregs(F)`, wrapping at 31)
    vm  element-index Rm (M:m, or only m, v0-v15, when field z is 1: 16-bit elements)
    vmf element-index Rm of the FP forms (always M:m)
- options: `var="k:0=STRB,1=LDRB;..."` expands the line into one class per listed value
  of each named field, the value's label substituted for `{k}` in the name;
  `where=F -> bool` rejects encodings (reserved, UNPREDICTABLE or CONSTRAINED UNPREDICTABLE
  ones); `vals={letter: [values]}` restricts a field; `es`, `lanes`, `scalar`, `nregs`,
  `align` (bytes, or F -> bytes) as above; `nzcv` (random initial flags; the default in the
  int-dp and fp groups); `fp` (random FPCR rounding mode, FZ and DN); `ahp` (also random
  FPCR.AHP); `fpsr` (sometimes, or with "always" always, a random cumulative FPSR);
  `edges="div"` (divide edge values); `match="cas"/"casp"` (half of the time the compare
  value equals memory); `mask` (AND-mask for the values of x operands: MSR writes only bits
  the oracle models); `oracle="qemu-user"` (unicorn is known wrong for the class: the final
  state comes from the qemu-user cross-check); `ignore` (fields the consumer must not
  compare, documented in docs/VECTORS.md); `count` (vectors to generate).
"""

import re


class Fields(dict):
    __getattr__ = dict.__getitem__


class EncodingClass:
    def __init__(self, group, name, pattern, ops, options):
        bits = pattern.replace(" ", "")
        if len(bits) != 32:
            raise ValueError(f"{name}: pattern has {len(bits)} bits")
        self.group, self.name = group, name
        self.fixed_mask = self.fixed_value = 0
        self.fields = {}  # letter -> list of bit positions, most significant first
        for i, ch in enumerate(bits):
            position = 31 - i
            if ch in "01":
                self.fixed_mask |= 1 << position
                self.fixed_value |= int(ch) << position
            else:
                self.fields.setdefault(ch, []).append(position)
        self.ops = []
        for token in ops.split():
            letter, kind = token.split("=")
            if letter not in self.fields:
                raise ValueError(f"{name}: operand field {letter} not in pattern")
            self.ops.append((letter, kind))
        self.where = options.get("where")
        self.vals = dict(options.get("vals", {}))
        self.fixed = dict(options.get("fixed", {}))
        self.es = options.get("es", 64)
        self.lanes = options.get("lanes", "int")
        self.scalar = options.get("scalar", False)
        self.nregs = options.get("nregs")
        self.align = options.get("align", 1)
        # Random initial flags wherever they are cheap to carry, so that a stray flag write shows.
        self.nzcv = options.get("nzcv", group in ("int-dp", "fp"))
        self.fp = options.get("fp", False)
        self.ahp = options.get("ahp", False)
        self.fpsr = options.get("fpsr", group in ("fp", "simd"))
        self.edges = options.get("edges")
        self.match = options.get("match")
        self.ignore = set(options.get("ignore", ()))
        self.mask = options.get("mask")
        self.oracle = options.get("oracle", "unicorn")
        self.count = options.get("count", DEFAULT_COUNT[group])
        self.branch = group == "branch"

    def draw(self, rng):
        for _ in range(10000):
            f = Fields()
            for letter, positions in self.fields.items():
                if letter in self.fixed:
                    f[letter] = self.fixed[letter]
                elif letter in self.vals:
                    f[letter] = rng.choice(self.vals[letter])
                else:
                    f[letter] = rng.getrandbits(len(positions))
            if self.where is None or self.where(f):
                return f
        raise RuntimeError(f"{self.name}: no encoding satisfies the constraints")

    def encode(self, f):
        word = self.fixed_value
        for letter, positions in self.fields.items():
            value = f[letter]
            for k, position in enumerate(positions):
                word |= ((value >> (len(positions) - 1 - k)) & 1) << position
        return word

    def element_bits(self, f):
        return self.es(f) if callable(self.es) else self.es


DEFAULT_COUNT = {"int-dp": 300, "ldst": 90, "atomics": 150, "branch": 400, "fp": 150, "simd": 110}
GROUPS = ["int-dp", "ldst", "atomics", "branch", "fp", "simd"]
CLASSES = []


def C(group, name, pattern, ops="", var=None, **options):
    """Adds one table line, expanded over the values listed in `var`."""
    expansions = [({}, name)]
    if var:
        for spec in var.split(";"):
            letter, choices = spec.split(":")
            new = []
            for fixed, nm in expansions:
                for choice in choices.split(","):
                    value, label = choice.split("=")
                    new.append(({**fixed, letter: int(value)}, nm.replace("{" + letter + "}", label)))
            expansions = new
    for fixed, nm in expansions:
        if re.search(r"\{.\}", nm):
            raise ValueError(f"{nm}: unexpanded name")
        CLASSES.append(EncodingClass(group, nm, pattern, ops, {**options, "fixed": fixed}))


def bitmask_ok(sf, n, immr, imms):
    """DecodeBitMasks succeeds (logical immediates)."""
    if sf == 0 and n == 1:
        return False
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0:
        return False
    length = combined.bit_length() - 1
    if length < 1:
        return False
    levels = (1 << length) - 1
    return (imms & levels) != levels


SF = "f:0=32,1=64"
ALL_ARR = lambda F: not (F.z == 3 and F.Q == 0)  # noqa: E731
NO_2D = lambda F: F.z != 3  # noqa: E731
ES_Z = lambda F: 8 << F.z  # noqa: E731
FP_T = "t:0=s,1=d"
FP_TH = "t:0=s,1=d,3=h"
ES_T = lambda F: {0: 32, 1: 64, 3: 16}[F.t]  # noqa: E731
ES_FZ = lambda F: 32 << F.z  # noqa: E731
FP_ARR = lambda F: not (F.Q == 0 and F.z == 1)  # noqa: E731
ES_IMMH = lambda F: 8 << (F.h.bit_length() - 1)  # noqa: E731

# ---------------------------------------------------------------- integer data processing
I = "int-dp"
C(I, "ADD_imm_{f}",   "f0010001 0h iiiiiiiiiiii nnnnn ddddd", "d=spd n=sp", var=SF)
C(I, "ADDS_imm_{f}",  "f0110001 0h iiiiiiiiiiii nnnnn ddddd", "d=xd n=sp", var=SF, nzcv=True)
C(I, "SUB_imm_{f}",   "f1010001 0h iiiiiiiiiiii nnnnn ddddd", "d=spd n=sp", var=SF)
C(I, "SUBS_imm_{f}",  "f1110001 0h iiiiiiiiiiii nnnnn ddddd", "d=xd n=sp", var=SF, nzcv=True)
SHIFTED = lambda F: F.h != 3 and (F.f == 1 or F.i < 32)  # noqa: E731
C(I, "ADD_shift_{f}",  "f0001011 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=SHIFTED)
C(I, "ADDS_shift_{f}", "f0101011 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=SHIFTED, nzcv=True)
C(I, "SUB_shift_{f}",  "f1001011 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=SHIFTED)
C(I, "SUBS_shift_{f}", "f1101011 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=SHIFTED, nzcv=True)
EXTENDED = lambda F: F.i <= 4  # noqa: E731
C(I, "ADD_ext_{f}",   "f0001011 001 mmmmm ooo iii nnnnn ddddd", "d=spd n=sp m=x", var=SF, where=EXTENDED)
C(I, "ADDS_ext_{f}",  "f0101011 001 mmmmm ooo iii nnnnn ddddd", "d=xd n=sp m=x", var=SF, where=EXTENDED, nzcv=True)
C(I, "SUB_ext_{f}",   "f1001011 001 mmmmm ooo iii nnnnn ddddd", "d=spd n=sp m=x", var=SF, where=EXTENDED)
C(I, "SUBS_ext_{f}",  "f1101011 001 mmmmm ooo iii nnnnn ddddd", "d=xd n=sp m=x", var=SF, where=EXTENDED, nzcv=True)
C(I, "ADC_{f}",       "f0011010 000 mmmmm 000000 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "ADCS_{f}",      "f0111010 000 mmmmm 000000 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "SBC_{f}",       "f1011010 000 mmmmm 000000 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "SBCS_{f}",      "f1111010 000 mmmmm 000000 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
LOGSHIFT = lambda F: F.f == 1 or F.i < 32  # noqa: E731
C(I, "AND_shift_{f}",  "f0001010 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "BIC_shift_{f}",  "f0001010 hh1 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "ORR_shift_{f}",  "f0101010 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "ORN_shift_{f}",  "f0101010 hh1 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "EOR_shift_{f}",  "f1001010 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "EON_shift_{f}",  "f1001010 hh1 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT)
C(I, "ANDS_shift_{f}", "f1101010 hh0 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT, nzcv=True)
C(I, "BICS_shift_{f}", "f1101010 hh1 mmmmm iiiiii nnnnn ddddd", "d=xd n=x m=x", var=SF, where=LOGSHIFT, nzcv=True)
BITMASK = lambda F: bitmask_ok(F.f, F.N, F.r, F.s)  # noqa: E731
C(I, "AND_imm_{f}",   "f00100100 N rrrrrr ssssss nnnnn ddddd", "d=spd n=x", var=SF, where=BITMASK)
C(I, "ORR_imm_{f}",   "f01100100 N rrrrrr ssssss nnnnn ddddd", "d=spd n=x", var=SF, where=BITMASK)
C(I, "EOR_imm_{f}",   "f10100100 N rrrrrr ssssss nnnnn ddddd", "d=spd n=x", var=SF, where=BITMASK)
C(I, "ANDS_imm_{f}",  "f11100100 N rrrrrr ssssss nnnnn ddddd", "d=xd n=x", var=SF, where=BITMASK, nzcv=True)
WIDE = lambda F: F.f == 1 or F.h < 2  # noqa: E731
C(I, "MOVN_{f}",      "f00100101 hh iiiiiiiiiiiiiiii ddddd", "d=xd", var=SF, where=WIDE)
C(I, "MOVZ_{f}",      "f10100101 hh iiiiiiiiiiiiiiii ddddd", "d=xd", var=SF, where=WIDE)
C(I, "MOVK_{f}",      "f11100101 hh iiiiiiiiiiiiiiii ddddd", "d=x", var=SF, where=WIDE)
BITFIELD = lambda F: F.N == F.f and (F.f == 1 or (F.r < 32 and F.s < 32))  # noqa: E731
C(I, "SBFM_{f}",      "f00100110 N rrrrrr ssssss nnnnn ddddd", "d=xd n=x", var=SF, where=BITFIELD)
C(I, "BFM_{f}",       "f01100110 N rrrrrr ssssss nnnnn ddddd", "d=x n=x", var=SF, where=BITFIELD)
C(I, "UBFM_{f}",      "f10100110 N rrrrrr ssssss nnnnn ddddd", "d=xd n=x", var=SF, where=BITFIELD)
C(I, "EXTR_{f}",      "f00100111 N0 mmmmm ssssss nnnnn ddddd", "d=xd n=x m=x", var=SF,
  where=lambda F: F.N == F.f and (F.f == 1 or F.s < 32))
C(I, "CCMN_reg_{f}",  "f0111010010 mmmmm cccc 00 nnnnn 0 kkkk", "n=x m=x", var=SF, nzcv=True)
C(I, "CCMP_reg_{f}",  "f1111010010 mmmmm cccc 00 nnnnn 0 kkkk", "n=x m=x", var=SF, nzcv=True)
C(I, "CCMN_imm_{f}",  "f0111010010 iiiii cccc 10 nnnnn 0 kkkk", "n=x", var=SF, nzcv=True)
C(I, "CCMP_imm_{f}",  "f1111010010 iiiii cccc 10 nnnnn 0 kkkk", "n=x", var=SF, nzcv=True)
C(I, "CSEL_{f}",      "f0011010100 mmmmm cccc 00 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "CSINC_{f}",     "f0011010100 mmmmm cccc 01 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "CSINV_{f}",     "f1011010100 mmmmm cccc 00 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "CSNEG_{f}",     "f1011010100 mmmmm cccc 01 nnnnn ddddd", "d=xd n=x m=x", var=SF, nzcv=True)
C(I, "MADD_{f}",      "f0011011000 mmmmm 0 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x", var=SF)
C(I, "MSUB_{f}",      "f0011011000 mmmmm 1 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x", var=SF)
C(I, "SMADDL",        "10011011001 mmmmm 0 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x")
C(I, "SMSUBL",        "10011011001 mmmmm 1 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x")
C(I, "UMADDL",        "10011011101 mmmmm 0 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x")
C(I, "UMSUBL",        "10011011101 mmmmm 1 aaaaa nnnnn ddddd", "d=xd n=x m=x a=x")
C(I, "SMULH",         "10011011010 mmmmm 0 11111 nnnnn ddddd", "d=xd n=x m=x")
C(I, "UMULH",         "10011011110 mmmmm 0 11111 nnnnn ddddd", "d=xd n=x m=x")
C(I, "UDIV_{f}",      "f0011010110 mmmmm 000010 nnnnn ddddd", "d=xd n=x m=x", var=SF, edges="div")
C(I, "SDIV_{f}",      "f0011010110 mmmmm 000011 nnnnn ddddd", "d=xd n=x m=x", var=SF, edges="div")
C(I, "LSLV_{f}",      "f0011010110 mmmmm 001000 nnnnn ddddd", "d=xd n=x m=x", var=SF)
C(I, "LSRV_{f}",      "f0011010110 mmmmm 001001 nnnnn ddddd", "d=xd n=x m=x", var=SF)
C(I, "ASRV_{f}",      "f0011010110 mmmmm 001010 nnnnn ddddd", "d=xd n=x m=x", var=SF)
C(I, "RORV_{f}",      "f0011010110 mmmmm 001011 nnnnn ddddd", "d=xd n=x m=x", var=SF)
C(I, "CRC32{z}",      "00011010110 mmmmm 0100zz nnnnn ddddd", "d=xd n=x m=x", var="z:0=B,1=H,2=W")
C(I, "CRC32X",        "10011010110 mmmmm 010011 nnnnn ddddd", "d=xd n=x m=x")
C(I, "CRC32C{z}",     "00011010110 mmmmm 0101zz nnnnn ddddd", "d=xd n=x m=x", var="z:0=B,1=H,2=W")
C(I, "CRC32CX",       "10011010110 mmmmm 010111 nnnnn ddddd", "d=xd n=x m=x")
C(I, "RBIT_{f}",      "f101101011000000000000 nnnnn ddddd", "d=xd n=x", var=SF)
C(I, "REV16_{f}",     "f101101011000000000001 nnnnn ddddd", "d=xd n=x", var=SF)
C(I, "REV_32",        "0101101011000000000010 nnnnn ddddd", "d=xd n=x")
C(I, "REV32_64",      "1101101011000000000010 nnnnn ddddd", "d=xd n=x")
C(I, "REV_64",        "1101101011000000000011 nnnnn ddddd", "d=xd n=x")
C(I, "CLZ_{f}",       "f101101011000000000100 nnnnn ddddd", "d=xd n=x", var=SF)
C(I, "CLS_{f}",       "f101101011000000000101 nnnnn ddddd", "d=xd n=x", var=SF)
C(I, "ADR",           "0 ll 10000 hhhhhhhhhhhhhhhhhhh ddddd", "d=xd")
C(I, "ADRP",          "1 ll 10000 hhhhhhhhhhhhhhhhhhh ddddd", "d=xd")

# ---------------------------------------------------------------- loads and stores
L = "ldst"
GPR_LS = ("k:0=STRB,1=LDRB,2=LDRSB_x,3=LDRSB_w,4=STRH,5=LDRH,6=LDRSH_x,7=LDRSH_w,8=STR_w,9=LDR_w,10=LDRSW,"
          "12=STR_x,13=LDR_x")
FP_LS = "k:0=STR_b,1=LDR_b,2=STR_q,3=LDR_q,4=STR_h,5=LDR_h,8=STR_s,9=LDR_s,12=STR_d,13=LDR_d"
NO_WB_CLASH = lambda F: F.n == 31 or F.t != F.n  # noqa: E731
REG_OFFSET = lambda F: F.m != F.n  # noqa: E731
EXT_LS = {"o": [2, 3, 6, 7]}
C(L, "{k}_uoff", "kk111001kk iiiiiiiiiiii nnnnn ttttt", "n=b t=x", var=GPR_LS)
C(L, "{k}_pre",  "kk111000kk0 iiiiiiiii 11 nnnnn ttttt", "n=b t=x", var=GPR_LS, where=NO_WB_CLASH)
C(L, "{k}_post", "kk111000kk0 iiiiiiiii 01 nnnnn ttttt", "n=b t=x", var=GPR_LS, where=NO_WB_CLASH)
C(L, "{k}_unscaled", "kk111000kk0 iiiiiiiii 00 nnnnn ttttt", "n=b t=x",
  var=GPR_LS.replace("STR", "STUR").replace("LDR", "LDUR"))
C(L, "{k}_reg",  "kk111000kk1 mmmmm ooo S 10 nnnnn ttttt", "n=b t=x m=i", var=GPR_LS, vals=EXT_LS, where=REG_OFFSET)
C(L, "{k}_uoff", "kk111101kk iiiiiiiiiiii nnnnn ttttt", "n=b t=v", var=FP_LS)
C(L, "{k}_pre",  "kk111100kk0 iiiiiiiii 11 nnnnn ttttt", "n=b t=v", var=FP_LS)
C(L, "{k}_post", "kk111100kk0 iiiiiiiii 01 nnnnn ttttt", "n=b t=v", var=FP_LS)
C(L, "{k}_unscaled", "kk111100kk0 iiiiiiiii 00 nnnnn ttttt", "n=b t=v",
  var=FP_LS.replace("STR", "STUR").replace("LDR", "LDUR"))
C(L, "{k}_reg",  "kk111100kk1 mmmmm ooo S 10 nnnnn ttttt", "n=b t=v m=i", var=FP_LS, vals=EXT_LS, where=REG_OFFSET)


def literal_clear_of_pc(size):
    return lambda F: not (-size < (F.i - (1 << 19) if F.i >> 18 else F.i) * 4 < 4)


C(L, "LDR_w_lit",   "00011000 iiiiiiiiiiiiiiiiiii ttttt", "t=x", where=literal_clear_of_pc(4))
C(L, "LDR_x_lit",   "01011000 iiiiiiiiiiiiiiiiiii ttttt", "t=x", where=literal_clear_of_pc(8))
C(L, "LDRSW_lit",   "10011000 iiiiiiiiiiiiiiiiiii ttttt", "t=x", where=literal_clear_of_pc(4))
C(L, "LDR_s_lit",   "00011100 iiiiiiiiiiiiiiiiiii ttttt", "t=v", where=literal_clear_of_pc(4))
C(L, "LDR_d_lit",   "01011100 iiiiiiiiiiiiiiiiiii ttttt", "t=v", where=literal_clear_of_pc(8))
C(L, "LDR_q_lit",   "10011100 iiiiiiiiiiiiiiiiiii ttttt", "t=v", where=literal_clear_of_pc(16))
# Prefetches have no architectural effect: the vectors pin down decoding. Only the allocated
# prfop values (PLD/PLI/PST to L1-L3, KEEP/STRM).
PRFOPS = {"t": [(kind << 3) | (level << 1) | policy for kind in range(3) for level in range(3) for policy in range(2)]}
C(L, "PRFM_uoff",  "1111100110 iiiiiiiiiiii nnnnn ttttt", "n=b", vals=PRFOPS, count=40)
C(L, "PRFM_reg",   "11111000101 mmmmm ooo S 10 nnnnn ttttt", "n=b m=i", vals={**EXT_LS, **PRFOPS}, where=REG_OFFSET,
  count=40)
C(L, "PRFUM",      "11111000100 iiiiiiiii 00 nnnnn ttttt", "n=b", vals=PRFOPS, count=40)
C(L, "PRFM_lit",   "11011000 iiiiiiiiiiiiiiiiiii ttttt", vals=PRFOPS, count=40)
GPR_PAIR = "k:0=STP_w,1=LDP_w,3=LDPSW,4=STP_x,5=LDP_x"
PAIR_LOAD_OK = lambda F: F.k & 1 == 0 or F.t != F.u  # noqa: E731
PAIR_WB_OK = lambda F: PAIR_LOAD_OK(F) and (F.n == 31 or (F.t != F.n and F.u != F.n))  # noqa: E731
C(L, "{k}_post", "kk1010001k iiiiiii uuuuu nnnnn ttttt", "n=b t=x u=x", var=GPR_PAIR, where=PAIR_WB_OK)
C(L, "{k}_off",  "kk1010010k iiiiiii uuuuu nnnnn ttttt", "n=b t=x u=x", var=GPR_PAIR, where=PAIR_LOAD_OK)
C(L, "{k}_pre",  "kk1010011k iiiiiii uuuuu nnnnn ttttt", "n=b t=x u=x", var=GPR_PAIR, where=PAIR_WB_OK)
C(L, "{k}",      "kk1010000k iiiiiii uuuuu nnnnn ttttt", "n=b t=x u=x", var="k:0=STNP_w,1=LDNP_w,4=STNP_x,5=LDNP_x",
  where=PAIR_LOAD_OK)
FP_PAIR = "k:0=STP_s,1=LDP_s,2=STP_d,3=LDP_d,4=STP_q,5=LDP_q"
C(L, "{k}_post", "kk1011001k iiiiiii uuuuu nnnnn ttttt", "n=b t=v u=v", var=FP_PAIR, where=PAIR_LOAD_OK)
C(L, "{k}_off",  "kk1011010k iiiiiii uuuuu nnnnn ttttt", "n=b t=v u=v", var=FP_PAIR, where=PAIR_LOAD_OK)
C(L, "{k}_pre",  "kk1011011k iiiiiii uuuuu nnnnn ttttt", "n=b t=v u=v", var=FP_PAIR, where=PAIR_LOAD_OK)
C(L, "{k}",      "kk1011000k iiiiiii uuuuu nnnnn ttttt", "n=b t=v u=v",
  var="k:0=STNP_s,1=LDNP_s,2=STNP_d,3=LDNP_d,4=STNP_q,5=LDNP_q", where=PAIR_LOAD_OK)
SIZES = "k:0=b,1=h,2=w,3=x"
ALIGN_K = lambda F: 1 << F.k  # noqa: E731
C(L, "LDAR_{k}",  "kk001000110 11111 1 11111 nnnnn ttttt", "n=b t=x", var=SIZES, align=ALIGN_K)
C(L, "STLR_{k}",  "kk001000100 11111 1 11111 nnnnn ttttt", "n=b t=x", var=SIZES, align=ALIGN_K)
C(L, "LDAPR_{k}", "kk111000101 11111 1100 00 nnnnn ttttt", "n=b t=x", var=SIZES, align=ALIGN_K)
MULT_REGS = {0: 4, 2: 4, 4: 3, 6: 3, 7: 1, 8: 2, 10: 2}
C(L, "{L}{o}_mult", "0Q001100 pL0 mmmmm oooo zz nnnnn ttttt", "n=b t=vl m=xm",
  var="L:0=ST,1=LD;o:0=4,2=1x4,4=3,6=1x3,7=1,8=2,10=1x2", nregs=lambda F: MULT_REGS[F.o],
  where=lambda F: (F.p == 1 or F.m == 0) and not (F.z == 3 and F.Q == 0 and F.o in (0, 4, 8)))
SINGLE_VAR = "L:0=ST,1=LD;N:0=1,2=2,1=3,3=4"
SINGLE_REGS = lambda F: ((F.N & 1) << 1 | F.N >> 1) + 1  # noqa: E731
POST_OK = lambda F: F.p == 1 or F.m == 0  # noqa: E731
C(L, "{L}{N}_single_b", "0Q001101 pLN mmmmm 00N S zz nnnnn ttttt", "n=b t=vl m=xm", var=SINGLE_VAR,
  nregs=SINGLE_REGS, where=POST_OK)
C(L, "{L}{N}_single_h", "0Q001101 pLN mmmmm 01N S zz nnnnn ttttt", "n=b t=vl m=xm", var=SINGLE_VAR,
  nregs=SINGLE_REGS, where=lambda F: POST_OK(F) and F.z & 1 == 0)
C(L, "{L}{N}_single_s", "0Q001101 pLN mmmmm 10N S 00 nnnnn ttttt", "n=b t=vl m=xm", var=SINGLE_VAR,
  nregs=SINGLE_REGS, where=POST_OK)
C(L, "{L}{N}_single_d", "0Q001101 pLN mmmmm 10N 0 01 nnnnn ttttt", "n=b t=vl m=xm", var=SINGLE_VAR,
  nregs=SINGLE_REGS, where=POST_OK)
C(L, "LD{N}R", "0Q001101 p1N mmmmm 11N 0 zz nnnnn ttttt", "n=b t=vl m=xm", var="N:0=1,2=2,1=3,3=4",
  nregs=SINGLE_REGS, where=POST_OK)

# ---------------------------------------------------------------- LSE atomics
A = "atomics"
LSE = "kk111000 AR1 sssss oooo 00 nnnnn ttttt"
C(A, "{o}_{k}", LSE, "n=b s=x t=x", align=ALIGN_K, var="o:0=LDADD,1=LDCLR,2=LDEOR,3=LDSET;" + SIZES)
# Unicorn's sub-word LDSMAX/LDSMIN get the signed comparison wrong (docs/VECTORS.md).
C(A, "{o}_{k}", LSE, "n=b s=x t=x", align=ALIGN_K, var="o:4=LDSMAX,5=LDSMIN;k:0=b,1=h,2=w", oracle="qemu-user")
C(A, "{o}_{k}", LSE, "n=b s=x t=x", align=ALIGN_K, var="o:4=LDSMAX,5=LDSMIN;k:3=x")
C(A, "{o}_{k}", LSE, "n=b s=x t=x", align=ALIGN_K, var="o:6=LDUMAX,7=LDUMIN,8=SWP;" + SIZES)
C(A, "CAS_{k}",  "kk0010001L1 sssss R 11111 nnnnn ttttt", "n=b s=x t=x", var=SIZES, align=ALIGN_K, match="cas")
C(A, "CASP_{k}", "0k0010000L1 sssss R 11111 nnnnn ttttt", "n=b s=xp t=xp", var="k:0=w,1=x",
  align=lambda F: 8 << F.k, match="casp", where=lambda F: F.s % 2 == 0 and F.t % 2 == 0)

# ---------------------------------------------------------------- branches
B = "branch"
C(B, "B",        "000101 iiiiiiiiiiiiiiiiiiiiiiiiii")
C(B, "BL",       "100101 iiiiiiiiiiiiiiiiiiiiiiiiii")
C(B, "B_cond",   "01010100 iiiiiiiiiiiiiiiiiii 0 cccc", nzcv=True)
C(B, "CBZ_{f}",  "f0110100 iiiiiiiiiiiiiiiiiii ttttt", "t=xz", var=SF)
C(B, "CBNZ_{f}", "f0110101 iiiiiiiiiiiiiiiiiii ttttt", "t=xz", var=SF)
C(B, "TBZ",      "b0110110 bbbbb iiiiiiiiiiiiii ttttt", "t=x")
C(B, "TBNZ",     "b0110111 bbbbb iiiiiiiiiiiiii ttttt", "t=x")
C(B, "BR",       "1101011000011111000000 nnnnn 00000", "n=c")
C(B, "BLR",      "1101011000111111000000 nnnnn 00000", "n=c")
C(B, "RET",      "1101011001011111000000 nnnnn 00000", "n=c")

# ---------------------------------------------------------------- scalar floating point
P = "fp"
FPS = dict(es=ES_T, lanes="fp", scalar=True, fp=True)
for name, op in [("FMUL", "0000"), ("FDIV", "0001"), ("FADD", "0010"), ("FSUB", "0011"), ("FMAX", "0100"),
                 ("FMIN", "0101"), ("FMAXNM", "0110"), ("FMINNM", "0111"), ("FNMUL", "1000")]:
    C(P, name + "_{t}", f"00011110 tt1 mmmmm {op} 10 nnnnn ddddd", "d=vd n=v m=v", var=FP_TH, **FPS)
for name, op in [("FMOV_reg", "000000"), ("FABS", "000001"), ("FNEG", "000010"), ("FSQRT", "000011"),
                 ("FRINTN", "001000"), ("FRINTP", "001001"), ("FRINTM", "001010"), ("FRINTZ", "001011"),
                 ("FRINTA", "001100"), ("FRINTX", "001110"), ("FRINTI", "001111")]:
    C(P, name + "_{t}", f"00011110 tt1 {op} 10000 nnnnn ddddd", "d=vd n=v", var=FP_TH, **FPS)
C(P, "FCVT_{k}", "00011110 kk10001 kk 10000 nnnnn ddddd", "d=vd n=v", var="k:1=s2d,3=s2h,4=d2s,7=d2h,12=h2s,13=h2d",
  es=lambda F: {0: 32, 1: 64, 3: 16}[F.k >> 2], lanes="fp", scalar=True, fp=True, ahp=True)
for name, o1, o0 in [("FMADD", 0, 0), ("FMSUB", 0, 1), ("FNMADD", 1, 0), ("FNMSUB", 1, 1)]:
    C(P, name + "_{t}", f"00011111 tt{o1} mmmmm {o0} aaaaa nnnnn ddddd", "d=vd n=v m=v a=v", var=FP_TH, **FPS)
for name, opc, zero in [("FCMP", "00", False), ("FCMP_zero", "01", True), ("FCMPE", "10", False),
                        ("FCMPE_zero", "11", True)]:
    C(P, name + "_{t}", f"00011110 tt1 mmmmm 001000 nnnnn {opc}000", "n=v" + ("" if zero else " m=v"),
      var=FP_TH, nzcv=True, where=(lambda F: F.m == 0) if zero else None, **FPS)
C(P, "FCCMP_{t}",  "00011110 tt1 mmmmm cccc 01 nnnnn 0 kkkk", "n=v m=v", var=FP_TH, nzcv=True, **FPS)
C(P, "FCCMPE_{t}", "00011110 tt1 mmmmm cccc 01 nnnnn 1 kkkk", "n=v m=v", var=FP_TH, nzcv=True, **FPS)
C(P, "FCSEL_{t}",  "00011110 tt1 mmmmm cccc 11 nnnnn ddddd", "d=vd n=v m=v", var=FP_TH, nzcv=True, **FPS)
C(P, "FMOV_imm_{t}", "00011110 tt1 iiiiiiii 100 00000 ddddd", "d=vd", var=FP_TH, **FPS)
FPI = dict(es=ES_T, lanes="fp", scalar=True, fp=True)
for name, rmode, opcode in [("FCVTNS", "00", "000"), ("FCVTNU", "00", "001"), ("FCVTAS", "00", "100"),
                            ("FCVTAU", "00", "101"), ("FCVTPS", "01", "000"), ("FCVTPU", "01", "001"),
                            ("FCVTMS", "10", "000"), ("FCVTMU", "10", "001"), ("FCVTZS", "11", "000"),
                            ("FCVTZU", "11", "001")]:
    C(P, name + "_{t}2{f}", f"f0011110 tt1 {rmode} {opcode} 000000 nnnnn ddddd", "d=xd n=v",
      var=FP_T + ";f:0=w,1=x", **FPI)
for name, opcode in [("SCVTF", "010"), ("UCVTF", "011")]:
    C(P, name + "_{f}2{t}", f"f0011110 tt1 00 {opcode} 000000 nnnnn ddddd", "d=vd n=x",
      var=FP_T + ";f:0=w,1=x", **FPI)
FIXED = lambda F: F.f == 1 or F.s >= 32  # noqa: E731
for name, rmode, opcode, ops in [("FCVTZS_fix", "11", "000", "d=xd n=v"), ("FCVTZU_fix", "11", "001", "d=xd n=v"),
                                 ("SCVTF_fix", "00", "010", "d=vd n=x"), ("UCVTF_fix", "00", "011", "d=vd n=x")]:
    C(P, name + "_{t}_{f}", f"f0011110 tt0 {rmode} {opcode} ssssss nnnnn ddddd", ops,
      var=FP_T + ";f:0=w,1=x", where=FIXED, **FPI)
C(P, "FMOV_s2w",  "0001111000100110000000 nnnnn ddddd", "d=xd n=v", es=32, lanes="fp", scalar=True)
C(P, "FMOV_w2s",  "0001111000100111000000 nnnnn ddddd", "d=vd n=x")
C(P, "FMOV_d2x",  "1001111001100110000000 nnnnn ddddd", "d=xd n=v", es=64, lanes="fp", scalar=True)
C(P, "FMOV_x2d",  "1001111001100111000000 nnnnn ddddd", "d=vd n=x")
C(P, "FMOV_v1_2x", "1001111010101110000000 nnnnn ddddd", "d=xd n=v")
C(P, "FMOV_x2v1", "1001111010101111000000 nnnnn ddddd", "d=v n=x")
C(P, "FMOV_h2w",  "0001111011100110000000 nnnnn ddddd", "d=xd n=v", es=16, lanes="fp", scalar=True)
C(P, "FMOV_w2h",  "0001111011100111000000 nnnnn ddddd", "d=vd n=x")

# ---------------------------------------------------------------- Advanced SIMD
S = "simd"
# Instructions that read their destination (accumulate, insert, keep the other half or
# lanes): their Rd gets random values; every other destination starts as a fixed pattern.
READS_D = {"MLA_v", "MLS_v", "SABA_v", "UABA_v", "BSL_v", "BIT_v", "BIF_v", "FMLA_v", "FMLS_v", "SADALP_v",
           "UADALP_v", "SUQADD_v", "USQADD_v", "XTN_v", "SQXTUN_v", "SQXTN_v", "UQXTN_v", "FCVTN_v", "FCVTXN_v",
           "ADDHN_v", "RADDHN_v", "SUBHN_v", "RSUBHN_v", "SABAL_v", "UABAL_v", "SMLAL_v", "UMLAL_v", "SMLSL_v",
           "UMLSL_v", "SQDMLAL_v", "SQDMLSL_v", "SSRA_v", "USRA_v", "SRSRA_v", "URSRA_v", "SRI_v", "SLI_v",
           "SHRN_v", "RSHRN_v", "SQSHRUN_v", "SQRSHRUN_v", "SQSHRN_v", "UQSHRN_v", "SQRSHRN_v", "UQRSHRN_v",
           "INS_gen", "INS_elem", "TBX", "ORR_imm_v", "BIC_imm_v", "MLA_elem", "MLS_elem", "FMLA_elem", "FMLS_elem",
           "USRA_d"}


def dst(name):
    return "d=v" if name in READS_D else "d=vd"

VI = dict(es=ES_Z)
for name, u, op, cond, extra in [
        ("SHADD", 0, "00000", NO_2D, {}), ("UHADD", 1, "00000", NO_2D, {}),
        ("SQADD", 0, "00001", ALL_ARR, {}), ("UQADD", 1, "00001", ALL_ARR, {}),
        ("SRHADD", 0, "00010", NO_2D, {}), ("URHADD", 1, "00010", NO_2D, {}),
        ("SHSUB", 0, "00100", NO_2D, {}), ("UHSUB", 1, "00100", NO_2D, {}),
        ("SQSUB", 0, "00101", ALL_ARR, {}), ("UQSUB", 1, "00101", ALL_ARR, {}),
        ("CMGT", 0, "00110", ALL_ARR, {}), ("CMHI", 1, "00110", ALL_ARR, {}),
        ("CMGE", 0, "00111", ALL_ARR, {}), ("CMHS", 1, "00111", ALL_ARR, {}),
        ("SSHL", 0, "01000", ALL_ARR, {"m": "vs"}), ("USHL", 1, "01000", ALL_ARR, {"m": "vs"}),
        ("SQSHL", 0, "01001", ALL_ARR, {"m": "vs"}), ("UQSHL", 1, "01001", ALL_ARR, {"m": "vs"}),
        ("SRSHL", 0, "01010", ALL_ARR, {"m": "vs"}), ("URSHL", 1, "01010", ALL_ARR, {"m": "vs"}),
        ("SQRSHL", 0, "01011", ALL_ARR, {"m": "vs"}), ("UQRSHL", 1, "01011", ALL_ARR, {"m": "vs"}),
        ("SMAX", 0, "01100", NO_2D, {}), ("UMAX", 1, "01100", NO_2D, {}),
        ("SMIN", 0, "01101", NO_2D, {}), ("UMIN", 1, "01101", NO_2D, {}),
        ("SABD", 0, "01110", NO_2D, {}), ("UABD", 1, "01110", NO_2D, {}),
        ("SABA", 0, "01111", NO_2D, {}), ("UABA", 1, "01111", NO_2D, {}),
        ("ADD", 0, "10000", ALL_ARR, {}), ("SUB", 1, "10000", ALL_ARR, {}),
        ("CMTST", 0, "10001", ALL_ARR, {}), ("CMEQ", 1, "10001", ALL_ARR, {}),
        ("MLA", 0, "10010", NO_2D, {}), ("MLS", 1, "10010", NO_2D, {}),
        ("MUL", 0, "10011", NO_2D, {}), ("PMUL", 1, "10011", lambda F: F.z == 0, {}),
        ("SMAXP", 0, "10100", NO_2D, {}), ("UMAXP", 1, "10100", NO_2D, {}),
        ("SMINP", 0, "10101", NO_2D, {}), ("UMINP", 1, "10101", NO_2D, {}),
        ("SQDMULH", 0, "10110", lambda F: F.z in (1, 2), {}), ("SQRDMULH", 1, "10110", lambda F: F.z in (1, 2), {}),
        ("ADDP", 0, "10111", ALL_ARR, {})]:
    C(S, name + "_v", f"0Q{u}01110 zz1 mmmmm {op}1 nnnnn ddddd", f"{dst(name + '_v')} n=v m={extra.get('m', 'v')}",
      where=cond, **VI)
for name, u, size in [("AND", 0, "00"), ("BIC", 0, "01"), ("ORR", 0, "10"), ("ORN", 0, "11"),
                      ("EOR", 1, "00"), ("BSL", 1, "01"), ("BIT", 1, "10"), ("BIF", 1, "11")]:
    C(S, name + "_v", f"0Q{u}01110 {size}1 mmmmm 000111 nnnnn ddddd", dst(name + "_v") + " n=v m=v", es=8)
VF = dict(es=ES_FZ, lanes="fp", fp=True, where=FP_ARR)
for name, u, a, op in [
        ("FMAXNM", 0, 0, "11000"), ("FMLA", 0, 0, "11001"), ("FADD", 0, 0, "11010"), ("FMULX", 0, 0, "11011"),
        ("FCMEQ", 0, 0, "11100"), ("FMAX", 0, 0, "11110"), ("FRECPS", 0, 0, "11111"),
        ("FMINNM", 0, 1, "11000"), ("FMLS", 0, 1, "11001"), ("FSUB", 0, 1, "11010"), ("FMIN", 0, 1, "11110"),
        ("FRSQRTS", 0, 1, "11111"),
        ("FMAXNMP", 1, 0, "11000"), ("FADDP", 1, 0, "11010"), ("FMUL", 1, 0, "11011"), ("FCMGE", 1, 0, "11100"),
        ("FACGE", 1, 0, "11101"), ("FMAXP", 1, 0, "11110"), ("FDIV", 1, 0, "11111"),
        ("FMINNMP", 1, 1, "11000"), ("FABD", 1, 1, "11010"), ("FCMGT", 1, 1, "11100"), ("FACGT", 1, 1, "11101"),
        ("FMINP", 1, 1, "11110")]:
    C(S, name + "_v", f"0Q{u}01110 {a}z1 mmmmm {op}1 nnnnn ddddd", dst(name + "_v") + " n=v m=v", **VF)
for name, u, op, cond in [
        ("REV64", 0, "00000", NO_2D), ("REV16", 0, "00001", lambda F: F.z == 0),
        ("REV32", 1, "00000", lambda F: F.z < 2),
        ("SADDLP", 0, "00010", NO_2D), ("UADDLP", 1, "00010", NO_2D),
        ("SUQADD", 0, "00011", ALL_ARR), ("USQADD", 1, "00011", ALL_ARR),
        ("CLS", 0, "00100", NO_2D), ("CLZ", 1, "00100", NO_2D),
        ("CNT", 0, "00101", lambda F: F.z == 0), ("NOT", 1, "00101", lambda F: F.z == 0),
        ("RBIT", 1, "00101", lambda F: F.z == 1),
        ("SADALP", 0, "00110", NO_2D), ("UADALP", 1, "00110", NO_2D),
        ("SQABS", 0, "00111", ALL_ARR), ("SQNEG", 1, "00111", ALL_ARR),
        ("CMGT_zero", 0, "01000", ALL_ARR), ("CMGE_zero", 1, "01000", ALL_ARR),
        ("CMEQ_zero", 0, "01001", ALL_ARR), ("CMLE_zero", 1, "01001", ALL_ARR),
        ("CMLT_zero", 0, "01010", ALL_ARR), ("ABS", 0, "01011", ALL_ARR), ("NEG", 1, "01011", ALL_ARR),
        ("XTN", 0, "10010", NO_2D), ("SQXTUN", 1, "10010", NO_2D),
        ("SQXTN", 0, "10100", NO_2D), ("UQXTN", 1, "10100", NO_2D), ("SHLL", 1, "10011", NO_2D)]:
    C(S, name + "_v", f"0Q{u}01110 zz10000 {op} 10 nnnnn ddddd", dst(name + "_v") + " n=v", where=cond, **VI)
for name, u, a, op, lanes in [
        ("FRINTN", 0, 0, "11000", "fp"), ("FRINTM", 0, 0, "11001", "fp"), ("FCVTNS", 0, 0, "11010", "fp"),
        ("FCVTMS", 0, 0, "11011", "fp"), ("FCVTAS", 0, 0, "11100", "fp"), ("SCVTF", 0, 0, "11101", "int"),
        ("FCMGT_zero", 0, 1, "01100", "fp"), ("FCMEQ_zero", 0, 1, "01101", "fp"), ("FCMLT_zero", 0, 1, "01110", "fp"),
        ("FABS", 0, 1, "01111", "fp"), ("FRINTP", 0, 1, "11000", "fp"), ("FRINTZ", 0, 1, "11001", "fp"),
        ("FCVTPS", 0, 1, "11010", "fp"), ("FCVTZS", 0, 1, "11011", "fp"), ("FRECPE", 0, 1, "11101", "fp"),
        ("FRINTA", 1, 0, "11000", "fp"), ("FRINTX", 1, 0, "11001", "fp"), ("FCVTNU", 1, 0, "11010", "fp"),
        ("FCVTMU", 1, 0, "11011", "fp"), ("FCVTAU", 1, 0, "11100", "fp"), ("UCVTF", 1, 0, "11101", "int"),
        ("FCMGE_zero", 1, 1, "01100", "fp"), ("FCMLE_zero", 1, 1, "01101", "fp"), ("FNEG", 1, 1, "01111", "fp"),
        ("FRINTI", 1, 1, "11001", "fp"), ("FCVTPU", 1, 1, "11010", "fp"), ("FCVTZU", 1, 1, "11011", "fp"),
        ("FRSQRTE", 1, 1, "11101", "fp"), ("FSQRT", 1, 1, "11111", "fp")]:
    C(S, name + "_v", f"0Q{u}01110 {a}z10000 {op} 10 nnnnn ddddd", dst(name + "_v") + " n=v", **{**VF, "lanes": lanes})
C(S, "FCVTN_v",  "0Q0011100z10000101101 0nnnnnddddd", dst("FCVTN_v") + " n=v", es=lambda F: 32 << F.z,
  lanes="fp", fp=True)
C(S, "FCVTL_v",  "0Q0011100z10000101111 0nnnnnddddd", dst("FCVTL_v") + " n=v", es=lambda F: 16 << F.z,
  lanes="fp", fp=True)
C(S, "FCVTXN_v", "0Q10111001100001011010 nnnnnddddd", dst("FCVTXN_v") + " n=v", es=64, lanes="fp", fp=True)
ACROSS = lambda F: F.z < 2 or (F.z == 2 and F.Q == 1)  # noqa: E731
for name, u, op in [("SADDLV", 0, "00011"), ("UADDLV", 1, "00011"), ("SMAXV", 0, "01010"), ("UMAXV", 1, "01010"),
                    ("SMINV", 0, "11010"), ("UMINV", 1, "11010"), ("ADDV", 0, "11011")]:
    C(S, name, f"0Q{u}01110 zz11000 {op} 10 nnnnn ddddd", dst(name) + " n=v", where=ACROSS, **VI)
for name, a, op in [("FMAXNMV", 0, "01100"), ("FMINNMV", 1, "01100"), ("FMAXV", 0, "01111"), ("FMINV", 1, "01111")]:
    C(S, name, f"01101110 {a}011000 {op} 10 nnnnn ddddd", dst(name) + " n=v", es=32, lanes="fp", fp=True)
for name, u, op, cond in [
        ("SADDL", 0, "0000", NO_2D), ("UADDL", 1, "0000", NO_2D), ("SADDW", 0, "0001", NO_2D),
        ("UADDW", 1, "0001", NO_2D), ("SSUBL", 0, "0010", NO_2D), ("USUBL", 1, "0010", NO_2D),
        ("SSUBW", 0, "0011", NO_2D), ("USUBW", 1, "0011", NO_2D), ("ADDHN", 0, "0100", NO_2D),
        ("RADDHN", 1, "0100", NO_2D), ("SABAL", 0, "0101", NO_2D), ("UABAL", 1, "0101", NO_2D),
        ("SUBHN", 0, "0110", NO_2D), ("RSUBHN", 1, "0110", NO_2D), ("SABDL", 0, "0111", NO_2D),
        ("UABDL", 1, "0111", NO_2D), ("SMLAL", 0, "1000", NO_2D), ("UMLAL", 1, "1000", NO_2D),
        ("SMLSL", 0, "1010", NO_2D), ("UMLSL", 1, "1010", NO_2D), ("SMULL", 0, "1100", NO_2D),
        ("UMULL", 1, "1100", NO_2D), ("PMULL", 0, "1110", lambda F: F.z == 0),
        ("SQDMULL", 0, "1101", lambda F: F.z in (1, 2)), ("SQDMLAL", 0, "1001", lambda F: F.z in (1, 2)),
        ("SQDMLSL", 0, "1011", lambda F: F.z in (1, 2))]:
    C(S, name + "_v", f"0Q{u}01110 zz1 mmmmm {op} 00 nnnnn ddddd", dst(name + "_v") + " n=v m=v", where=cond, **VI)
SAME_SHIFT = lambda F: F.h != 0 and not (F.h >= 8 and F.Q == 0)  # noqa: E731
NARROW_SHIFT = lambda F: 0 < F.h < 8  # noqa: E731
for name, u, op, cond in [
        ("SSHR", 0, "00000", SAME_SHIFT), ("USHR", 1, "00000", SAME_SHIFT), ("SSRA", 0, "00010", SAME_SHIFT),
        ("USRA", 1, "00010", SAME_SHIFT), ("SRSHR", 0, "00100", SAME_SHIFT), ("URSHR", 1, "00100", SAME_SHIFT),
        ("SRSRA", 0, "00110", SAME_SHIFT), ("URSRA", 1, "00110", SAME_SHIFT), ("SRI", 1, "01000", SAME_SHIFT),
        ("SHL", 0, "01010", SAME_SHIFT), ("SLI", 1, "01010", SAME_SHIFT), ("SQSHLU", 1, "01100", SAME_SHIFT),
        ("SQSHL_imm", 0, "01110", SAME_SHIFT), ("UQSHL_imm", 1, "01110", SAME_SHIFT),
        ("SHRN", 0, "10000", NARROW_SHIFT), ("RSHRN", 0, "10001", NARROW_SHIFT),
        ("SQSHRUN", 1, "10000", NARROW_SHIFT), ("SQRSHRUN", 1, "10001", NARROW_SHIFT),
        ("SQSHRN", 0, "10010", NARROW_SHIFT), ("UQSHRN", 1, "10010", NARROW_SHIFT),
        ("SQRSHRN", 0, "10011", NARROW_SHIFT), ("UQRSHRN", 1, "10011", NARROW_SHIFT),
        ("SSHLL", 0, "10100", NARROW_SHIFT), ("USHLL", 1, "10100", NARROW_SHIFT)]:
    C(S, name + "_v", f"0Q{u}011110 hhhh bbb {op}1 nnnnn ddddd", dst(name + "_v") + " n=v", where=cond, es=ES_IMMH)
FIX_SHIFT = lambda F: F.h >= 4 and not (F.h >= 8 and F.Q == 0)  # noqa: E731
for name, u, op, lanes in [("SCVTF_fix", 0, "11100", "int"), ("UCVTF_fix", 1, "11100", "int"),
                           ("FCVTZS_fix", 0, "11111", "fp"), ("FCVTZU_fix", 1, "11111", "fp")]:
    C(S, name + "_v", f"0Q{u}011110 hhhh bbb {op}1 nnnnn ddddd", dst(name + "_v") + " n=v", where=FIX_SHIFT,
      es=lambda F: 32 if F.h < 8 else 64, lanes=lanes, fp=True)
DUP_OK = lambda F: F.i & 0xF != 0 and not (F.i & 0xF == 8 and F.Q == 0)  # noqa: E731
C(S, "DUP_elem", "0Q001110000 iiiii 000001 nnnnn ddddd", dst("DUP_elem") + " n=v", where=DUP_OK)
C(S, "DUP_gen",  "0Q001110000 iiiii 000011 nnnnn ddddd", dst("DUP_gen") + " n=x", where=DUP_OK)
C(S, "INS_gen",  "01001110000 iiiii 000111 nnnnn ddddd", dst("INS_gen") + " n=x", where=lambda F: F.i & 0xF != 0)
C(S, "INS_elem", "01101110000 iiiii 0 jjjj 1 nnnnn ddddd", dst("INS_elem") + " n=v", where=lambda F: F.i & 0xF != 0)
C(S, "UMOV",     "0Q001110000 iiiii 001111 nnnnn ddddd", "d=xd n=v",
  where=lambda F: (F.Q == 1 and F.i & 0xF == 8) or (F.Q == 0 and (F.i & 1 or F.i & 3 == 2 or F.i & 7 == 4)))
C(S, "SMOV",     "0Q001110000 iiiii 001011 nnnnn ddddd", "d=xd n=v",
  where=lambda F: F.i & 1 or F.i & 3 == 2 or (F.i & 7 == 4 and F.Q == 1))
C(S, "EXT",      "0Q101110000 mmmmm 0 iiii 0 nnnnn ddddd", dst("EXT") + " n=v m=v", where=lambda F: F.Q == 1 or F.i < 8)
C(S, "{o}", "0Q001110000 mmmmm 0 ll o 00 nnnnn ddddd", "d=v n=vl m=vt", var="o:0=TBL,1=TBX",
  nregs=lambda F: F.l + 1)
for name, op in [("UZP1", "001"), ("TRN1", "010"), ("ZIP1", "011"), ("UZP2", "101"), ("TRN2", "110"),
                 ("ZIP2", "111")]:
    C(S, name + "_v", f"0Q001110 zz0 mmmmm 0{op}10 nnnnn ddddd", dst(name + "_v") + " n=v m=v", where=ALL_ARR, **VI)
MODIMM = "0Q{o}0111100000 iii cccc 01 iiiii ddddd"
C(S, "MOVI",     MODIMM.format(o=0), dst("MOVI"), vals={"c": [0, 2, 4, 6, 8, 10, 12, 13, 14]})
C(S, "ORR_imm_v", MODIMM.format(o=0), dst("ORR_imm_v"), vals={"c": [1, 3, 5, 7, 9, 11]})
C(S, "MVNI",     MODIMM.format(o=1), dst("MVNI"), vals={"c": [0, 2, 4, 6, 8, 10, 12, 13]})
C(S, "BIC_imm_v", MODIMM.format(o=1), dst("BIC_imm_v"), vals={"c": [1, 3, 5, 7, 9, 11]})
C(S, "MOVI_d",   MODIMM.format(o=1), dst("MOVI_d"), vals={"c": [14]})
C(S, "FMOV_v_imm_s", MODIMM.format(o=0), dst("FMOV_v_imm_s"), vals={"c": [15]})
C(S, "FMOV_v_imm_2d", MODIMM.format(o=1), dst("FMOV_v_imm_2d"), vals={"c": [15], "Q": [1]})
ELEM_HS = lambda F: F.z in (1, 2)  # noqa: E731
for name, u, op in [("MUL_elem", 0, "1000"), ("MLA_elem", 1, "0000"), ("MLS_elem", 1, "0100"),
                    ("SQDMULH_elem", 0, "1100"), ("SMULL_elem", 0, "1010"), ("UMULL_elem", 1, "1010")]:
    C(S, name, f"0Q{u}01111 zz LM mmmm {op} H0 nnnnn ddddd", dst(name) + " n=v M=vm", where=ELEM_HS, **VI)
FP_ELEM = lambda F: F.z == 0 or (F.L == 0 and F.Q == 1)  # noqa: E731
for name, u, op in [("FMUL_elem", 0, "1001"), ("FMLA_elem", 0, "0001"), ("FMLS_elem", 0, "0101"),
                    ("FMULX_elem", 1, "1001")]:
    C(S, name, f"0Q{u}01111 1z LM mmmm {op} H0 nnnnn ddddd", dst(name) + " n=v M=vmf", es=ES_FZ, lanes="fp", fp=True,
      where=FP_ELEM)
FP_ELEM_SCALAR = lambda F: F.z == 0 or F.L == 0  # noqa: E731
for name, u, op in [("FMUL_elem_scalar", 0, "1001"), ("FMLA_elem_scalar", 0, "0001"),
                    ("FMLS_elem_scalar", 0, "0101"), ("FMULX_elem_scalar", 1, "1001")]:
    C(S, name, f"01{u}11111 1z LM mmmm {op} H0 nnnnn ddddd", dst(name.replace("_scalar", "")) + " n=v M=vmf",
      es=ES_FZ, lanes="fp", scalar=True, fp=True, where=FP_ELEM_SCALAR)
for name, u, op in [("ADD_d", 0, "10000"), ("SUB_d", 1, "10000"), ("CMGT_d", 0, "00110"), ("CMEQ_d", 1, "10001"),
                    ("SSHL_d", 0, "01000"), ("USHL_d", 1, "01000")]:
    C(S, name, f"01{u}11110 111 mmmmm {op}1 nnnnn ddddd", dst(name) + " n=v m=" + ("vs" if "SHL" in name else "v"),
      es=64)
for name, u, op in [("SSHR_d", 0, "00000"), ("USHR_d", 1, "00000"), ("SHL_d", 0, "01010"),
                    ("SRSHR_d", 0, "00100"), ("URSHR_d", 1, "00100"), ("USRA_d", 1, "00010")]:
    C(S, name, f"01{u}111110 1bbbbbb {op}1 nnnnn ddddd", dst(name) + " n=v", es=64)
for name, u, op in [("SQADD_scalar", 0, "00001"), ("UQADD_scalar", 1, "00001"), ("SQSUB_scalar", 0, "00101"),
                    ("UQSUB_scalar", 1, "00101")]:
    C(S, name, f"01{u}11110 zz1 mmmmm {op}1 nnnnn ddddd", dst(name) + " n=v m=v", es=ES_Z, scalar=True)
C(S, "ADDP_d", "0101111011110001101110 nnnnn ddddd", dst("ADDP_d") + " n=v", es=64)
for name, u, a, op in [("FADDP_s", 1, 0, "01101"), ("FMAXNMP_s", 1, 0, "01100"), ("FMINNMP_s", 1, 1, "01100"),
                       ("FMAXP_s", 1, 0, "01111"), ("FMINP_s", 1, 1, "01111")]:
    C(S, name, f"01{u}11110 {a}z11000 {op} 10 nnnnn ddddd", dst(name) + " n=v", es=ES_FZ, lanes="fp", fp=True)
for name, u, a, op, lanes in [("SCVTF_scalar", 0, 0, "11101", "int"), ("UCVTF_scalar", 1, 0, "11101", "int"),
                              ("FCVTNS_scalar", 0, 0, "11010", "fp"), ("FCVTMS_scalar", 0, 0, "11011", "fp"),
                              ("FCVTAS_scalar", 0, 0, "11100", "fp"), ("FCVTPS_scalar", 0, 1, "11010", "fp"),
                              ("FCVTZS_scalar", 0, 1, "11011", "fp"), ("FCVTZU_scalar", 1, 1, "11011", "fp"),
                              ("FCMEQ_zero_scalar", 0, 1, "01101", "fp"), ("FCMLT_zero_scalar", 0, 1, "01110", "fp")]:
    C(S, name, f"01{u}11110 {a}z10000 {op} 10 nnnnn ddddd", dst(name) + " n=v", es=ES_FZ, lanes=lanes, scalar=True,
      fp=True)
for name, u, a, op in [("FCMEQ_scalar", 0, 0, "11100"), ("FCMGE_scalar", 1, 0, "11100"),
                       ("FCMGT_scalar", 1, 1, "11100"), ("FABD_scalar", 1, 1, "11010")]:
    C(S, name, f"01{u}11110 {a}z1 mmmmm {op}1 nnnnn ddddd", dst(name) + " n=v m=v", es=ES_FZ, lanes="fp",
      scalar=True, fp=True)
for name, u, op in [("ABS_d", 0, "01011"), ("NEG_d", 1, "01011"), ("CMEQ_zero_d", 0, "01001"),
                    ("CMLT_zero_d", 0, "01010")]:
    C(S, name, f"01{u}11110 1110000 {op} 10 nnnnn ddddd", dst(name) + " n=v", es=64)
C(S, "DUP_scalar", "01011110000 iiiii 000001 nnnnn ddddd", dst("DUP_scalar") + " n=v", where=lambda F: F.i & 0xF != 0)

# ---------------------------------------------------------------- system registers, barriers, hints
# Kept in the int-dp group. MSR values stay within the bits the oracle models (FPCR: AHP, DN,
# FZ, RMode; FPSR: QC and the cumulative flags; NZCV: the flags).
C(I, "MRS_NZCV", "11010101001110110100001000 0 ttttt", "t=xd", nzcv=True)
C(I, "MSR_NZCV", "11010101000110110100001000 0 ttttt", "t=x", nzcv=True, mask=0xF0000000)
C(I, "MRS_FPCR", "11010101001110110100010000 0 ttttt", "t=xd", fp=True)
C(I, "MSR_FPCR", "11010101000110110100010000 0 ttttt", "t=x", fp=True, mask=0x07C00000)
C(I, "MRS_FPSR", "11010101001110110100010000 1 ttttt", "t=xd", fpsr="always")
C(I, "MSR_FPSR", "11010101000110110100010000 1 ttttt", "t=x", fpsr=True, mask=0x0800009F)
C(I, "DMB",  "11010101000000110011 mmmm 1 01 11111", vals={"m": [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15]}, count=50)
C(I, "DSB",  "11010101000000110011 mmmm 1 00 11111", vals={"m": [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15]}, count=50)
C(I, "ISB",  "11010101000000110011 1111 1 10 11111", count=50)
C(I, "NOP",  "11010101000000110010 0000 000 11111", count=50)
# YIELD, CSDB and the BTI variants behave as NOPs here; PAC hints are left out (unicorn's CPU
# implements pointer authentication, which Kiln does not advertise).
C(I, "HINT_nop", "11010101000000110010 hhhhhhh 11111", vals={"h": [1, 20, 32, 34, 36, 38]}, count=60)
