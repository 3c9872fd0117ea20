/// CNTVCT_EL0 for one dispatcher: nanoseconds since the dispatcher started. Under `--lockstep`
/// the counter holds still while one block runs on both tiers, so a block that reads it gives
/// the interpreter and the JIT the same value (it still advances from block to block).
final class GuestCounter {
    private let start = monotonicNanoseconds()
    private var held: UInt64?

    /// The counter's value now (or the held value).
    func read() -> UInt64 { held ?? (monotonicNanoseconds() &- start) }

    /// Holds the counter at its current value until `release`.
    func hold() { held = monotonicNanoseconds() &- start }

    func release() { held = nil }
}
