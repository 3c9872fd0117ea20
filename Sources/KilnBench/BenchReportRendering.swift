#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

extension BenchReport {
    /// report.md: one table row per workload and variant, then the chart (report.svg).
    public func markdown(chartFile: String = "report.svg") -> String {
        var out = "# Kiln benchmark\n\n"
        out += "\(date) · kiln \(kilnVersion) · \(host.cpu), \(host.cpus) CPUs · \(host.kernel) · "
        out += "\(runs) timed run\(runs == 1 ? "" : "s") per variant after \(warmup) warmup, variants alternating\n\n"
        out += table()
        for workload in workloads where !workload.preparation.isEmpty {
            let steps = workload.preparation.map { "\($0.name) \(formatSeconds($0.seconds))" }.joined(separator: ", ")
            out += "\n\(workload.name): \(steps) before the runs."
        }
        out += "\n\n![Median wall time per variant](\(chartFile))\n\n"
        out += "Commands:\n\n"
        for workload in workloads {
            for variant in workload.variants { out += "- \(workload.name), \(variant.name): `\(variant.command)`\n" }
            for step in workload.preparation { out += "- \(workload.name), \(step.name): `\(step.command)`\n" }
        }
        return out
    }

    /// The Markdown table alone, as `kiln bench` and `kiln demo` print it.
    public func table() -> String {
        var out = "| workload | variant | median | min | max | vs baseline | speed-up | translating |\n"
        out += "|---|---|---:|---:|---:|---:|---:|---:|\n"
        for workload in workloads {
            for variant in workload.variants {
                let delta = variant.name == workload.variants.first?.name ? "—" : formatDelta(variant.deltaVsBaseline)
                let share = variant.translateShare.map { formatPercent($0) + " (" + formatSeconds(variant.translateSeconds ?? 0) + ")" } ?? "—"
                out += "| \(workload.name) | \(variant.name) | \(formatSeconds(variant.wall.median)) | \(formatSeconds(variant.wall.min)) | "
                out += "\(formatSeconds(variant.wall.max)) | \(delta) | \(String(printf: "%.2fx", variant.speedupVsBaseline)) | \(share) |\n"
            }
        }
        return out
    }

    /// report.svg: one panel per workload, a horizontal bar per variant's median wall time
    /// with its min–max range as a whisker. Each panel has its own scale, since workloads
    /// differ by orders of magnitude.
    public func svg() -> String {
        let width = 760.0, labelWidth = 110.0, valueWidth = 90.0, barHeight = 22.0, gap = 6.0
        let panelTitle = 26.0, panelGap = 18.0
        let plotWidth = width - labelWidth - valueWidth - 20
        var y = 40.0
        var body = ""
        for workload in workloads {
            body += "<text x=\"10\" y=\"\(fmt(y + 16))\" class=\"title\">\(escapeXML(workload.name))</text>\n"
            y += panelTitle
            let scale = workload.variants.map(\.wall.max).max().map { $0 > 0 ? plotWidth / $0 : 0 } ?? 0
            for variant in workload.variants {
                let barWidth = max(1, variant.wall.median * scale)
                let color = Self.color(of: variant.name)
                body += "<text x=\"\(fmt(labelWidth - 8))\" y=\"\(fmt(y + barHeight * 0.7))\" text-anchor=\"end\">\(escapeXML(variant.name))</text>\n"
                body += "<rect x=\"\(fmt(labelWidth))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(barHeight))\" fill=\"\(color)\"/>\n"
                let whiskerY = y + barHeight / 2
                body += "<line x1=\"\(fmt(labelWidth + variant.wall.min * scale))\" y1=\"\(fmt(whiskerY))\" x2=\"\(fmt(labelWidth + variant.wall.max * scale))\" y2=\"\(fmt(whiskerY))\" class=\"range\"/>\n"
                body += "<text x=\"\(fmt(labelWidth + max(barWidth, variant.wall.max * scale) + 6))\" y=\"\(fmt(y + barHeight * 0.7))\">\(formatSeconds(variant.wall.median))</text>\n"
                y += barHeight + gap
            }
            y += panelGap
        }
        let height = y + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" font-family=\"sans-serif\" font-size=\"13\">\n"
        svg += "<style>.title{font-weight:bold}.range{stroke:#222;stroke-width:1.5}</style>\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"10\" y=\"22\" class=\"title\">Median wall time (lower is better; line: min to max of \(runs) runs)</text>\n"
        svg += body + "</svg>\n"
        return svg
    }

    /// Writes report.md, report.svg and report.json into `directory` (created if missing).
    public func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(markdown().utf8).write(to: URL(fileURLWithPath: directory + "/report.md"), options: .atomic)
        try Data(svg().utf8).write(to: URL(fileURLWithPath: directory + "/report.svg"), options: .atomic)
        try jsonData().write(to: URL(fileURLWithPath: directory + "/report.json"), options: .atomic)
    }

    static func color(of variant: String) -> String {
        switch variant {
        case "baseline": return "#9aa5b1"
        case "prebuilt": return "#d9622b"
        case "qemu": return "#4a7bb7"
        case "native": return "#5a9e5a"
        default: return "#8e6bb0"
        }
    }
}

/// "12.3 ms", "1.42 s".
public func formatSeconds(_ seconds: Double) -> String {
    if seconds < 1 { return String(printf: "%.1f ms", seconds * 1000) }
    return String(printf: "%.2f s", seconds)
}

/// "-75.0%", "+12.5%".
func formatDelta(_ delta: Double) -> String { String(printf: "%+.1f%%", delta * 100) }

func formatPercent(_ share: Double) -> String { String(printf: "%.0f%%", share * 100) }

private func fmt(_ value: Double) -> String { String(printf: "%.1f", value) }

private func escapeXML(_ text: String) -> String {
    text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;").replacing("\"", with: "&quot;")
}
