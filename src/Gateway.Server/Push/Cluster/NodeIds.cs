using System.Security.Cryptography;

namespace Gateway.Server.Push;

/// <summary>Node ids and the cluster-wide connection ids built on them (<c>node.number</c>).</summary>
internal static class NodeIds
{
    /// <summary>A random id per process start, so a restarted node never receives messages meant for its predecessor's connections.</summary>
    public static string New()
    {
        // 10 characters of base32 (50 bits): short enough for logs, unique enough for any cluster.
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        Span<byte> bytes = stackalloc byte[10];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[10];
        for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[bytes[i] & 31];
        return new string(chars);
    }

    /// <summary>Splits a connection id into its node and its number on that node.</summary>
    public static bool TryParseConnectionId(string? id, out string node, out long local)
    {
        node = "";
        local = 0;
        if (id is null) return false;
        int dot = id.LastIndexOf('.');
        if (dot <= 0 || !long.TryParse(id.AsSpan(dot + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out local)) return false;
        node = id.Substring(0, dot);
        return true;
    }
}
