namespace Gateway.LoadTest.Protocols;

/// <summary>
/// The text a fanout publisher sends (chat/send) and every subscriber gets back inside the event
/// <c>{"event":"chat.message","topic":…,"data":{"room":…,"from":…,"text":"T…","sentAt":…}}</c>:
/// fixed-width ASCII fields, so the publisher patches them in place in its pre-built frame and a
/// subscriber reads them straight out of the frame bytes (no JSON parse per event).
/// <code>
/// T0000000123456789012P0000S0000000042.abcdef…
///  └ send timestamp   └ publisher └ sequence, then padding up to --payload
/// </code>
/// The timestamp is <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> (CLOCK_MONOTONIC on Linux,
/// comparable between processes on one machine); the sequence counts per publisher connection from 1.
/// </summary>
public static class FanoutText
{
    public const int StampWidth = 19, PublisherWidth = 4, SeqWidth = 10;
    public const int StampAt = 1;
    public const int PublisherAt = StampAt + StampWidth + 1;
    public const int SeqAt = PublisherAt + PublisherWidth + 1;
    /// <summary>The fixed part, up to and including the '.' after the sequence.</summary>
    public const int HeaderLength = SeqAt + SeqWidth + 1;
    public const int MaxPublishers = 1000;

    private static ReadOnlySpan<byte> Marker => "\"text\":\"T"u8;

    /// <summary>The text for publisher <paramref name="publisher"/>: zero stamp and sequence (patched per send), padded to <paramref name="length"/> bytes.</summary>
    /// <param name="payloadKind">--payload-kind of the padding: alphabet (default) or text (<see cref="ChatText"/>).</param>
    public static string Build(int publisher, int length, string payloadKind = "alphabet")
    {
        if (length < HeaderLength) throw new ArgumentOutOfRangeException(nameof(length), $"a fanout text is at least {HeaderLength} bytes");
        string padding = ChatText.Payload(payloadKind, length - HeaderLength);
        return $"T{new string('0', StampWidth)}P{publisher.ToString("D" + PublisherWidth, System.Globalization.CultureInfo.InvariantCulture)}S{new string('0', SeqWidth)}.{padding}";
    }

    /// <summary>
    /// Reads the stamp fields out of an event message. <paramref name="hint"/> is where the text started in
    /// the previous message of this subscriber: events of one publisher share their layout up to the text,
    /// so the marker is usually found there without a search.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, ref int hint, out long sentAt, out int publisher, out long seq)
    {
        sentAt = 0; publisher = 0; seq = 0;
        int at = hint;
        if (at < Marker.Length || at + HeaderLength - 1 > message.Length || !message.Slice(at - Marker.Length, Marker.Length).SequenceEqual(Marker))
        {
            int found = message.IndexOf(Marker);
            if (found < 0) return false;
            at = found + Marker.Length;
            hint = at;
        }
        return TryReadAt(message, at, out sentAt, out publisher, out seq);
    }

    /// <summary>Reads the fields of a text whose 'T' is at <paramref name="at"/> - 1 (false when they are not there).</summary>
    public static bool TryReadAt(ReadOnlySpan<byte> message, int at, out long sentAt, out int publisher, out long seq)
    {
        sentAt = 0; publisher = 0; seq = 0;
        if (at < 1 || at > message.Length || message[at - 1] != 'T') return false;
        // 'at' is just past the 'T': the stamp, 'P', the publisher, 'S', the sequence, '.'.
        var fields = message[(at - 1)..];
        if (fields.Length < HeaderLength || fields[PublisherAt - 1] != 'P' || fields[SeqAt - 1] != 'S' || fields[HeaderLength - 1] != '.') return false;
        if (!ReadDigits(fields.Slice(StampAt, StampWidth), out sentAt)) return false;
        if (!ReadDigits(fields.Slice(PublisherAt, PublisherWidth), out long p)) return false;
        publisher = (int)p;
        return ReadDigits(fields.Slice(SeqAt, SeqWidth), out seq);
    }

    private static bool ReadDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        foreach (byte b in digits)
        {
            uint d = (uint)(b - '0');
            if (d > 9) return false;
            value = value * 10 + d;
        }
        return true;
    }
}
