namespace Gateway.Samples;

/// <summary>Bytes and a time: bin and a timestamp in MessagePack, base64 and an ISO 8601 string in JSON.</summary>
public sealed class Blob
{
    public byte[] Data { get; set; } = [];
    public DateTimeOffset? At { get; set; }
    public string? Name { get; set; }
}

/// <summary>What the server received: the byte count and their SHA-256 (hex), to check a payload arrived exactly.</summary>
public sealed record BlobInfo(int Length, string Sha256);

/// <summary>Binary payloads, the same procedures in both wire formats.</summary>
[RpcService("blob")]
public sealed class BlobService
{
    /// <summary>Returns the blob unchanged.</summary>
    [Rpc("echo")]
    public Blob Echo(Blob input, RpcContext context) => input;

    /// <summary>The length and SHA-256 of the bytes received.</summary>
    [Rpc("info")]
    public BlobInfo Info(Blob input, RpcContext context) =>
        new(input.Data.Length, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(input.Data)));
}
