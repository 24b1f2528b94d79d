namespace Gateway.Client.Internal;

/// <summary>One message to send, described without a closure (a closure would be an allocation per call).</summary>
internal readonly struct Outgoing
{
    public enum Kinds : byte { Request, Cancel, Result, Error }

    public Kinds Kind { get; private init; }
    public long Id { get; private init; }
    public string? Path { get; private init; }
    public object? Value { get; private init; }
    public Type? ValueType { get; private init; }
    public RpcException? Error { get; private init; }

    /// <summary>A request (id &gt; 0) or a notification (id 0).</summary>
    public static Outgoing Request(long id, string path, object? input) => new() { Kind = Kinds.Request, Id = id, Path = path, Value = input };
    public static Outgoing Cancel(long id) => new() { Kind = Kinds.Cancel, Id = id };
    public static Outgoing Result(long id, object? value, Type? type) => new() { Kind = Kinds.Result, Id = id, Value = value, ValueType = type };
    public static Outgoing Failure(long id, RpcException error) => new() { Kind = Kinds.Error, Id = id, Error = error };

    public void WriteTo(IClientCodec codec, PooledBufferWriter output)
    {
        switch (Kind)
        {
            case Kinds.Request: codec.WriteRequestUntyped(output, Id, Path!, Value); break;
            case Kinds.Cancel: codec.WriteCancel(output, Id); break;
            case Kinds.Result: codec.WriteResult(output, Id, Value, ValueType); break;
            default: codec.WriteError(output, Id, Error!); break;
        }
    }
}
