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
        requests = registry.makeCounter(name: "corrsteer_requests_total", help: "Generation requests accepted into the queue.")
        rejected = registry.makeCounter(name: "corrsteer_requests_rejected_total", help: "Requests refused because the queue was full.")
        generatedTokens = registry.makeCounter(name: "corrsteer_generated_tokens_total", help: "Tokens generated.")
        promptTokens = registry.makeCounter(name: "corrsteer_prompt_tokens_total", help: "Prompt tokens prefilled.")
        queued = registry.makeGauge(name: "corrsteer_queued_requests", help: "Requests waiting for a slot.")
        running = registry.makeGauge(name: "corrsteer_running_requests", help: "Sequences in the decode batch.")
        requestSeconds = registry.makeDurationHistogram(
            name: "corrsteer_request_duration_seconds",
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                      .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60)],
            help: "Time from accepting a request to its last token.")
    }

    public func text() -> String { registry.emitToString() }
}
