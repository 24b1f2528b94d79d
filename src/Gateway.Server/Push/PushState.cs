using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// What push knows of one connection: its session (where events go), its topics, its user, and the calls the server
/// made to it. Created by the hub when the connection opens and held by the RPC layer for the connection's life; push
/// reaches the client only through this object and its <see cref="WebSocketSession"/>, never through RPC types.
/// </summary>
internal sealed class PushState
{
    private readonly string _nodeId;
    // Topics and user, guarded by _gate: the hub reads them back when the connection goes.
    private readonly object _gate = new();
    private HashSet<string>? _topics;
    private string? _userId;
    private volatile bool _unregistered;
    private string? _connectionId;

    public PushState(WebSocketSession session, IWireCodec codec, string nodeId, int maxServerCalls)
    {
        Session = session;
        Codec = codec;
        _nodeId = nodeId;
        ServerCalls = new ServerCallTable(session, codec, maxServerCalls);
    }

    public WebSocketSession Session { get; }

    /// <summary>The connection's wire format: events reach it in this format's frames.</summary>
    public IWireCodec Codec { get; }

    /// <summary>The id of the connection on this node (the session's number).</summary>
    public long LocalId => Session.Id;

    /// <summary>The cluster-wide id: this node's id, a dot, the session's number (built on first use).</summary>
    public string ConnectionId => _connectionId ??= _nodeId + "." + Session.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Calls from the server to this client, waiting for their answers.</summary>
    public ServerCallTable ServerCalls { get; }

    /// <summary>True once the connection left push: nothing may join it to a topic or a user any more.</summary>
    public bool IsUnregistered => _unregistered;

    public string? UserId => Volatile.Read(ref _userId);

    public int TopicCount
    {
        get { lock (_gate) return _topics?.Count ?? 0; }
    }

    public TopicAdd TryAddTopic(string topic, int max)
    {
        lock (_gate)
        {
            if (_unregistered) return TopicAdd.Closed;
            _topics ??= new HashSet<string>(StringComparer.Ordinal);
            if (_topics.Contains(topic)) return TopicAdd.Already;
            if (_topics.Count >= max) return TopicAdd.TooMany;
            _topics.Add(topic);
            return TopicAdd.Added;
        }
    }

    public bool RemoveTopic(string topic)
    {
        lock (_gate) return !_unregistered && _topics is not null && _topics.Remove(topic);
    }

    public bool TrySwapUser(string? userId, out string? previous)
    {
        lock (_gate)
        {
            previous = _userId;
            if (_unregistered || string.Equals(previous, userId, StringComparison.Ordinal)) return false;
            Volatile.Write(ref _userId, userId);
            return true;
        }
    }

    /// <summary>Marks the connection gone for push and hands back what it was part of, for the hub to clean up.</summary>
    public (string[] Topics, string? User) Unregister()
    {
        lock (_gate)
        {
            _unregistered = true;
            var topics = _topics is { Count: > 0 } set ? set.ToArray() : [];
            _topics = null;
            return (topics, _userId);
        }
    }
}
