using System.Buffers;
using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// The calls this server made to one client and still waits on, by the id they have on that connection's wire.
/// Ids are the server's own counter, separate from the client's request ids. Closing fails every waiting call.
/// </summary>
internal sealed class ServerCallTable(WebSocketSession session, IWireCodec codec, int maxWaiting)
{
    // Made by the first call the server makes to this client (most connections never get one). Guarded by this table
    // itself (internal, never handed out): a separate lock object would cost an idle connection what the laziness saves.
    private Dictionary<long, ServerCall>? _waiting;
    private long _nextId;
    private bool _closed;

    /// <summary>Sends <c>{"id":n,"path":…,"input":…}</c> to the client and keeps the call until its answer, cancel or the close.</summary>
    public void Start(ServerCall call, string path, byte[]? inputJson)
    {
        long id;
        lock (this)
        {
            if (_closed || session.CloseSent) throw new RpcException(ErrorCode.Unavailable, "the connection is closing");
            var waiting = _waiting ??= new();
            if (waiting.Count >= maxWaiting)
                throw new RpcException(ErrorCode.ResourceExhausted, $"the connection already has {waiting.Count} calls from the server waiting (Gateway:Limits:MaxServerCallsPerConnection)");
            id = ++_nextId;
            call.WireId = id;
            waiting[id] = call;
        }
        codec.SendServerCall(session, id, path, inputJson);
    }

    /// <summary>The server gives up on a call (deadline, cancel): the client is told to stop. False when it had ended already.</summary>
    public bool Cancel(ServerCall call)
    {
        if (call.WireId == 0 || !TryTake(call.WireId, out var taken) || !ReferenceEquals(taken, call)) return false;
        codec.SendServerCallCancel(session, call.WireId);
        return true;
    }

    /// <summary>
    /// The client answered a call of ours (a <c>result</c> or an <c>error</c> object); runs on the read loop. False when
    /// the id is not one of ours or the call ended already (late after its deadline or a cancel): nothing waits for it.
    /// </summary>
    public bool TryComplete(in ReadOnlySequence<byte> rawId, bool isError, in ReadOnlySequence<byte> body, int maxDepth)
    {
        if (!codec.TryReadCallId(rawId, out long id) || !TryTake(id, out var call)) return false;
        byte[]? json;
        try
        {
            // Whoever waits (a handler here, or another node) reads canonical JSON: a binary answer is converted at this edge.
            json = codec.ToCanonicalJson(body, maxDepth);
        }
        catch (System.Text.Json.JsonException ex)
        {
            call.OnFailed(ErrorCode.InvalidArgument, "the client's answer cannot be read: " + ex.Message);
            return true;
        }
        var canonical = json is null ? body : new ReadOnlySequence<byte>(json);
        if (isError) call.OnError(canonical);
        else call.OnResult(canonical);
        return true;
    }

    /// <summary>The connection is gone: no new call starts, every waiting one fails with UNAVAILABLE.</summary>
    public void Close()
    {
        ServerCall[]? waiting = null;
        lock (this)
        {
            _closed = true;
            if (_waiting is { Count: > 0 })
            {
                waiting = _waiting.Values.ToArray();
                _waiting.Clear();
            }
        }
        if (waiting is null) return;
        foreach (var call in waiting) call.OnFailed(ErrorCode.Unavailable, "the connection closed before answering");
    }

    private bool TryTake(long id, out ServerCall call)
    {
        lock (this)
        {
            if (_waiting is not null) return _waiting.Remove(id, out call!);
            call = null!;
            return false;
        }
    }
}
