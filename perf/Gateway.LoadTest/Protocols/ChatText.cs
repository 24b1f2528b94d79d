namespace Gateway.LoadTest.Protocols;

/// <summary>
/// Payload text as people write it (--payload-kind text): sentences of common words, names, numbers and punctuation,
/// deterministic, and nothing JSON must escape, so the request carries it verbatim. The default padding
/// (<see cref="WireProtocol.PayloadText"/>) repeats the alphabet, which deflate shrinks to almost nothing; chat-like
/// text compresses about as much as real messages do, so compressed-vs-plain ratios are honest.
/// </summary>
public static class ChatText
{
    private static readonly string[] Names = ["ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger", "radia"];
    private static readonly string[] Words =
    [
        "the", "a", "to", "and", "of", "we", "it", "is", "in", "that", "for", "on", "with", "this", "be", "at", "have", "not",
        "deploy", "gateway", "tonight", "after", "review", "tests", "green", "latency", "looks", "fine", "release", "branch",
        "merge", "build", "broke", "again", "coffee", "meeting", "tomorrow", "morning", "customer", "ticket", "fixed", "bug",
        "server", "client", "memory", "graph", "spike", "rollback", "config", "staging", "production", "dashboard", "alert",
        "please", "thanks", "sure", "maybe", "later", "lunch", "weekend", "question", "answer", "docs", "update", "check",
    ];

    /// <summary>Exactly <paramref name="length"/> ASCII characters of chat lines (same text for the same length).</summary>
    public static string Build(int length)
    {
        var rng = new Random(17);
        var sb = new System.Text.StringBuilder(length + 64);
        while (sb.Length < length)
        {
            sb.Append(Names[rng.Next(Names.Length)]).Append(": ");
            int words = 4 + rng.Next(12);
            for (int w = 0; w < words; w++)
            {
                if (w > 0) sb.Append(rng.Next(9) == 0 ? ", " : " ");
                sb.Append(rng.Next(25) == 0 ? rng.Next(1, 500).ToString(System.Globalization.CultureInfo.InvariantCulture) : Words[rng.Next(Words.Length)]);
            }
            sb.Append(rng.Next(4) == 0 ? "? " : ". ");
        }
        return sb.ToString(0, length);
    }

    /// <summary>The payload text of <paramref name="length"/> characters for a --payload-kind value (alphabet or text).</summary>
    public static string Payload(string kind, int length) => kind == "text" ? Build(length) : WireProtocol.PayloadText(length);
}
