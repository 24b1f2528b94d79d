using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Gateway.TestPlugin;

/// <summary>A publish whose data is kept as the client sent it (EncodedValue as a member of another type).</summary>
public sealed class EncodedPublish
{
    public string Topic { get; set; } = "";
    public string Event { get; set; } = "encoded.event";
    public EncodedValue Data { get; set; }
}

/// <summary>What a handler sees of an EncodedValue.</summary>
public sealed record EncodedInfo(string Format, string Json, string Kind, bool IsNull, int Length);

/// <summary>EncodedValue everywhere a value can go: results, stream items, topic events, server-call inputs and results.</summary>
[RpcService("encoded")]
public sealed class EncodedService
{
    /// <summary>The format the input arrived in, its JSON text and kind (ToJsonElement), and its encoded length.</summary>
    [Rpc("inspect")]
    public EncodedInfo Inspect(EncodedValue input) =>
        new(input.Format.ToString(), input.ToString(), input.ToJsonElement().ValueKind.ToString(), input.IsNull, input.Encoded.Length);

    /// <summary>The input read as a typed object (Deserialize&lt;T&gt;), whatever format it came in.</summary>
    [Rpc("typed")]
    public Dictionary<string, int>? Typed(EncodedValue input) => input.Deserialize<Dictionary<string, int>>();

    /// <summary>A value built on the server as JSON (Serialize), returned to a client of either format.</summary>
    [Rpc("made")]
    public EncodedValue Made() => EncodedValue.Serialize(new { text = "made", list = new[] { 1, 2 } });

    /// <summary>Streams the input back <c>n</c> times as stream items.</summary>
    [Subscription("stream")]
    public async IAsyncEnumerable<EncodedValue> Stream(EncodedValue input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < 3; i++)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return input;
        }
    }

    /// <summary>Publishes the input's data, untouched, to the topic.</summary>
    [Rpc("publish")]
    public async Task<string> Publish(EncodedPublish input, RpcContext context)
    {
        await context.Topics.PublishAsync(input.Topic, input.Event, input.Data, context.CancellationToken);
        return input.Data.Format.ToString();
    }

    /// <summary>Calls the caller at client/echo with the input and returns the client's answer, both as EncodedValue.</summary>
    [Rpc("call")]
    public Task<EncodedValue> Call(EncodedValue input, RpcContext context) =>
        context.CallClientAsync<EncodedValue>("client/echo", input, TimeSpan.FromSeconds(10));
}
