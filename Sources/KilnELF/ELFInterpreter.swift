extension ELFFile {
    /// The PT_INTERP path (the program interpreter, e.g. /lib/ld-linux-aarch64.so.1), or nil for
    /// a static program.
    public func interpreterPath() throws -> String? {
        guard let segment = programHeaders.first(where: { $0.type == ELFSegmentType.interpreter }) else { return nil }
        let bytes = try fileBytes(of: segment)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
