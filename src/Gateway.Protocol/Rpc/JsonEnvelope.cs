using System.Buffers;
using System.Text.Json;

namespace Gateway.Protocol.Rpc;

public enum EnvelopeKind
{
    Invalid,
    /// <summary>path + id: answer with result or error (or data… done for a subscription).</summary>
    Request,
    /// <summary>path, no id: never answered.</summary>
    Notification,
    /// <summary>id + cancel:true: stop the call with that id.</summary>
    Cancel,
    /// <summary>id + result: the peer answers a call we sent.</summary>
    Result,
    /// <summary>id + error: the peer answers a call we sent with an error.</summary>
    Error,
    /// <summary>id + progress: the peer reports progress on a call we sent (before its result or error).</summary>
    Progress,
}

/// <summary>
/// One parsed envelope. <see cref="Id"/>, <see cref="Input"/>, <see cref="Result"/> and
/// <see cref="ErrorObject"/> are raw JSON slices of the message (no copy): valid only as long as the
/// message bytes are. The path is unescaped into the caller's buffer.
/// </summary>
public struct Envelope
{
    /// <summary>
    /// Decides the kind from the members present, the same rule for every wire format: a path makes a call (a request
    /// with an id, else a notification); without one, the id and cancel/error/result/progress make a reply or a cancel.
    /// </summary>
    internal void Classify(bool hasPath, bool hasResult, bool hasError, bool hasProgress)
    {
        if (hasPath) Kind = HasId ? EnvelopeKind.Request : EnvelopeKind.Notification;
        else if (!HasId) Problem = "a message needs a path (a call) or an id (a reply or a cancel)";
        else if (Cancel) Kind = EnvelopeKind.Cancel;
        else if (hasError) Kind = EnvelopeKind.Error;
        else if (hasResult) Kind = EnvelopeKind.Result;
        else if (hasProgress) Kind = EnvelopeKind.Progress;
        else Problem = "a message with an id and no path must carry cancel, result, error or progress";
    }

    public EnvelopeKind Kind;
    /// <summary>The id token exactly as sent (a JSON string with its quotes, or an integer).</summary>
    public ReadOnlySequence<byte> Id;
    public bool HasId;
    public int PathLength;
    public ReadOnlySequence<byte> Input;
    public bool HasInput;
    public ReadOnlySequence<byte> Result;
    public ReadOnlySequence<byte> ErrorObject;
    public bool Cancel;
    /// <summary>
    /// The <c>meta</c> object exactly as sent (JSON object or MessagePack map), when there is one: kept raw and read only
    /// when a trace listener wants it (<see cref="EnvelopeMeta"/>), so an envelope without it costs nothing.
    /// </summary>
    public ReadOnlySequence<byte> Meta;
    public bool HasMeta;
    /// <summary>Why the message is not a valid envelope (for <see cref="EnvelopeKind.Invalid"/>).</summary>
    public string? Problem;
}

/// <summary>The gateway.v1.json envelope (PROTOCOL.md): parsing with Utf8JsonReader straight from the received bytes.</summary>
public static class JsonEnvelope
{
    public const int MaxPathLength = 256;
    /// <summary>Longest string id, in characters (UTF-16 code units, as a JavaScript string's length) once unescaped.</summary>
    public const int MaxIdLength = 128;
    // The longest raw form of MaxIdLength characters: each one written as a 6-byte \uXXXX escape.
    private const int MaxEscapedIdBytes = MaxIdLength * 6;
    /// <summary>The nesting <see cref="Parse"/> accepts unless told otherwise (System.Text.Json's default).</summary>
    public const int DefaultMaxDepth = 64;

    /// <summary>
    /// Parses <paramref name="message"/>; the path goes into <paramref name="pathBuffer"/> (at least <see cref="MaxPathLength"/> chars).
    /// <paramref name="maxDepth"/> bounds the nesting of the whole message, the envelope object counting as 1
    /// (Gateway:Json:MaxDepth); deeper is malformed JSON.
    /// </summary>
    public static void Parse(in ReadOnlySequence<byte> message, Span<char> pathBuffer, out Envelope envelope, int maxDepth = DefaultMaxDepth)
    {
        envelope = default;
        bool hasPath = false, hasResult = false, hasError = false, hasProgress = false;
        try
        {
            var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                envelope.Problem = "a message must be a JSON object";
                return;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    long start = reader.TokenStartIndex;
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (IdTooLong(ref reader)) { envelope.Problem = "id is too long (at most 128 characters)"; return; }
                    }
                    else if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out _))
                    {
                        // Keep what we have so far: an id we cannot echo is no id at all.
                        envelope.HasId = false;
                        envelope.Problem = "id must be a string or an integer";
                        SkipRest(ref reader);
                        return;
                    }
                    envelope.Id = message.Slice(start, reader.BytesConsumed - start);
                    envelope.HasId = true;
                }
                else if (reader.ValueTextEquals("path"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) { envelope.Problem = "path must be a string"; reader.Skip(); continue; }
                    long length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                    if (length > MaxPathLength || length == 0) { envelope.Problem = "path must be 1 to 256 characters"; continue; }
                    envelope.PathLength = reader.CopyString(pathBuffer);
                    hasPath = true;
                }
                else if (reader.ValueTextEquals("input"u8))
                {
                    reader.Read();
                    long start = reader.TokenStartIndex;
                    reader.Skip();
                    envelope.Input = message.Slice(start, reader.BytesConsumed - start);
                    envelope.HasInput = true;
                }
                else if (reader.ValueTextEquals("cancel"u8))
                {
                    reader.Read();
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False)) { envelope.Problem = "cancel must be true or false"; reader.Skip(); continue; }
                    envelope.Cancel = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("result"u8))
                {
                    reader.Read();
                    long start = reader.TokenStartIndex;
                    reader.Skip();
                    envelope.Result = message.Slice(start, reader.BytesConsumed - start);
                    hasResult = true;
                }
                else if (reader.ValueTextEquals("progress"u8))
                {
                    reader.Read();
                    reader.Skip();
                    hasProgress = true;
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    long start = reader.TokenStartIndex;
                    if (reader.TokenType != JsonTokenType.StartObject) { envelope.Problem = "error must be an object"; reader.Skip(); continue; }
                    reader.Skip();
                    envelope.ErrorObject = message.Slice(start, reader.BytesConsumed - start);
                    hasError = true;
                }
                else if (reader.ValueTextEquals("meta"u8))
                {
                    reader.Read();
                    long start = reader.TokenStartIndex;
                    bool isObject = reader.TokenType == JsonTokenType.StartObject;
                    reader.Skip();
                    // Meta is advisory (tracing): a meta that is not an object is ignored, as an unknown member would be.
                    if (isObject)
                    {
                        envelope.Meta = message.Slice(start, reader.BytesConsumed - start);
                        envelope.HasMeta = true;
                    }
                }
                else
                {
                    // Unknown members are ignored so newer clients can talk to this server.
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject) { envelope.Problem = "a message must be a JSON object"; return; }
            if (reader.Read()) { envelope.Problem = "unexpected data after the JSON object"; return; }
        }
        catch (JsonException ex)
        {
            envelope.Problem = "malformed JSON: " + TrimReaderMessage(ex.Message);
            return;
        }

        if (envelope.Problem is not null) return;
        envelope.Classify(hasPath, hasResult, hasError, hasProgress);
    }

    // The limit is on what the client meant, not on how it was written: 25 "\u00e9" escapes are 25 characters.
    // Raw bytes never undercount characters, so a short raw id needs no look; a longer one is counted from its raw
    // bytes (already validated by the reader) without unescaping: no allocation, and nothing to throw on a lone
    // surrogate escape.
    private static bool IdTooLong(ref Utf8JsonReader reader)
    {
        long raw = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (raw <= MaxIdLength) return false;
        if (raw > MaxEscapedIdBytes) return true;
        if (!reader.HasValueSequence) return CharCount(reader.ValueSpan) > MaxIdLength;
        Span<byte> copy = stackalloc byte[MaxEscapedIdBytes];
        reader.ValueSequence.CopyTo(copy);
        return CharCount(copy[..(int)raw]) > MaxIdLength;
    }

    /// <summary>UTF-16 length of a JSON string's raw bytes once unescaped.</summary>
    private static int CharCount(ReadOnlySpan<byte> raw)
    {
        int count = 0;
        for (int i = 0; i < raw.Length;)
        {
            byte b = raw[i];
            if (b == (byte)'\\')
            {
                i += raw.Length > i + 1 && raw[i + 1] == (byte)'u' ? 6 : 2;
                count++;
            }
            else if (b < 0x80) { i++; count++; }
            else if (b >= 0xF0) { i += 4; count += 2; } // outside the BMP: a surrogate pair
            else if (b >= 0xE0) { i += 3; count++; }
            else { i += 2; count++; }
        }
        return count;
    }

    private static void SkipRest(ref Utf8JsonReader reader)
    {
        try { while (reader.Read()) { } } catch (JsonException) { }
    }

    // "'x' is an invalid start of a value. LineNumber: 0 | BytePositionInLine: 1." is precise enough for a client.
    private static string TrimReaderMessage(string message) => message.Length > 200 ? message.Substring(0, 200) : message;
}
