import Prometheus

/// The server's Prometheus metrics (GET /metrics).
public final class ServingMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let rejected: Counter
    let generatedTokens: Counter
    let promptTokens: Counter
    let queued: Gauge
    let running: Gauge
    let requestSeconds: DurationHistogram

    public init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "corrsteer", metricName: metric, unitName: unit, helpText: help)
        }
        requests = registry.makeCounter(descriptor: name("requests", "total", "Generation requests accepted into the queue."))
        rejected = registry.makeCounter(descriptor: name("requests_rejected", "total", "Requests refused because the queue was full."))
        generatedTokens = registry.makeCounter(descriptor: name("generated_tokens", "total", "Tokens generated."))
        promptTokens = registry.makeCounter(descriptor: name("prompt_tokens", "total", "Prompt tokens prefilled."))
        queued = registry.makeGauge(descriptor: name("queued", "requests", "Requests waiting for a slot."))
        running = registry.makeGauge(descriptor: name("running", "requests", "Sequences in the decode batch."))
        requestSeconds = registry.makeDurationHistogram(
            descriptor: name("request_duration", "seconds", "Time from accepting a request to its last token."),
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                      .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60)])
    }

    public func text() -> String { registry.emitToString() }
}
