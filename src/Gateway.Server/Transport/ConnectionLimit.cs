using Gateway.Server.Options;

namespace Gateway.Server.Transport;

/// <summary>
/// The connection limit in force and where accepting pauses: <c>Limits:MaxConnections</c>, or derived from the
/// descriptor limit when that is 0; never more connections than descriptors, whatever the option says.
/// </summary>
internal readonly record struct ConnectionLimit(int Max, string Source, int AcceptLimit, long? Descriptors)
{
    /// <summary>
    /// Connections accepted past <c>Limits:MaxConnections</c> only to be answered (503 for an upgrade, health
    /// endpoints as usual); past these too, accepting pauses and the kernel's listen backlog holds newcomers.
    /// </summary>
    public const int OverLimitSlots = 32;

    /// <summary>True when accepting pauses before <see cref="Max"/> + <see cref="OverLimitSlots"/> (the descriptors do not allow more).</summary>
    public bool CappedByDescriptors => Max > 0 && AcceptLimit < Max + OverLimitSlots;

    /// <summary>
    /// Computed when the server is created, after the plugins are loaded (the host builds the server last), so the
    /// descriptors open now include theirs. <see cref="AcceptLimit"/> 0 = no limit.
    /// </summary>
    public static ConnectionLimit Compute(LimitsOptions limits)
    {
        long? descriptors = DescriptorLimit.SoftLimit();
        int? open = DescriptorLimit.OpenNow();
        int? budget = DescriptorLimit.ConnectionBudget(descriptors, open, DescriptorReserve.Size);
        int max = 0;
        string source;
        if (limits.MaxConnections > 0)
        {
            max = limits.MaxConnections;
            source = $"{GatewayOptions.SectionName}:Limits:MaxConnections";
        }
        else if (budget is { } b)
        {
            max = Math.Max(DescriptorLimit.Minimum, b - OverLimitSlots);
            source = $"from the descriptor limit: {descriptors} - {open ?? 0} open - {DescriptorLimit.Headroom} headroom - {OverLimitSlots} over-limit slots - {DescriptorReserve.Size} reserve";
        }
        else
        {
            source = "0 = none: the descriptor limit is unknown or unlimited";
        }
        long acceptLimit = max > 0 ? (long)max + OverLimitSlots : long.MaxValue;
        if (budget is { } fit && fit < acceptLimit) acceptLimit = fit;
        return new ConnectionLimit(max, source, acceptLimit < int.MaxValue ? (int)acceptLimit : 0, descriptors);
    }
}
