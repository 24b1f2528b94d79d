namespace Gateway.Server.Rpc;

/// <summary>Stands in for the input of a handler that takes none.</summary>
internal readonly struct NoInput;
