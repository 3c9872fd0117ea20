import KilnIR

extension A64Table {
    /// Advanced SIMD.
    static let simd: [A64Encoding] = [
    ]
}
