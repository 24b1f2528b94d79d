namespace Gateway.Server.Push;

/// <summary>The rules for topic and event names, and the '*' patterns of Gateway:Topics:ClientSubscribe.</summary>
public static class TopicNames
{
    public const int MaxTopicLength = 256;
    public const int MaxEventLength = 128;

    /// <summary>1 to 256 characters, none of them whitespace or control characters.</summary>
    public static bool IsValidTopic(string? topic) => IsValidName(topic, MaxTopicLength);

    public static bool IsValidEvent(string? name) => IsValidName(name, MaxEventLength);

    public static bool IsValidPattern(string? pattern) => IsValidName(pattern, MaxTopicLength);

    private static bool IsValidName(string? name, int max)
    {
        if (string.IsNullOrEmpty(name) || name.Length > max) return false;
        foreach (char c in name)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c)) return false;
        }
        return true;
    }

    public static void ValidateTopic(string topic)
    {
        if (!IsValidTopic(topic))
            throw new RpcException(ErrorCode.InvalidArgument, "a topic is 1 to 256 characters without whitespace or control characters");
    }

    public static void ValidateEvent(string eventName)
    {
        if (!IsValidEvent(eventName))
            throw new RpcException(ErrorCode.InvalidArgument, "an event name is 1 to 128 characters without whitespace or control characters");
    }

    /// <summary>Whether <paramref name="topic"/> matches <paramref name="pattern"/>, where '*' matches any run of characters (none included).</summary>
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> topic)
    {
        // Greedy glob with backtracking to the last star: linear in practice, never exponential.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < topic.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == topic[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    public static bool MatchesAny(string[]? patterns, string topic)
    {
        if (patterns is null) return false;
        foreach (var pattern in patterns)
        {
            if (Matches(pattern, topic)) return true;
        }
        return false;
    }
}
