import KilnIR

/// Loads and stores: single registers in every addressing mode, pairs, literals, exclusives,
/// load-acquire / store-release and the LSE atomics.
enum LoadStore {
    /// What a "load/store register" encoding (size, V, opc) transfers.
    struct Transfer {
        var isLoad: Bool
        var isPrefetch = false
        /// log2 of the access size in bytes.
        var sizeLog2: Int
        var signExtend = false
        /// Destination width for integer loads (i32 for W registers, i64 for X).
        var type: IRType = .i64
        var isVector = false
    }

    static func transfer(_ l: A64Lifter, _ w: UInt32) throws(A64LiftError) -> Transfer {
        let size = Int(bits(w, 31, 30)), opc = bits(w, 23, 22)
        if bit(w, 26) {
            let sizeLog2 = opc & 2 != 0 ? 4 : size
            guard opc & 2 == 0 || size == 0 else { throw l.unallocated(w) }
            return Transfer(isLoad: opc & 1 == 1, sizeLog2: sizeLog2, type: .v128, isVector: true)
        }
        switch opc {
        case 0: return Transfer(isLoad: false, sizeLog2: size)
        case 1: return Transfer(isLoad: true, sizeLog2: size, type: size == 3 ? .i64 : .i32)
        case 2:
            if size == 3 { return Transfer(isLoad: true, isPrefetch: true, sizeLog2: 3) }
            return Transfer(isLoad: true, sizeLog2: size, signExtend: true, type: .i64)
        default:
            guard size < 2 else { throw l.unallocated(w) }
            return Transfer(isLoad: true, sizeLog2: size, signExtend: true, type: .i32)
        }
    }

    /// Loads or stores register `t` at `address` per `x`, with ordering `order`.
    static func perform(_ l: inout A64Lifter, _ x: Transfer, register t: Int, address: IRValue, order: IRMemoryOrder = .plain) {
        if x.isPrefetch { return }
        let access = IRMemoryAccess(sizeLog2: x.sizeLog2, signExtend: x.signExtend, order: order)
        if x.isVector {
            if x.isLoad {
                let v: IRValue
                if x.sizeLog2 == 4 {
                    v = l.builder.load(.v128, address, access)
                } else {
                    let scalar = l.builder.load(.i64, address, access)
                    v = l.builder.emit(.vpack, .v128, scalar, l.const64(0))
                }
                l.builder.writeReg(.v(t), v)
            } else {
                let v = l.builder.readReg(.v(t))
                let value = x.sizeLog2 == 4 ? v : l.builder.emit(.vextract, .i64, v, aux: IRElement.i64.rawValue)
                l.builder.store(address, value, access)
            }
            return
        }
        if x.isLoad {
            l.setReg(t, l.builder.load(x.type, address, access))
        } else {
            l.builder.store(address, l.reg(t, .i64), access)
        }
    }

    /// LDR/STR (unsigned offset): imm12 scaled by the access size.
    static func unsignedOffset(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let x = try transfer(l, w)
        let imm = UInt64(bits(w, 21, 10)) << UInt64(x.sizeLog2)
        let base = l.regOrSP(rn(w), .i64)
        let address = imm == 0 ? base : l.builder.add(base, l.const64(imm))
        perform(&l, x, register: rd(w), address: address)
    }

    /// Unscaled (LDUR), unprivileged (LDTR, same as LDUR at EL0), pre- and post-indexed forms.
    static func immediate9(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let x = try transfer(l, w)
        let mode = bits(w, 11, 10)
        if mode == 2 && x.isVector { throw l.unallocated(w) }
        let imm = UInt64(bitPattern: signed(bits(w, 20, 12), 9))
        let n = rn(w)
        let base = l.regOrSP(n, .i64)
        let offsetAddress = imm == 0 ? base : l.builder.add(base, l.const64(imm))
        let writeback = mode & 1 == 1
        if writeback && x.isPrefetch { throw l.unallocated(w) }
        let address = mode == 1 ? base : offsetAddress
        perform(&l, x, register: rd(w), address: address)
        if writeback { l.setRegOrSP(n, offsetAddress) }
    }

    /// Register offset: base + (extended Rm << (S ? size : 0)).
    static func registerOffset(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let x = try transfer(l, w)
        let option = bits(w, 15, 13)
        guard option & 2 != 0 else { throw l.unallocated(w) }
        let amount = bit(w, 12) ? UInt32(x.sizeLog2) : 0
        let offset = l.extendedReg(rm(w), option: option, amount: amount, .i64)
        let address = l.builder.add(l.regOrSP(rn(w), .i64), offset)
        perform(&l, x, register: rd(w), address: address)
    }

    /// LDR (literal), LDRSW (literal), PRFM (literal) and the SIMD&FP literal loads.
    static func literal(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let opc = bits(w, 31, 30)
        let x: Transfer
        if bit(w, 26) {
            guard opc != 3 else { throw l.unallocated(w) }
            x = Transfer(isLoad: true, sizeLog2: Int(opc) + 2, type: .v128, isVector: true)
        } else {
            switch opc {
            case 0: x = Transfer(isLoad: true, sizeLog2: 2, type: .i32)
            case 1: x = Transfer(isLoad: true, sizeLog2: 3)
            case 2: x = Transfer(isLoad: true, sizeLog2: 2, signExtend: true)
            default: return  // PRFM
            }
        }
        perform(&l, x, register: rd(w), address: l.pcRelative(signed(bits(w, 23, 5), 19) << 2))
    }

    /// LDP/STP/LDNP/STNP/LDPSW and the SIMD&FP pairs.
    static func pair(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let opc = bits(w, 31, 30), isLoad = bit(w, 22), mode = bits(w, 24, 23)
        var x: Transfer
        if bit(w, 26) {
            guard opc != 3 else { throw l.unallocated(w) }
            x = Transfer(isLoad: isLoad, sizeLog2: Int(opc) + 2, type: .v128, isVector: true)
        } else {
            switch opc {
            case 0: x = Transfer(isLoad: isLoad, sizeLog2: 2, type: .i32)
            case 1:
                guard isLoad, mode != 0 else { throw l.unallocated(w) }
                x = Transfer(isLoad: true, sizeLog2: 2, signExtend: true)
            case 2: x = Transfer(isLoad: isLoad, sizeLog2: 3)
            default: throw l.unallocated(w)
            }
        }
        let t = rd(w), t2 = ra(w), n = rn(w)
        if isLoad && t == t2 { throw l.unallocated(w) }
        let scale = UInt64(1) << UInt64(x.sizeLog2)
        let imm = UInt64(bitPattern: signed(bits(w, 21, 15), 7)) &* scale
        let base = l.regOrSP(n, .i64)
        let offsetAddress = imm == 0 ? base : l.builder.add(base, l.const64(imm))
        let address = mode == 1 ? base : offsetAddress
        let second = l.builder.add(address, l.const64(scale))
        if isLoad {
            // Load both before writing either register.
            let access = IRMemoryAccess(sizeLog2: x.sizeLog2, signExtend: x.signExtend)
            let loadType: IRType = x.isVector ? (x.sizeLog2 == 4 ? .v128 : .i64) : x.type
            var first = l.builder.load(loadType, address, access)
            var next = l.builder.load(loadType, second, access)
            if mode == 1 || mode == 3 { l.setRegOrSP(n, offsetAddress) }
            if x.isVector {
                if x.sizeLog2 < 4 {
                    first = l.builder.emit(.vpack, .v128, first, l.const64(0))
                    next = l.builder.emit(.vpack, .v128, next, l.const64(0))
                }
                l.builder.writeReg(.v(t), first)
                l.builder.writeReg(.v(t2), next)
            } else {
                l.setReg(t, first)
                l.setReg(t2, next)
            }
        } else {
            perform(&l, x, register: t, address: address)
            perform(&l, x, register: t2, address: second)
            if mode == 1 || mode == 3 { l.setRegOrSP(n, offsetAddress) }
        }
    }

    // MARK: Ordered and exclusive

    /// LDXR, LDAXR, STXR, STLXR (bit 21 clear) and the pair forms LDXP... (bit 21 set).
    static func exclusive(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30)), isLoad = bit(w, 22), ordered = bit(w, 15), isPair = bit(w, 21)
        let t = rd(w), t2 = ra(w), s = rm(w)
        let sizeLog2 = isPair ? size + 1 : size
        let address = l.regOrSP(rn(w), .i64)
        if isLoad {
            if isPair && t == t2 { throw l.unallocated(w) }
            let access = IRMemoryAccess(sizeLog2: sizeLog2, order: ordered ? .acquire : .plain)
            if isPair && sizeLog2 == 4 {
                let v = l.builder.emit(.loadExclusive, .v128, address, aux: access.rawValue)
                l.setReg(t, l.builder.emit(.vextract, .i64, v, imm: 0, aux: IRElement.i64.rawValue))
                l.setReg(t2, l.builder.emit(.vextract, .i64, v, imm: 1, aux: IRElement.i64.rawValue))
            } else {
                let v = l.builder.emit(.loadExclusive, .i64, address, aux: access.rawValue)
                if isPair {
                    l.setReg(t, l.builder.trunc(v, to: .i32))
                    l.setReg(t2, l.builder.trunc(l.builder.lshr(v, l.const64(32)), to: .i32))
                } else {
                    l.setReg(t, v)
                }
            }
            return
        }
        if s == t || s == rn(w) && rn(w) != 31 || isPair && s == t2 { throw l.unallocated(w) }
        let access = IRMemoryAccess(sizeLog2: sizeLog2, order: ordered ? .release : .plain)
        let value: IRValue
        if isPair {
            if sizeLog2 == 4 {
                value = l.builder.emit(.vpack, .v128, l.reg(t, .i64), l.reg(t2, .i64))
            } else {
                let low = l.builder.zext(l.reg(t, .i32), to: .i64)
                let high = l.builder.shl(l.builder.zext(l.reg(t2, .i32), to: .i64), l.const64(32))
                value = l.builder.or(low, high)
            }
        } else {
            value = l.reg(t, .i64)
        }
        let status = l.builder.emit(.storeExclusive, .i32, address, value, aux: access.rawValue)
        l.setReg(s, status)
    }

    /// LDAR, LDLAR, STLR, STLLR (LORegion forms behave as the plain acquire/release ones).
    static func ordered(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30)), isLoad = bit(w, 22)
        let address = l.regOrSP(rn(w), .i64)
        let x = Transfer(isLoad: isLoad, sizeLog2: size, type: size == 3 ? .i64 : .i32)
        perform(&l, x, register: rd(w), address: address, order: isLoad ? .acquire : .release)
    }

    /// LDAPR: load-acquire RCpc.
    static func loadAcquirePC(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30))
        let x = Transfer(isLoad: true, sizeLog2: size, type: size == 3 ? .i64 : .i32)
        perform(&l, x, register: rd(w), address: l.regOrSP(rn(w), .i64), order: .acquirePC)
    }

    /// STLUR, LDAPUR, LDAPURS* (unscaled RCpc forms).
    static func orderedUnscaled(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30)), opc = bits(w, 23, 22)
        let x: Transfer
        switch opc {
        case 0: x = Transfer(isLoad: false, sizeLog2: size)
        case 1: x = Transfer(isLoad: true, sizeLog2: size, type: size == 3 ? .i64 : .i32)
        case 2:
            guard size < 3 else { throw l.unallocated(w) }
            x = Transfer(isLoad: true, sizeLog2: size, signExtend: true, type: .i64)
        default:
            guard size < 2 else { throw l.unallocated(w) }
            x = Transfer(isLoad: true, sizeLog2: size, signExtend: true, type: .i32)
        }
        let imm = UInt64(bitPattern: signed(bits(w, 20, 12), 9))
        let base = l.regOrSP(rn(w), .i64)
        let address = imm == 0 ? base : l.builder.add(base, l.const64(imm))
        perform(&l, x, register: rd(w), address: address, order: x.isLoad ? .acquirePC : .release)
    }

    // MARK: LSE

    static func order(acquire: Bool, release: Bool) -> IRMemoryOrder {
        switch (acquire, release) {
        case (true, true): return .acquireRelease
        case (true, false): return .acquire
        case (false, true): return .release
        default: return .plain
        }
    }

    /// CAS, CASA, CASL, CASAL (all sizes).
    static func compareAndSwap(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30)), s = rm(w), t = rd(w)
        let access = IRMemoryAccess(sizeLog2: size, order: order(acquire: bit(w, 22), release: bit(w, 15)))
        let address = l.regOrSP(rn(w), .i64)
        let old = l.builder.emit(.compareAndSwap, .i64, address, l.reg(s, .i64), l.reg(t, .i64), aux: access.rawValue)
        l.setReg(s, size == 3 ? old : l.builder.trunc(old, to: .i32))
    }

    /// CASP, CASPA, CASPL, CASPAL: register pairs (Rs, Rs+1) and (Rt, Rt+1), both even.
    static func compareAndSwapPair(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let is64 = bit(w, 30), s = rm(w), t = rd(w)
        guard s & 1 == 0, t & 1 == 0 else { throw l.unallocated(w) }
        let access = IRMemoryAccess(sizeLog2: is64 ? 4 : 3, order: order(acquire: bit(w, 22), release: bit(w, 15)))
        let address = l.regOrSP(rn(w), .i64)
        if is64 {
            let expected = l.builder.emit(.vpack, .v128, l.reg(s, .i64), l.reg(s + 1, .i64))
            let new = l.builder.emit(.vpack, .v128, l.reg(t, .i64), l.reg(t + 1, .i64))
            let old = l.builder.emit(.compareAndSwap, .v128, address, expected, new, aux: access.rawValue)
            l.setReg(s, l.builder.emit(.vextract, .i64, old, imm: 0, aux: IRElement.i64.rawValue))
            l.setReg(s + 1, l.builder.emit(.vextract, .i64, old, imm: 1, aux: IRElement.i64.rawValue))
        } else {
            func join(_ l: inout A64Lifter, _ r: Int) -> IRValue {
                let low = l.builder.zext(l.reg(r, .i32), to: .i64)
                return l.builder.or(low, l.builder.shl(l.builder.zext(l.reg(r + 1, .i32), to: .i64), l.const64(32)))
            }
            let expected = join(&l, s), new = join(&l, t)
            let old = l.builder.emit(.compareAndSwap, .i64, address, expected, new, aux: access.rawValue)
            l.setReg(s, l.builder.trunc(old, to: .i32))
            l.setReg(s + 1, l.builder.trunc(l.builder.lshr(old, l.const64(32)), to: .i32))
        }
    }

    /// LDADD, LDCLR, LDEOR, LDSET, LD{S,U}{MAX,MIN}, SWP with every ordering and size (and the
    /// ST* aliases, which are these with Rt = zero register).
    static func atomic(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 31, 30))
        let op: IRAtomicOp
        if bit(w, 15) {
            guard bits(w, 14, 12) == 0 else { throw l.unallocated(w) }
            op = .swap
        } else {
            op = IRAtomicOp(rawValue: UInt8(bits(w, 14, 12))) ?? .add
        }
        let access = IRMemoryAccess(sizeLog2: size, order: order(acquire: bit(w, 23), release: bit(w, 22)), atomic: op)
        let address = l.regOrSP(rn(w), .i64)
        let old = l.builder.emit(.atomicRMW, .i64, address, l.reg(rm(w), .i64), aux: access.rawValue)
        l.setReg(rd(w), old)
    }
}
