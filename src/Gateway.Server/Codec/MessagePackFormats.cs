using System.Runtime.CompilerServices;
using System.Text.Json;
using Gateway.Shared.MsgPack;
using MessagePack;

namespace Gateway.Server.Codec;

/// <summary>
/// The MessagePack side of one <see cref="JsonSerializerOptions"/> (the gateway's, or a test's): its contract resolver
/// and the library options built on it, made once and found again from the options every value is described with.
/// </summary>
internal sealed class MessagePackFormats
{
    private static readonly ConditionalWeakTable<JsonSerializerOptions, MessagePackFormats> All = new();
    // The gateway has one JsonSerializerOptions: remembering the last one found makes the lookup a reference compare.
    private static MessagePackFormats? s_last;

    private MessagePackSerializerOptions? _reading;

    private MessagePackFormats(JsonSerializerOptions json)
    {
        Json = json;
        Resolver = new JsonContractResolver(json, static type => type == typeof(EncodedValue) ? EncodedValueFormatter.Instance : null);
        Writing = MessagePackSerializerOptions.Standard.WithResolver(Resolver);
    }

    public JsonSerializerOptions Json { get; }
    public JsonContractResolver Resolver { get; }
    /// <summary>For what the gateway writes (trusted: its own values).</summary>
    public MessagePackSerializerOptions Writing { get; }

    /// <summary>For a client's values: untrusted data, at most <paramref name="maxDepth"/> levels (Gateway:Json:MaxDepth).</summary>
    public MessagePackSerializerOptions Reading(int maxDepth)
    {
        var reading = _reading;
        if (reading is not null && reading.Security.MaximumObjectGraphDepth == maxDepth) return reading;
        return _reading = Resolver.Options(maxDepth);
    }

    public static MessagePackFormats For(JsonSerializerOptions json)
    {
        var last = Volatile.Read(ref s_last);
        if (last is not null && ReferenceEquals(last.Json, json)) return last;
        var formats = All.GetValue(json, static j => new MessagePackFormats(j));
        Volatile.Write(ref s_last, formats);
        return formats;
    }
}
