namespace Gateway.Server.Transport;

/// <summary>The peer reset the connection or it was torn down under the reader.</summary>
public sealed class ConnectionResetException(string message, Exception inner) : IOException(message, inner);
