using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Samples;

public sealed record TickerTick(long Seq, DateTimeOffset Time);

/// <summary>
/// A background service of the plugin: publishes <c>ticker.tick</c> {seq, time} to topic <c>ticker</c> every
/// <c>Samples:Ticker:Interval</c> (default one second). Clients see it with <c>{"id":1,"path":"$subscribe","input":{"topic":"ticker"}}</c>.
/// </summary>
public sealed class Ticker(ITopics topics, ILogger<Ticker> log, TimeSpan interval) : BackgroundService
{
    public const string Topic = "ticker";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        long seq = 0;
        bool failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await topics.PublishAsync(Topic, "ticker.tick", new TickerTick(++seq, DateTimeOffset.UtcNow), stoppingToken);
                    if (failing) log.LogInformation("Ticker: publishing again (tick {Seq})", seq);
                    failing = false;
                }
                catch (RpcException ex)
                {
                    // The backplane is down: this node's subscribers got the tick, other nodes' did not. Say so once, not every second.
                    if (!failing) log.LogWarning("Ticker: tick {Seq} did not reach every node: {Message}", seq, ex.Message);
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>Registers the ticker; <c>Samples:Ticker:Enabled=false</c> turns it off.</summary>
public sealed class SamplesPlugin : IGatewayPlugin
{
    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection("Samples:Ticker");
        if (section["Enabled"] is { } enabled)
        {
            if (!bool.TryParse(enabled, out bool on)) throw new ArgumentException($"Samples:Ticker:Enabled must be true or false (got '{enabled}')");
            if (!on) return;
        }
        var interval = TimeSpan.FromSeconds(1);
        if (section["Interval"] is { } text &&
            (!TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out interval) || interval < TimeSpan.FromMilliseconds(10) || interval > TimeSpan.FromHours(1)))
            throw new ArgumentException($"Samples:Ticker:Interval must be between 00:00:00.010 and 01:00:00 (got '{text}')");
        services.AddHostedService(sp => new Ticker(sp.GetRequiredService<ITopics>(), sp.GetRequiredService<ILogger<Ticker>>(), interval));
    }
}
