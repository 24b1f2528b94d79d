using Gateway.Server.Options;

namespace Gateway.Server.Tests;

/// <summary>Limits:MaxPartialMessageBytesTotal: 0 resolves against the memory the GC may use; other values are checked at startup.</summary>
public class PartialMessageCapOptionsTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]                 // below one largest message (MaxMessageBytes, 1 MiB by default)
    [InlineData((1L << 40) + 1)]
    public void An_out_of_range_cap_is_refused_naming_the_key(long value)
    {
        var options = new GatewayOptions();
        options.Limits.MaxPartialMessageBytesTotal = value;
        var errors = GatewayOptionsValidator.Collect(options);
        Assert.Contains(errors, e => e.Contains("Gateway:Limits:MaxPartialMessageBytesTotal") && e.Contains(value.ToString()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1 << 20)]
    [InlineData(1L << 40)]
    public void Zero_and_values_from_MaxMessageBytes_up_are_accepted(long value)
    {
        var options = new GatewayOptions();
        options.Limits.MaxPartialMessageBytesTotal = value;
        Assert.DoesNotContain(GatewayOptionsValidator.Collect(options), e => e.Contains("MaxPartialMessageBytesTotal"));
    }

    [Fact]
    public void The_automatic_cap_is_a_quarter_of_the_memory_available_to_the_GC_and_at_least_one_message()
    {
        var options = new GatewayOptions();
        long expected = Math.Max(options.Limits.MaxMessageBytes, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);
        Assert.Equal(expected, options.Limits.EffectiveMaxPartialMessageBytesTotal);
        options.Limits.MaxPartialMessageBytesTotal = 5 << 20;
        Assert.Equal(5 << 20, options.Limits.EffectiveMaxPartialMessageBytesTotal);
    }
}
