using System.Buffers;
using MessagePack;

namespace Gateway.Protocol.Rpc;

/// <summary>
/// The gateway.v1.msgpack envelope: one map with the JSON envelope's keys, read with the library's
/// <see cref="MessagePackReader"/> straight from the received bytes. Raw members (<see cref="Envelope.Id"/>,
/// <see cref="Envelope.Input"/>, result, error) are slices of the message holding one MessagePack value each; the path is
/// decoded into the caller's buffer. Nothing is allocated for a valid envelope.
/// </summary>
/// <remarks>
/// Hand-written over the reader rather than a [MessagePackObject] type deserialized by MessagePackSerializer: that copies
/// the path and id into strings and the input into an object graph before the procedure is even known (measured in
/// perf/Gateway.Benchmarks MessagePackEnvelopeBenchmarks). Nesting is checked here, for the whole message, before
/// anything skips over it: the library's own Skip recurses without a limit.
/// </remarks>
public static class MessagePackEnvelope
{
    /// <summary>Parses <paramref name="message"/> as <see cref="JsonEnvelope.Parse"/> does a JSON one (same limits, same problems).</summary>
    public static void Parse(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth = JsonEnvelope.DefaultMaxDepth)
    {
        if (maxDepth <= 0) maxDepth = JsonEnvelope.DefaultMaxDepth; // as Utf8JsonReader reads 0
        if (message.IsSingleSegment && TryParseSpan(message, pathBuffer, out envelope, maxDepth)) return;
        ParseWithReader(message, pathBuffer, out envelope, maxDepth);
    }

    /// <summary>
    /// The common envelope (one segment, str keys, an ASCII path and id) read straight from the span (<see cref="MsgPackSpan"/>).
    /// False for anything else, malformed or merely unusual: <see cref="ParseWithReader"/> then reads it from the start and
    /// names the problem, so the two agree on every message this one accepts.
    /// </summary>
    internal static bool TryParseSpan(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth)
    {
        envelope = default;
        // The slices handed on are views of the message's memory, as message.Slice would give (cheaper to make).
        var memory = message.First;
        var s = memory.Span;
        int pos = 0;
        if (!MsgPackSpan.TryReadMapHeader(s, ref pos, out int count)) return false;
        bool hasPath = false, hasResult = false, hasError = false, hasProgress = false;
        for (int i = 0; i < count; i++)
        {
            if (!MsgPackSpan.TryReadStr(s, ref pos, out int keyAt, out int keyLength)) return false;
            var key = s.Slice(keyAt, keyLength);
            int start = pos;
            switch (KeyOf(key))
            {
                case Key.Id:
                    if (MsgPackSpan.TryReadStr(s, ref pos, out int idAt, out int idLength))
                    {
                        if (idLength > JsonEnvelope.MaxIdLength || !System.Text.Ascii.IsValid(s.Slice(idAt, idLength))) return false;
                    }
                    else if (!MsgPackSpan.TrySkipSignedRangeInteger(s, ref pos)) return false;
                    envelope.Id = new ReadOnlySequence<byte>(memory[start..pos]);
                    envelope.HasId = true;
                    break;
                case Key.Path:
                    if (!MsgPackSpan.TryReadStr(s, ref pos, out int pathAt, out int pathLength)) return false;
                    if (pathLength is 0 or > JsonEnvelope.MaxPathLength || pathLength > pathBuffer.Length) return false;
                    if (System.Text.Ascii.ToUtf16(s.Slice(pathAt, pathLength), pathBuffer, out int written) != System.Buffers.OperationStatus.Done) return false;
                    envelope.PathLength = written;
                    hasPath = true;
                    break;
                case Key.Input:
                    if (!MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    envelope.Input = new ReadOnlySequence<byte>(memory[start..pos]);
                    envelope.HasInput = true;
                    break;
                case Key.Cancel:
                    if ((uint)pos >= (uint)s.Length || s[pos] is not (MessagePackCode.True or MessagePackCode.False)) return false;
                    envelope.Cancel = s[pos++] == MessagePackCode.True;
                    break;
                case Key.Result:
                    if (!MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    envelope.Result = new ReadOnlySequence<byte>(memory[start..pos]);
                    hasResult = true;
                    break;
                case Key.Progress:
                    if (!MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    hasProgress = true;
                    break;
                case Key.Error:
                    if ((uint)pos >= (uint)s.Length || !MsgPackSpan.IsMap(s[pos]) || !MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    envelope.ErrorObject = new ReadOnlySequence<byte>(memory[start..pos]);
                    hasError = true;
                    break;
                case Key.Meta:
                    bool metaIsMap = (uint)pos < (uint)s.Length && MsgPackSpan.IsMap(s[pos]);
                    if (!MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    if (metaIsMap)
                    {
                        envelope.Meta = new ReadOnlySequence<byte>(memory[start..pos]);
                        envelope.HasMeta = true;
                    }
                    break;
                default:
                    if (!MsgPackSpan.TrySkip(s, ref pos, 2, maxDepth)) return false;
                    break;
            }
        }
        if (pos != s.Length) return false;
        envelope.Classify(hasPath, hasResult, hasError, hasProgress);
        return true;
    }

    internal static void ParseWithReader(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth)
    {
        envelope = default;
        bool hasPath = false, hasResult = false, hasError = false, hasProgress = false;
        try
        {
            var reader = new MessagePackReader(message);
            if (!reader.End && reader.NextMessagePackType == MessagePackType.Unknown)
                throw new MessagePackSerializationException($"invalid type code 0x{reader.NextCode:x2}");
            if (reader.End || reader.NextMessagePackType != MessagePackType.Map)
            {
                envelope.Problem = "a message must be a MessagePack map";
                return;
            }
            int count = reader.ReadMapHeader();
            for (int i = 0; i < count; i++)
            {
                if (reader.NextMessagePackType != MessagePackType.String)
                {
                    envelope.Problem = "envelope keys must be strings";
                    return;
                }
                var key = ReadKey(ref reader);
                long start = reader.Consumed;
                switch (key)
                {
                    case Key.Id:
                        if (!ReadId(ref reader, ref envelope)) return;
                        envelope.Id = message.Slice(start, reader.Consumed - start);
                        envelope.HasId = true;
                        break;
                    case Key.Path:
                        if (reader.NextMessagePackType != MessagePackType.String) { envelope.Problem = "path must be a string"; SkipValue(ref reader, 2, maxDepth); break; }
                        var path = reader.ReadStringSequence()!.Value;
                        if (path.Length > JsonEnvelope.MaxPathLength || path.Length == 0) { envelope.Problem = "path must be 1 to 256 characters"; break; }
                        if (!TryDecode(path, pathBuffer, out envelope.PathLength)) { envelope.Problem = "path is not valid UTF-8"; break; }
                        hasPath = true;
                        break;
                    case Key.Input:
                        SkipValue(ref reader, 2, maxDepth);
                        envelope.Input = message.Slice(start, reader.Consumed - start);
                        envelope.HasInput = true;
                        break;
                    case Key.Cancel:
                        if (reader.NextMessagePackType != MessagePackType.Boolean) { envelope.Problem = "cancel must be true or false"; SkipValue(ref reader, 2, maxDepth); break; }
                        envelope.Cancel = reader.ReadBoolean();
                        break;
                    case Key.Result:
                        SkipValue(ref reader, 2, maxDepth);
                        envelope.Result = message.Slice(start, reader.Consumed - start);
                        hasResult = true;
                        break;
                    case Key.Progress:
                        SkipValue(ref reader, 2, maxDepth);
                        hasProgress = true;
                        break;
                    case Key.Error:
                        bool isMap = reader.NextMessagePackType == MessagePackType.Map;
                        SkipValue(ref reader, 2, maxDepth);
                        if (!isMap) { envelope.Problem = "error must be a map"; break; }
                        envelope.ErrorObject = message.Slice(start, reader.Consumed - start);
                        hasError = true;
                        break;
                    case Key.Meta:
                        bool metaIsMap = reader.NextMessagePackType == MessagePackType.Map;
                        SkipValue(ref reader, 2, maxDepth);
                        // Advisory (tracing): a meta that is not a map is ignored, as an unknown member would be.
                        if (metaIsMap)
                        {
                            envelope.Meta = message.Slice(start, reader.Consumed - start);
                            envelope.HasMeta = true;
                        }
                        break;
                    default:
                        // Unknown members are ignored so newer clients can talk to this server.
                        SkipValue(ref reader, 2, maxDepth);
                        break;
                }
            }
            if (!reader.End) { envelope.Problem = "unexpected data after the MessagePack map"; return; }
        }
        // ArgumentOutOfRangeException: the library reads a str32 length over 2^31 - 1 as negative and slices with it.
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or TooDeepException or ArgumentOutOfRangeException)
        {
            // An id read before the fault is kept, as JSON does: the client learns which request was refused.
            envelope.Problem = "malformed MessagePack: " + (ex is EndOfStreamException or ArgumentOutOfRangeException ? "the message ends inside a value" : Trim(ex.Message));
            return;
        }

        if (envelope.Problem is not null) return;
        envelope.Classify(hasPath, hasResult, hasError, hasProgress);
    }

    private enum Key { Other, Id, Path, Input, Cancel, Result, Progress, Error, Meta }

    private static Key ReadKey(ref MessagePackReader reader)
    {
        if (!reader.TryReadStringSpan(out var span))
        {
            // The key straddles two of the pipe's segments: any key can, however short, when requests are pipelined.
            var split = reader.ReadStringSequence()!.Value;
            if (split.Length > 8) return Key.Other; // longer than any of ours ("progress")
            Span<byte> copy = stackalloc byte[8];
            split.CopyTo(copy);
            return KeyOf(copy[..(int)split.Length]);
        }
        return KeyOf(span);
    }

    private static Key KeyOf(ReadOnlySpan<byte> span)
    {
        return span.Length switch
        {
            2 when span.SequenceEqual("id"u8) => Key.Id,
            4 when span.SequenceEqual("path"u8) => Key.Path,
            4 when span.SequenceEqual("meta"u8) => Key.Meta,
            5 when span.SequenceEqual("input"u8) => Key.Input,
            5 when span.SequenceEqual("error"u8) => Key.Error,
            6 when span.SequenceEqual("cancel"u8) => Key.Cancel,
            6 when span.SequenceEqual("result"u8) => Key.Result,
            8 when span.SequenceEqual("progress"u8) => Key.Progress,
            _ => Key.Other,
        };
    }

    // An id is a str of at most 128 UTF-16 code units or an integer in the signed 64-bit range, echoed in its own encoding.
    private static bool ReadId(ref MessagePackReader reader, ref Envelope envelope)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.String:
                var id = reader.ReadStringSequence()!.Value;
                if (id.Length > JsonEnvelope.MaxIdLength * 3) { envelope.Problem = "id is too long (at most 128 characters)"; return false; }
                Span<char> chars = stackalloc char[JsonEnvelope.MaxIdLength * 3];
                if (!TryDecode(id, chars, out int length)) { envelope.Problem = "id is not valid UTF-8"; return false; }
                if (length > JsonEnvelope.MaxIdLength) { envelope.Problem = "id is too long (at most 128 characters)"; return false; }
                return true;
            case MessagePackType.Integer when reader.NextCode != MessagePackCode.UInt64 || IsSmallUInt64(reader):
                reader.ReadInt64();
                return true;
            default:
                envelope.Problem = "id must be a string or an integer";
                return false;
        }
    }

    private static bool IsSmallUInt64(MessagePackReader peek) => peek.ReadUInt64() <= long.MaxValue;

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool TryDecode(in ReadOnlySequence<byte> utf8, Span<char> destination, out int length)
    {
        try
        {
            length = System.Text.EncodingExtensions.GetChars(StrictUtf8, utf8, destination);
            return true;
        }
        catch (Exception ex) when (ex is System.Text.DecoderFallbackException or ArgumentException)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Skips one value, counting nesting: the envelope map is level 1, a map or array directly in it level 2.</summary>
    private static void SkipValue(ref MessagePackReader reader, int depth, int maxDepth)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Map:
            {
                if (depth > maxDepth) throw new TooDeepException(maxDepth);
                // The library refuses a header claiming more entries than the rest of the message could hold.
                int count = reader.ReadMapHeader();
                for (int i = 0; i < count; i++)
                {
                    SkipValue(ref reader, depth + 1, maxDepth);
                    SkipValue(ref reader, depth + 1, maxDepth);
                }
                break;
            }
            case MessagePackType.Array:
            {
                if (depth > maxDepth) throw new TooDeepException(maxDepth);
                int count = reader.ReadArrayHeader();
                for (int i = 0; i < count; i++) SkipValue(ref reader, depth + 1, maxDepth);
                break;
            }
            case MessagePackType.Unknown:
                throw new MessagePackSerializationException($"invalid type code 0x{reader.NextCode:x2}");
            default:
                reader.Skip();
                break;
        }
    }

    private sealed class TooDeepException(int maxDepth) : Exception($"nested deeper than {maxDepth} levels");

    private static string Trim(string message) => message.Length > 200 ? message[..200] : message;
}
