import KilnIR

extension A64Table {
    /// Scalar floating point.
    static let floatingPoint: [A64Encoding] = [
    ]
}
