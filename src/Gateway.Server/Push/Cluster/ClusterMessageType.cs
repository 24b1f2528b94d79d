namespace Gateway.Server.Push;

internal enum ClusterMessageType : byte
{
    /// <summary>An event for one connection: local id, then the event envelope (JSON).</summary>
    ConnectionEvent = 1,
    /// <summary>An event for every connection of a user: user id, then the event envelope.</summary>
    UserEvent = 2,
    /// <summary>A server-to-client call for one connection: correlation, reply node, local id, timeout, path, then the input (JSON, empty for none).</summary>
    Call = 3,
    /// <summary>The answer to a Call, Subscribe or Unsubscribe: correlation, outcome, then JSON (a result, or an error object).</summary>
    Reply = 4,
    /// <summary>The caller gave up on a Call: correlation and caller node.</summary>
    CancelCall = 5,
    /// <summary>Subscribe a connection to a topic: correlation, reply node, local id, topic.</summary>
    Subscribe = 6,
    Unsubscribe = 7,
}
