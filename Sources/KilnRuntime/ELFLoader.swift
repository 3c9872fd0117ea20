#if canImport(Glibc)
import Glibc
#endif
import KilnELF

/// An ELF image mapped into guest memory.
struct LoadedImage {
    /// Host path of the file.
    var path: String
    /// Load bias (0 for ET_EXEC).
    var bias: UInt64
    var entry: UInt64
    /// Guest address of the program headers, their entry size and count (AT_PHDR...).
    var programHeaderAddress: UInt64
    var programHeaderSize: UInt64
    var programHeaderCount: UInt64
    /// End of the highest segment (the program break starts above it).
    var end: UInt64
    /// PT_INTERP contents, if any.
    var interpreter: String?
    /// Whether PT_GNU_STACK asks for an executable stack.
    var executableStack: Bool
}

/// Maps ELF programs the way the kernel's binfmt_elf does: ET_EXEC at its addresses, ET_DYN
/// main programs at `GuestLayout.programBase`, interpreters wherever mmap would put them.
struct ELFLoader {
    let addressSpace: GuestAddressSpace

    /// Reads the headers of the file at `path` and checks that it is a runnable arm64 ELF.
    static func open(_ path: String) throws -> ELFFile {
        let elf: ELFFile
        do {
            elf = try ELFFile(contentsOfFile: path)
        } catch let error as ELFError {
            if case let .io(_, errno) = error, errno == ENOENT { throw RuntimeError.programNotFound(path, tried: [path]) }
            if case let .unsupportedMachine(machine) = error { throw RuntimeError.wrongMachine(path: path, machine: machine) }
            throw RuntimeError.notELF(path: path, reason: error.description)
        }
        guard elf.header.machine == .aarch64 else { throw RuntimeError.wrongMachine(path: path, machine: elf.header.machine.rawValue) }
        guard elf.header.type == .executable || elf.header.type == .sharedObject else { throw RuntimeError.notExecutable(path: path) }
        guard elf.programHeaders.contains(where: { $0.type == ELFSegmentType.load }) else {
            throw RuntimeError.notELF(path: path, reason: "no loadable segments")
        }
        return elf
    }

    /// Maps `elf` (read from `path`). `isMain` selects the PIE base for ET_DYN.
    func load(_ elf: ELFFile, path: String, isMain: Bool) throws -> LoadedImage {
        let loads = elf.programHeaders.filter { $0.type == ELFSegmentType.load && $0.memorySize > 0 }
        guard let first = loads.first else { throw RuntimeError.notELF(path: path, reason: "no loadable segments") }
        let low = GuestLayout.pageDown(loads.map(\.virtualAddress).min() ?? first.virtualAddress)
        var high: UInt64 = 0
        for s in loads {
            let (end, overflow) = s.virtualAddress.addingReportingOverflow(s.memorySize)
            guard !overflow, s.fileSize <= s.memorySize else { throw RuntimeError.notELF(path: path, reason: "segment sizes overflow") }
            high = max(high, end)
        }
        let span = GuestLayout.pageUp(high) - low

        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.programNotFound(path, tried: [path]) }
        defer { close(fd) }

        // Reserve the whole span first: the kernel refuses it if anything is there.
        let bias: UInt64
        if elf.header.type == .executable {
            guard GuestLayout.contains(low, span) else { throw RuntimeError.cannotMap(path: path, address: low, errno: ENOMEM) }
            let r = addressSpace.map(address: low, length: span, protection: PROT_NONE,
                                     flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, fd: -1, offset: 0)
            guard r >= 0 else { throw RuntimeError.cannotMap(path: path, address: low, errno: Int32(-r)) }
            bias = 0
        } else {
            let hint = isMain ? GuestLayout.programBase : 0
            let r = addressSpace.map(address: hint, length: span, protection: PROT_NONE,
                                     flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
            guard r >= 0 else { throw RuntimeError.cannotMap(path: path, address: hint, errno: Int32(-r)) }
            bias = UInt64(r) &- low
        }

        for s in loads {
            let prot = protection(s.flags)
            let segmentStart = bias &+ s.virtualAddress
            let mapStart = GuestLayout.pageDown(segmentStart)
            let fileEnd = segmentStart + s.fileSize
            let memoryEnd = GuestLayout.pageUp(segmentStart + s.memorySize)
            guard s.virtualAddress & (GuestLayout.pageSize - 1) == s.offset & (GuestLayout.pageSize - 1) else {
                throw RuntimeError.notELF(path: path, reason: "segment at \(hex(s.virtualAddress)) is not congruent with its file offset")
            }
            var mappedEnd = mapStart
            if s.fileSize > 0 {
                let fileOffset = GuestLayout.pageDown(s.offset)
                let length = GuestLayout.pageUp(fileEnd) - mapStart
                let writableProt = s.memorySize > s.fileSize ? prot | PROT_WRITE : prot
                let r = addressSpace.map(address: mapStart, length: length, protection: writableProt,
                                         flags: MAP_PRIVATE | MAP_FIXED, fd: fd, offset: fileOffset)
                guard r >= 0 else { throw RuntimeError.cannotMap(path: path, address: mapStart, errno: Int32(-r)) }
                mappedEnd = mapStart + length
                if s.memorySize > s.fileSize {
                    // The rest of the last file page belongs to .bss and must read as zero.
                    let zeroLength = Int(mappedEnd - fileEnd)
                    if zeroLength > 0, let p = UnsafeMutableRawPointer(bitPattern: UInt(fileEnd)) {
                        memset(p, 0, zeroLength)
                    }
                    if writableProt != prot { _ = addressSpace.protect(address: mapStart, length: length, protection: prot) }
                }
            }
            if memoryEnd > mappedEnd {
                let r = addressSpace.map(address: mappedEnd, length: memoryEnd - mappedEnd, protection: prot,
                                         flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, fd: -1, offset: 0)
                guard r >= 0 else { throw RuntimeError.cannotMap(path: path, address: mappedEnd, errno: Int32(-r)) }
            }
        }

        var phdr: UInt64 = 0
        if let p = elf.programHeaders.first(where: { $0.type == ELFSegmentType.programHeader }) {
            phdr = bias &+ p.virtualAddress
        } else if let s = loads.first(where: { elf.header.programHeaderOffset >= $0.offset && elf.header.programHeaderOffset - $0.offset < $0.fileSize }) {
            phdr = bias &+ s.virtualAddress &+ (elf.header.programHeaderOffset - s.offset)
        }
        var interpreter: String?
        if let p = elf.programHeaders.first(where: { $0.type == ELFSegmentType.interpreter }) {
            let bytes = try elf.fileBytes(of: p)
            interpreter = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        let stack = elf.programHeaders.first { $0.type == ELFSegmentType.gnuStack }
        return LoadedImage(path: path, bias: bias, entry: bias &+ elf.header.entry, programHeaderAddress: phdr,
                           programHeaderSize: UInt64(elf.header.programHeaderEntrySize),
                           programHeaderCount: UInt64(elf.header.programHeaderCount),
                           end: bias &+ high, interpreter: interpreter,
                           executableStack: stack.map { $0.flags.contains(.execute) } ?? true)
    }

    private func protection(_ flags: ELFSegmentFlags) -> Int32 {
        (flags.contains(.read) ? PROT_READ : 0) | (flags.contains(.write) ? PROT_WRITE : 0) | (flags.contains(.execute) ? PROT_EXEC : 0)
    }
}
