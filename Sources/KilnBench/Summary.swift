/// Median, minimum and maximum of a set of timings. The median, not the mean, is what reports
/// compare: one run disturbed by another process moves the mean but not the median.
public struct Summary: Codable, Equatable, Sendable {
    public var median: Double
    public var min: Double
    public var max: Double

    /// Nil for no samples.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
    }
}
