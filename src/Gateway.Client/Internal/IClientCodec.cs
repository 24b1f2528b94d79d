using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace Gateway.Client.Internal;

/// <summary>
/// One wire format, as the client needs it: envelopes written straight into a pooled buffer, and one received message
/// read into an <see cref="IncomingMessage"/> whose values are slices of the message bytes, decoded only by whoever
/// consumes them (into the caller's own type). A second format is a second implementation; nothing else changes.
/// </summary>
internal interface IClientCodec
{
    string Subprotocol { get; }
    WebSocketMessageType MessageType { get; }

    /// <summary>A request (<paramref name="id"/> &gt; 0) or a notification (id 0), with the input when <paramref name="hasInput"/>.</summary>
    void WriteRequest<TInput>(IBufferWriter<byte> output, long id, string path, TInput input, bool hasInput);
    /// <summary>A request or notification whose input's type is only known at run time (null: no input).</summary>
    void WriteRequestUntyped(IBufferWriter<byte> output, long id, string path, object? input);
    void WriteCancel(IBufferWriter<byte> output, long id);
    /// <summary>The answer to a server call.</summary>
    void WriteResult(IBufferWriter<byte> output, long id, object? result, Type? resultType);
    void WriteError(IBufferWriter<byte> output, long id, RpcException error);

    /// <summary>Reads one message; false (with a reason) when it is not an envelope this client understands.</summary>
    bool TryRead(ReadOnlyMemory<byte> message, out IncomingMessage incoming, out string? problem);

    /// <summary>
    /// A value slice of a message read as <typeparamref name="T"/> (an empty slice or null is default). A value that does
    /// not fit throws JsonException, NotSupportedException or InvalidOperationException in every format (so do the writers).
    /// </summary>
    T? Read<T>(ReadOnlyMemory<byte> value);
    object? Read(ReadOnlyMemory<byte> value, Type type);
    /// <summary>The error object of a message.</summary>
    RpcException ReadError(ReadOnlyMemory<byte> error);
    /// <summary>A value as a detached JsonElement (server calls hand their input to a handler that runs later).</summary>
    JsonElement? ReadElement(ReadOnlyMemory<byte> value);
}

/// <summary>What one received message says; value members are slices of the message (valid while it is being handled).</summary>
internal struct IncomingMessage
{
    public bool HasId;
    /// <summary>The id when it is an integer (the only kind this client sends and the server picks for its calls).</summary>
    public long Id;
    public string? Path;
    public string? Event;
    public string? Topic;
    public bool Cancel;
    public bool Done;
    public bool HasInput, HasResult, HasError, HasData, HasProgress;
    public ReadOnlyMemory<byte> Input, Result, Error, Data, Progress;
}
