#if canImport(Glibc)
import Glibc
#endif
import KilnCache
import KilnHost

/// The `--cache-report` output format.
public enum CacheReportFormat: String, Sendable {
    case text
    case json

    /// `KILN_CACHE_REPORT`'s value: unset, empty or "0" means no report; "json" JSON; anything
    /// else text.
    public init?(environmentValue: String?) {
        guard let value = environmentValue, !value.isEmpty, value != "0" else { return nil }
        self = value == "json" ? .json : .text
    }
}

extension CacheAttach {
    /// The report printed at exit: per region its path, identity, cache file, status, what the
    /// cache served and what the JIT translated (with why), time attaching and loading versus
    /// translating; then totals.
    public func report(_ format: CacheReportFormat) -> String {
        let regions = allRegions
        let (anonymousCount, anonymousNanoseconds) = anonymous
        func ms(_ ns: UInt64) -> String {
            let hundredths = (ns + 5_000) / 10_000
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
        var served = 0, preloaded = 0, jit = 0, used = 0
        var attach: UInt64 = 0, load: UInt64 = 0, translate = anonymousNanoseconds
        for r in regions {
            served += r.served
            preloaded += r.preloaded
            jit += r.jit.reduce(0, +)
            used += r.status == "used" ? 1 : 0
            attach &+= r.attachNanoseconds
            load &+= r.loadNanoseconds
            translate &+= r.translateNanoseconds
        }
        jit += anonymousCount
        switch format {
        case .text:
            var lines = ["kiln: cache report (mode \(mode.rawValue))"]
            for r in regions {
                lines.append("region \(hex(r.start))-\(hex(r.end)) \(r.path)")
                if let identity = r.identity {
                    lines.append("  identity \(identity.contentHash.hex)\(identity.buildID.isEmpty ? "" : " build-id \(identity.buildIDHex)")")
                }
                lines.append("  cache \(r.cachePath ?? "-")")
                lines.append("  status \(r.status == "used" ? "used" : "\(r.status): \(r.reason): \(r.detail)")")
                let reasons = JITReason.allCases.filter { r.jit[$0.rawValue] > 0 }.map { "\($0.name) \(r.jit[$0.rawValue])" }
                lines.append("  served \(r.served)\(mode == .verify ? " (verified \(r.verified))" : ""), preloaded \(r.preloaded), jit \(r.jit.reduce(0, +))"
                             + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"))
                lines.append("  attach \(ms(r.attachNanoseconds)) ms, loading \(ms(r.loadNanoseconds)) ms, translating \(ms(r.translateNanoseconds)) ms")
            }
            if anonymousCount > 0 {
                lines.append("anonymous memory: jit \(anonymousCount) (anonymous-memory), translating \(ms(anonymousNanoseconds)) ms")
            }
            lines.append("total: regions \(regions.count) (cache used \(used)), served \(served), preloaded \(preloaded), jit \(jit), "
                         + "attach \(ms(attach)) ms, loading \(ms(load)) ms, translating \(ms(translate)) ms")
            return lines.joined(separator: "\n") + "\n"
        case .json:
            let items = regions.map { r -> String in
                let reasons = JITReason.allCases.map { "\(jsonQuoted($0.name)): \(r.jit[$0.rawValue])" }.joined(separator: ", ")
                return "{\"path\": \(jsonQuoted(r.path)), \"start\": \(r.start), \"end\": \(r.end), "
                    + "\"identity\": \(r.identity.map { jsonQuoted($0.contentHash.hex) } ?? "null"), "
                    + "\"buildID\": \(r.identity.map { jsonQuoted($0.buildIDHex) } ?? "null"), "
                    + "\"cacheFile\": \(r.cachePath.map(jsonQuoted) ?? "null"), \"status\": \(jsonQuoted(r.status)), "
                    + "\"reason\": \(jsonQuoted(r.reason)), \"detail\": \(jsonQuoted(r.detail)), "
                    + "\"served\": \(r.served), \"preloaded\": \(r.preloaded), \"verified\": \(r.verified), \"jit\": \(r.jit.reduce(0, +)), \"jitReasons\": {\(reasons)}, "
                    + "\"attachMs\": \(ms(r.attachNanoseconds)), \"loadingMs\": \(ms(r.loadNanoseconds)), "
                    + "\"translatingMs\": \(ms(r.translateNanoseconds))}"
            }
            return "{\"mode\": \(jsonQuoted(mode.rawValue)), \"regions\": [\(items.joined(separator: ", "))], "
                + "\"anonymous\": {\"jit\": \(anonymousCount), \"translatingMs\": \(ms(anonymousNanoseconds))}, "
                + "\"totals\": {\"regions\": \(regions.count), \"cacheUsed\": \(used), \"served\": \(served), \"preloaded\": \(preloaded), \"jit\": \(jit), "
                + "\"attachMs\": \(ms(attach)), \"loadingMs\": \(ms(load)), \"translatingMs\": \(ms(translate))}}\n"
        }
    }
}

extension CacheAttach {
    /// Sets up the process's cache layer for `mode` before the guest runs, and at exit flushes
    /// codemaps and prints the report (to stderr) when `report` is set. With `off` and no
    /// report nothing is installed, so the JIT pays nothing.
    public static func install(mode: CacheMode, report: CacheReportFormat?, environment: [String: String], process: GuestProcess) {
        guard mode != .off || report != nil else { return }
        let cache = CacheAttach(mode: mode, environment: environment, timing: report != nil)
        shared = cache
        if let recorder = cache.recorder { process.reserveDescriptor(recorder.descriptor) }
        // The guest may close its stderr before it exits (coreutils do): the report goes to
        // a copy of it, far from the descriptors a guest uses, that the guest cannot close.
        let reportDescriptor = report == nil ? -1 : fcntl(2, F_DUPFD_CLOEXEC, 901)
        if reportDescriptor >= 0 { process.reserveDescriptor(reportDescriptor) }
        process.atExit {
            cache.flush()
            if let report, reportDescriptor >= 0 { Descriptor.writeAll(reportDescriptor, cache.report(report)) }
        }
    }
}
