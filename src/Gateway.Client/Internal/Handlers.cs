namespace Gateway.Client.Internal;

/// <summary>An event handler, typed: reads the event's data as its own type.</summary>
internal abstract class EventEntry
{
    public abstract void Invoke(IClientCodec codec, ReadOnlyMemory<byte> data, string name, string? topic);
}

internal sealed class NamedEventEntry<T>(Action<T?> handler) : EventEntry
{
    public override void Invoke(IClientCodec codec, ReadOnlyMemory<byte> data, string name, string? topic) => handler(codec.Read<T>(data));
}

internal sealed class TopicEventEntry<T>(Action<TopicEvent<T>> handler) : EventEntry
{
    public override void Invoke(IClientCodec codec, ReadOnlyMemory<byte> data, string name, string? topic) =>
        handler(new TopicEvent<T>(topic!, name, codec.Read<T>(data)));
}

/// <summary>A handler of calls the server makes to this client at one path.</summary>
internal abstract class ServerCallEntry
{
    public abstract void Start(GatewayClient client, Connection connection, long id, IClientCodec codec, in IncomingMessage message);
}

internal sealed class ServerCallEntry<TInput, TResult>(Func<TInput?, CancellationToken, ValueTask<TResult>> handler) : ServerCallEntry
{
    public override void Start(GatewayClient client, Connection connection, long id, IClientCodec codec, in IncomingMessage message)
    {
        TInput? input;
        try
        {
            input = message.HasInput ? codec.Read<TInput>(message.Input) : default;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            client.AnswerServerCallInBackground(connection, id, null, new RpcException(RpcErrorCodes.InvalidArgument,
                $"the input of '{message.Path}' cannot be read as {typeof(TInput).Name}: {ex.Message}"));
            return;
        }
        var cts = new CancellationTokenSource();
        connection.AddServerCall(id, cts);
        _ = RunAsync(client, connection, id, message.Path!, input, cts);
    }

    private async Task RunAsync(GatewayClient client, Connection connection, long id, string path, TInput? input, CancellationTokenSource cts)
    {
        // Off the receive loop: a handler may await calls to the server, whose answers that loop must read.
        await Task.Yield();
        object? result = null;
        RpcException? error = null;
        try
        {
            result = await handler(input, cts.Token).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            error = ex;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // The server cancelled (or the connection ended): nothing more is sent for this id.
        }
        catch (Exception ex)
        {
            client.LogHandlerFailure(path, ex);
            error = new RpcException(RpcErrorCodes.Internal, "internal error");
        }
        // Only the one who takes the call out answers: a cancel or the connection's end took it already.
        if (connection.TryTakeServerCall(id, cts, out _))
        {
            if (error is not null || !cts.IsCancellationRequested)
                await client.AnswerServerCallAsync(connection, id, result, typeof(TResult), error).ConfigureAwait(false);
        }
        cts.Dispose();
    }
}
