using Gateway.LoadTest.Core;

namespace Gateway.LoadTest.Reporting;

/// <summary>Everything measured for one scenario run.</summary>
public sealed class ScenarioResult
{
    public required string Scenario { get; init; }
    public required string Label { get; init; }
    public required string Protocol { get; init; }
    public required string Url { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required string StepUnit { get; init; }
    public IReadOnlyList<(string Name, string Value)> Parameters { get; set; } = [];
    public required IReadOnlyList<string> Load { get; init; }

    public long Requests { get; set; }
    public long Ok { get; set; }
    public long Failed { get; set; }
    public double DurationSeconds { get; set; }
    public double Rps => DurationSeconds > 0 ? Requests / DurationSeconds : 0;
    public double OkRps => DurationSeconds > 0 ? Ok / DurationSeconds : 0;
    /// <summary>Latency of the successful steps.</summary>
    public LatencySummary Latency { get; set; } = LatencySummary.Empty;

    public long BytesIn { get; set; }
    public long BytesOut { get; set; }
    /// <summary>--deflate: what <see cref="BytesIn"/>/<see cref="BytesOut"/> would have been without compression (null without --deflate).</summary>
    public long? BytesInUncompressed { get; set; }
    public long? BytesOutUncompressed { get; set; }
    /// <summary>--deflate: connections on which the server accepted permessage-deflate.</summary>
    public int? DeflateConnections { get; set; }
    public int Cores { get; set; } = Environment.ProcessorCount;
    public double ClientCpuPercent { get; set; }
    /// <summary>The kernel's part of <see cref="ClientCpuPercent"/> (system calls: socket reads and writes).</summary>
    public double ClientCpuSystemPercent { get; set; }
    public int ClientGen0 { get; set; }
    public int ClientGen1 { get; set; }
    public int ClientGen2 { get; set; }
    public long ClientAllocatedBytes { get; set; }
    /// <summary>Of <see cref="ClientAllocatedBytes"/>, the latency recorders' sample arrays (storage kept to the end, not garbage).</summary>
    public long ClientSampleBytes { get; set; }
    /// <summary>CPUs of the machine (/proc/stat), which may be more than <see cref="Cores"/> when the tool is pinned.</summary>
    public int? MachineCpus { get; set; }
    /// <summary>Cores' worth of CPU the whole machine was busy over the window (/proc/stat).</summary>
    public double? MachineBusyCores { get; set; }
    /// <summary>Of that, what neither this tool nor the server used: other work sharing the machine.</summary>
    public double? OtherBusyCores { get; set; }
    public int? ServerPid { get; set; }
    public double? ServerCpuPercent { get; set; }
    /// <summary>The kernel's part of <see cref="ServerCpuPercent"/>.</summary>
    public double? ServerCpuSystemPercent { get; set; }
    public long? ServerRssBeforeKb { get; set; }
    public long? ServerRssAfterKb { get; set; }
    public long? ServerRssPeakKb { get; set; }

    /// <summary>Stream scenarios: items received in the window and their latency from the subscribe.</summary>
    public long? Items { get; set; }
    public double? ItemsPerSecond => Items is { } n && DurationSeconds > 0 ? n / DurationSeconds : null;
    public LatencySummary? ItemLatency { get; set; }

    /// <summary>Scenario-specific latencies (fanout: publish to receive): JSON key, name in the tables, figures.</summary>
    public List<(string Key, string Name, LatencySummary Summary)> Latencies { get; } = [];

    /// <summary>Scenario-specific figures: name, value (for JSON), display text.</summary>
    public List<(string Key, string Name, double Value, string Display)> Extra { get; } = [];
    public List<(string Reason, long Count)> Errors { get; } = [];
    public List<string> Notes { get; } = [];
}
