namespace Gateway.Server;

/// <summary>Counter: only grows (Prometheus counter, ObservableCounter). Gauge: goes up and down (gauge, ObservableUpDownCounter).</summary>
internal enum MetricKind { Counter, Gauge }
