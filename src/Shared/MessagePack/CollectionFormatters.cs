using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MessagePack;
using MessagePack.Formatters;

namespace Gateway.Shared.MsgPack;

internal static class CollectionFormatters
{
    /// <summary>Collections read as a list and handed over as the declared type (arrays, lists, the usual interfaces, or a type with Add).</summary>
    public static bool CanHandle(Type type, Type element) =>
        type.IsArray ? type.GetArrayRank() == 1 : type.IsAssignableFrom(typeof(List<>).MakeGenericType(element))
            || typeof(ICollection<>).MakeGenericType(element).IsAssignableFrom(type) && !type.IsAbstract && !type.IsInterface && type.GetConstructor(Type.EmptyTypes) is not null;

    public static bool CanHandleDictionary(Type type, Type value) =>
        type.IsAssignableFrom(typeof(Dictionary<,>).MakeGenericType(typeof(string), value))
            || typeof(IDictionary<,>).MakeGenericType(typeof(string), value).IsAssignableFrom(type) && !type.IsAbstract && !type.IsInterface && type.GetConstructor(Type.EmptyTypes) is not null;

    /// <summary>A first capacity never larger than the message could hold: a header claiming 2^32 entries allocates nothing.</summary>
    public static int InitialCapacity(int count, long remainingBytes) => (int)Math.Min(Math.Min(count, remainingBytes), 1024);
}

/// <summary>A collection as an array.</summary>
internal sealed class EnumerableFormatter<T, TElement>(JsonTypeInfo info) : IMessagePackFormatter<T>
{
    private readonly Func<object>? _create = typeof(T).IsArray || typeof(T).IsAssignableFrom(typeof(List<TElement>)) ? null : info.CreateObject;

    public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
    {
        if (value is null) { writer.WriteNil(); return; }
        var formatter = options.Resolver.GetFormatterWithVerify<TElement>();
        if (value is TElement[] array)
        {
            writer.WriteArrayHeader(array.Length);
            foreach (var item in array) formatter.Serialize(ref writer, item, options);
            return;
        }
        if (value is List<TElement> list)
        {
            writer.WriteArrayHeader(list.Count);
            foreach (var item in list) formatter.Serialize(ref writer, item, options);
            return;
        }
        var items = (IEnumerable<TElement>)value;
        int count = items switch
        {
            ICollection<TElement> c => c.Count,
            IReadOnlyCollection<TElement> c => c.Count,
            _ => -1,
        };
        if (count < 0)
        {
            var buffered = items.ToList();
            items = buffered;
            count = buffered.Count;
        }
        writer.WriteArrayHeader(count);
        foreach (var item in items) formatter.Serialize(ref writer, item, options);
    }

    public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return default!;
        if (reader.NextMessagePackType != MessagePackType.Array) throw new JsonException("expected an array");
        int count = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        var formatter = options.Resolver.GetFormatterWithVerify<TElement>();
        var list = new List<TElement>(CollectionFormatters.InitialCapacity(count, reader.Sequence.Length - reader.Consumed));
        for (int i = 0; i < count; i++)
        {
            try { list.Add(formatter.Deserialize(ref reader, options)); }
            catch (Exception ex) when (ex is not JsonException { Path: not null }) { throw At(i, ex); }
            catch (JsonException ex) { throw At(i, ex); }
        }
        reader.Depth--;
        if (typeof(T).IsArray) return (T)(object)list.ToArray();
        if (_create is null) return (T)(object)list;
        var target = (ICollection<TElement>)_create();
        foreach (var item in list) target.Add(item);
        return (T)target;
    }

    private static JsonException At(int index, Exception ex)
    {
        string inner = (ex as JsonException)?.Path is { Length: > 1 } path && path[0] == '$' ? path[1..] : "";
        return new JsonException(ex.Message, $"$[{index}]{inner}", null, null, ex);
    }
}

/// <summary>A dictionary with string keys as a map.</summary>
internal sealed class DictionaryFormatter<T, TValue>(JsonTypeInfo info) : IMessagePackFormatter<T>
{
    private readonly Func<object>? _create = typeof(T).IsAssignableFrom(typeof(Dictionary<string, TValue>)) ? null : info.CreateObject;

    public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
    {
        if (value is null) { writer.WriteNil(); return; }
        var formatter = options.Resolver.GetFormatterWithVerify<TValue>();
        var entries = (IEnumerable<KeyValuePair<string, TValue>>)value;
        int count = entries switch
        {
            ICollection<KeyValuePair<string, TValue>> c => c.Count,
            IReadOnlyCollection<KeyValuePair<string, TValue>> c => c.Count,
            _ => -1,
        };
        if (count < 0)
        {
            var buffered = entries.ToList();
            entries = buffered;
            count = buffered.Count;
        }
        writer.WriteMapHeader(count);
        foreach (var (key, item) in entries)
        {
            writer.Write(key);
            formatter.Serialize(ref writer, item, options);
        }
    }

    public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return default!;
        if (reader.NextMessagePackType != MessagePackType.Map) throw new JsonException("expected a map (an object)");
        int count = reader.ReadMapHeader();
        options.Security.DepthStep(ref reader);
        var formatter = options.Resolver.GetFormatterWithVerify<TValue>();
        var map = new Dictionary<string, TValue>(CollectionFormatters.InitialCapacity(count, reader.Sequence.Length - reader.Consumed), StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string key = reader.NextMessagePackType switch
            {
                MessagePackType.String => System.Text.Encoding.UTF8.GetString(JsonTranscoder.ReadUtf8(ref reader, out var rented)) is var k && Return(rented) ? k : k,
                MessagePackType.Integer => reader.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => throw new JsonException("map keys must be strings"),
            };
            map[key] = formatter.Deserialize(ref reader, options);
        }
        reader.Depth--;
        if (_create is null) return (T)(object)map;
        var target = (IDictionary<string, TValue>)_create();
        foreach (var (key, item) in map) target[key] = item;
        return (T)target;
    }

    private static bool Return(byte[]? rented)
    {
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return true;
    }
}
