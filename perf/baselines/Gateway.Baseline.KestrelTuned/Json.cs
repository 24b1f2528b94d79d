using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Baseline.KestrelTuned;

/// <summary>An <see cref="IBufferWriter{T}"/> over ArrayPool arrays whose result is handed over (detached) as an <see cref="OutFrame"/>.</summary>
public sealed class RentedBufferWriter : IBufferWriter<byte>
{
    private byte[]? _buffer;
    private int _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256, sizeHint));
            return;
        }
        if (_buffer.Length - _written >= sizeHint) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    /// <summary>Hands the written bytes over; the next write starts a new rented buffer.</summary>
    public (byte[] Buffer, int Length) Detach()
    {
        var result = (_buffer ?? ArrayPool<byte>.Shared.Rent(1), _written);
        _buffer = null;
        _written = 0;
        return result;
    }
}

/// <summary>
/// One <see cref="Utf8JsonWriter"/> and its buffer writer per thread, reset for each message: writing a reply
/// allocates nothing but the pooled array it ends up in. Begin/End pairs never span an await.
/// </summary>
public static class JsonOut
{
    [ThreadStatic] private static RentedBufferWriter? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    public static Utf8JsonWriter Begin(int sizeHint = 256)
    {
        var buffer = t_buffer ??= new RentedBufferWriter();
        buffer.GetSpan(sizeHint);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        writer.Reset(buffer);
        return writer;
    }

    public static OutFrame End(Utf8JsonWriter writer)
    {
        writer.Flush();
        var (buffer, length) = t_buffer!.Detach();
        return new OutFrame(buffer, length);
    }

    public static (byte[] Buffer, int Length) EndDetached(Utf8JsonWriter writer)
    {
        writer.Flush();
        return t_buffer!.Detach();
    }
}

// The sample plugin's input types, with the gateway's naming (camelCase) through System.Text.Json's source generator.
public sealed class CountInput
{
    public int N { get; set; }
    public int DelayMs { get; set; }
}

public sealed class TopicInput
{
    public string? Topic { get; set; }
}

public sealed class RoomInput
{
    public string? Room { get; set; }
}

public sealed class SendInput
{
    public string? Room { get; set; }
    public string? Text { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(CountInput))]
[JsonSerializable(typeof(TopicInput))]
[JsonSerializable(typeof(RoomInput))]
[JsonSerializable(typeof(SendInput))]
public sealed partial class BaselineJson : JsonSerializerContext;
