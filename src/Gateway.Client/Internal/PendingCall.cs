namespace Gateway.Client.Internal;

/// <summary>
/// A call this client sent and the server has not finished answering, in the client's pending table under its id.
/// Whoever removes it from the table (its terminal answer, its timeout, its caller's cancellation, the connection's loss)
/// is the one that completes it; everyone else finds it gone.
/// </summary>
internal abstract class PendingCall
{
    public long Id;
    /// <summary>The connection the call was sent on: only that connection's loss fails it.</summary>
    public object? Connection;

    /// <summary>A progress or stream item (not terminal). Runs on the receive loop.</summary>
    public abstract void OnItem(IClientCodec codec, in IncomingMessage message);

    /// <summary>The terminal answer (result, error, or done), after the call was removed from the table. Runs on the receive loop.</summary>
    public abstract void OnTerminal(IClientCodec codec, in IncomingMessage message);

    /// <summary>Fails the call, after it was removed from the table.</summary>
    public abstract void Fail(Exception error);
}
