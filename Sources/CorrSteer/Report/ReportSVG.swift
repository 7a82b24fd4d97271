import Foundation

/// Inline SVG charts for the HTML report. Markup is XML-well-formed and loads nothing.
enum ReportSVG {
    struct Bar {
        var label: String
        var value: Double
        var tooltip: String
        /// Optional error bar (e.g. a confidence interval) in the value's units.
        var interval: Interval?
    }

    /// A vertical bar chart; negative values hang below the zero line.
    static func barChart(_ bars: [Bar], title: String, valueLabel: (Double) -> String, width: Int = 760, height: Int = 260) -> String {
        let left = 56.0, right = 12.0, top = 28.0, bottom = 34.0
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        let values = bars.flatMap { bar in [bar.value] + (bar.interval.map { [$0.lower, $0.upper] } ?? []) }
        var high = max(values.max() ?? 0, 0), low = min(values.min() ?? 0, 0)
        if high == low { high = low + 1 }
        let span = high - low
        high += span * 0.05
        if low < 0 { low -= span * 0.05 }
        func y(_ value: Double) -> Double { top + (high - value) / (high - low) * plotHeight }

        var svg = "<svg class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(ReportHTML.escape(title))\">"
        svg += "<title>\(ReportHTML.escape(title))</title>"
        svg += text(x: Double(width) / 2, y: 16, title, anchor: "middle", cssClass: "chart-title")
        for tick in ticks(low: low, high: high) {
            let ty = y(tick)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(ty))\" class=\"grid\"/>"
            svg += text(x: left - 6, y: ty + 4, valueLabel(tick), anchor: "end", cssClass: "tick")
        }
        let zero = y(0)
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(zero))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(zero))\" class=\"axis\"/>"
        let slot = bars.isEmpty ? plotWidth : plotWidth / Double(bars.count)
        let barWidth = max(slot * 0.7, 1)
        let labelEvery = max(1, Int((Double(bars.count) * 22 / plotWidth).rounded(.up)))
        for (index, bar) in bars.enumerated() {
            let x = left + Double(index) * slot + (slot - barWidth) / 2
            let (y0, y1) = (min(y(bar.value), zero), max(y(bar.value), zero))
            svg += "<rect x=\"\(f(x))\" y=\"\(f(y0))\" width=\"\(f(barWidth))\" height=\"\(f(max(y1 - y0, 0.5)))\" class=\"\(bar.value < 0 ? "bar negative" : "bar")\">"
            svg += "<title>\(ReportHTML.escape(bar.tooltip))</title></rect>"
            if let interval = bar.interval {
                let cx = x + barWidth / 2
                svg += "<line x1=\"\(f(cx))\" y1=\"\(f(y(interval.lower)))\" x2=\"\(f(cx))\" y2=\"\(f(y(interval.upper)))\" class=\"whisker\"/>"
                for end in [interval.lower, interval.upper] {
                    svg += "<line x1=\"\(f(cx - 4))\" y1=\"\(f(y(end)))\" x2=\"\(f(cx + 4))\" y2=\"\(f(y(end)))\" class=\"whisker\"/>"
                }
            }
            if index % labelEvery == 0 {
                svg += text(x: x + barWidth / 2, y: Double(height) - bottom + 16, bar.label, anchor: "middle", cssClass: "tick")
            }
        }
        return svg + "</svg>"
    }

    /// A small histogram of one layer's correlations: bar heights on a log scale (log(1 + count)), since
    /// nearly every feature sits near 0 and the tails, which hold the selected features, are what matter.
    static func histogram(_ h: CorrelationHistogram, width: Int = 230, height: Int = 120) -> String {
        let left = 6.0, right = 6.0, top = 20.0, bottom = 18.0
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        let title = "layer \(h.layer): \(h.features) features"
        var svg = "<svg class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(ReportHTML.escape(title))\">"
        svg += "<title>\(ReportHTML.escape(title))</title>"
        svg += text(x: Double(width) / 2, y: 13, title, anchor: "middle", cssClass: "chart-title")
        let highest = log1p(Double(h.counts.max() ?? 0))
        let slot = plotWidth / Double(max(h.counts.count, 1))
        let binWidth = 2 * h.bound / Double(max(h.counts.count, 1))
        for (index, count) in h.counts.enumerated() where count > 0 {
            let barHeight = highest > 0 ? log1p(Double(count)) / highest * plotHeight : 0
            let low = -h.bound + Double(index) * binWidth
            let tooltip = String(format: "r in [%.3f, %.3f): %d features", low, low + binWidth, count)
            svg += "<rect x=\"\(f(left + Double(index) * slot + 0.5))\" y=\"\(f(top + plotHeight - barHeight))\" width=\"\(f(max(slot - 1, 0.5)))\" height=\"\(f(max(barHeight, 0.5)))\" class=\"\(low + binWidth <= 0 ? "bar negative" : "bar")\">"
            svg += "<title>\(ReportHTML.escape(tooltip))</title></rect>"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(top + plotHeight))\" class=\"axis\"/>"
        let baseline = Double(height) - 4
        svg += text(x: left, y: baseline, String(format: "%.2f", -h.bound), anchor: "start", cssClass: "tick")
        svg += text(x: left + plotWidth / 2, y: baseline, "0", anchor: "middle", cssClass: "tick")
        svg += text(x: left + plotWidth, y: baseline, String(format: "%.2f", h.bound), anchor: "end", cssClass: "tick")
        return svg + "</svg>"
    }

    /// About five round ticks between low and high.
    static func ticks(low: Double, high: Double) -> [Double] {
        let raw = (high - low) / 5
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var value = (low / step).rounded(.up) * step
        while value <= high + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return values
    }

    static func text(x: Double, y: Double, _ content: String, anchor: String, cssClass: String) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" class=\"\(cssClass)\">\(ReportHTML.escape(content))</text>"
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
