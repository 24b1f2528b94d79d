using System.Threading.Channels;

namespace Gateway.Client.Internal;

/// <summary>A subscription call: its items queue here (bounded by MaxBufferedStreamItems) until the caller's loop takes them.</summary>
internal sealed class StreamCall<T>(GatewayClient client, int maxBuffered) : PendingCall
{
    private readonly Channel<T> _items = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    // Counted here: a single-reader unbounded channel cannot count its items.
    private int _buffered;

    /// <summary>Takes the next buffered item.</summary>
    public bool TryRead(out T item)
    {
        if (!_items.Reader.TryRead(out item!)) return false;
        Interlocked.Decrement(ref _buffered);
        return true;
    }

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _items.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Set once the server ended the stream or it failed: nothing to cancel on the wire any more.</summary>
    public volatile bool Finished;

    public override void OnItem(IClientCodec codec, in IncomingMessage message)
    {
        if (!message.HasData) return;
        T? item;
        try { item = codec.Read<T>(message.Data); }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            if (client.TryTakePending(Id, this))
            {
                client.SendCancelInBackground(Id, Connection);
                Fail(new RpcException(RpcErrorCodes.Internal, $"a stream item cannot be read as {typeof(T).Name}: {ex.Message}", 500, retryable: false, innerException: ex));
            }
            return;
        }
        if (Volatile.Read(ref _buffered) >= maxBuffered)
        {
            if (client.TryTakePending(Id, this))
            {
                client.SendCancelInBackground(Id, Connection);
                Fail(new RpcException(RpcErrorCodes.ResourceExhausted,
                    $"the stream's reader fell {maxBuffered} items behind (GatewayClientOptions.MaxBufferedStreamItems); the stream was cancelled", 429, retryable: false));
            }
            return;
        }
        Interlocked.Increment(ref _buffered);
        _items.Writer.TryWrite(item!);
    }

    public override void OnTerminal(IClientCodec codec, in IncomingMessage message)
    {
        if (message.HasError)
        {
            Fail(codec.ReadError(message.Error));
            return;
        }
        // {"id","data":null,"done":true}: the end; a last item alongside done is not part of the protocol.
        Finished = true;
        _items.Writer.TryComplete();
    }

    public override void Fail(Exception error)
    {
        Finished = true;
        _items.Writer.TryComplete(error);
    }
}
