using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Server.Codec;

namespace Gateway.Server.Push;

/// <summary>A call whose caller awaits a typed result on this node.</summary>
internal sealed class TypedServerCall<TResult>(JsonTypeInfo<TResult> info, string what) : ServerCall
{
    private readonly TaskCompletionSource<TResult> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResult> Task => _tcs.Task;

    public override void OnResult(in ReadOnlySequence<byte> json)
    {
        if (!TryClaim()) return;
        try
        {
            var reader = new Utf8JsonReader(json);
            _tcs.TrySetResult(JsonSerializer.Deserialize(ref reader, info)!);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException)
        {
            _tcs.TrySetException(new RpcException(ErrorCode.InvalidArgument,
                $"the answer of {what} is not valid: {JsonShape.Explain(JsonShape.Describe(typeof(TResult)), info, ex, 64)}"));
        }
    }

    public override void OnError(in ReadOnlySequence<byte> errorObject)
    {
        if (TryClaim()) _tcs.TrySetException(ErrorObjects.ToException(errorObject));
    }

    public override void OnFailed(ErrorCode code, string message)
    {
        if (TryClaim()) _tcs.TrySetException(new RpcException(code, message));
    }

    public void OnCancelled(CancellationToken token)
    {
        if (TryClaim()) _tcs.TrySetCanceled(token);
    }
}
