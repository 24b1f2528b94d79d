using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace Gateway.Shared.MsgPack;

/// <summary>
/// MessagePack formatters driven by System.Text.Json's contracts (<see cref="JsonTypeInfo"/>): a type looks the same in
/// both wire formats with no MessagePack attributes. Objects are maps keyed by their JSON property names (naming policy,
/// <c>[JsonPropertyName]</c>, <c>[JsonIgnore]</c> conditions, required members, constructors), collections are arrays,
/// dictionaries maps, <c>byte[]</c>/<c>ReadOnlyMemory&lt;byte&gt;</c> bin, <c>DateTime</c>/<c>DateTimeOffset</c> the
/// timestamp extension (-1), numbers the smallest encoding. What it cannot map member by member (custom converters,
/// polymorphism, extension data, string enums, TimeSpan and friends) goes through System.Text.Json and is transcoded,
/// so it still has exactly its JSON shape.
/// </summary>
/// <remarks>Shared source (src/Shared/MessagePack): compiled into the server and the .NET client; depends only on
/// System.Text.Json and MessagePack 2.5.</remarks>
internal sealed class JsonContractResolver : IFormatterResolver
{
    private readonly ConcurrentDictionary<Type, object> _formatters = new();
    private readonly Func<Type, object?>? _own;

    /// <param name="json">The contracts to follow.</param>
    /// <param name="own">Formatters the user of this shared source brings for its own types (asked first; null: none).</param>
    public JsonContractResolver(JsonSerializerOptions json, Func<Type, object?>? own = null)
    {
        Json = json;
        _own = own;
        // Freeze the contract: GetTypeInfo needs a read-only options instance.
        if (!json.IsReadOnly) json.MakeReadOnly(populateMissingResolver: true);
    }

    public JsonSerializerOptions Json { get; }

    public IMessagePackFormatter<T>? GetFormatter<T>() =>
        (IMessagePackFormatter<T>)_formatters.GetOrAdd(typeof(T), static (type, self) => self.Build(type), this);

    /// <summary>MessagePack options over this resolver for data from a peer (<see cref="MessagePackSecurity.UntrustedData"/>, at most <paramref name="maxDepth"/> levels).</summary>
    public MessagePackSerializerOptions Options(int maxDepth) => MessagePackSerializerOptions.Standard
        .WithResolver(this)
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(maxDepth));

    private object Build(Type type)
    {
        if (_own?.Invoke(type) is { } own) return own;
        if (type == typeof(byte[])) return BinaryFormatter.Instance;
        if (type == typeof(ReadOnlyMemory<byte>)) return ReadOnlyMemoryBinaryFormatter.Instance;
        if (type == typeof(Memory<byte>)) return MemoryBinaryFormatter.Instance;
        if (type == typeof(DateTime)) return TimestampFormatter.Instance;
        if (type == typeof(DateTimeOffset)) return TimestampOffsetFormatter.Instance;
        if (type == typeof(double)) return CompactDoubleFormatter.Instance;
        if (type == typeof(float)) return CompactSingleFormatter.Instance;
        if (type == typeof(decimal)) return DecimalAsNumberFormatter.Instance;
        if (type == typeof(JsonElement)) return JsonElementFormatter.Instance;
        if (type == typeof(object)) return new DynamicObjectFormatter(this);
        if (Nullable.GetUnderlyingType(type) is { } inner)
            return Activator.CreateInstance(typeof(NullableFormatter<>).MakeGenericType(inner))!;

        bool customConverter = type.GetCustomAttribute<JsonConverterAttribute>() is not null || HasOptionsConverter(type);
        if (!customConverter)
        {
            if (type == typeof(string) || type == typeof(bool) || type == typeof(char) || type == typeof(Guid)
                || type == typeof(sbyte) || type == typeof(byte) || type == typeof(short) || type == typeof(ushort)
                || type == typeof(int) || type == typeof(uint) || type == typeof(long) || type == typeof(ulong))
            {
                return BuiltinResolver.Instance.GetFormatterDynamic(type)!;
            }
            if (type.IsEnum && !EnumWritesString(type))
                return Activator.CreateInstance(typeof(NumericEnumFormatter<>).MakeGenericType(type))!;
        }

        var info = Json.GetTypeInfo(type);
        if (customConverter || info.PolymorphismOptions is not null || type == typeof(JsonNode) || type.IsSubclassOf(typeof(JsonNode)))
            return Fallback(info);
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object when ObjectContract.TryCreate(info, this) is { } contract:
                return Activator.CreateInstance(typeof(ObjectFormatter<>).MakeGenericType(type), contract)!;
            case JsonTypeInfoKind.Enumerable when info.ElementType is { } element && CollectionFormatters.CanHandle(type, element):
                return Activator.CreateInstance(typeof(EnumerableFormatter<,>).MakeGenericType(type, element), info)!;
            case JsonTypeInfoKind.Dictionary when info.KeyType == typeof(string) && info.ElementType is { } value && CollectionFormatters.CanHandleDictionary(type, value):
                return Activator.CreateInstance(typeof(DictionaryFormatter<,>).MakeGenericType(type, value), info)!;
            default:
                return Fallback(info);
        }
    }

    private bool HasOptionsConverter(Type type)
    {
        foreach (var converter in Json.Converters)
        {
            if (converter.CanConvert(type)) return true;
        }
        return false;
    }

    // An enum is a string in JSON when a JsonStringEnumConverter (on the type or in the options) writes it: ask the contract.
    private bool EnumWritesString(Type type)
    {
        var values = Enum.GetValues(type);
        object sample = values.Length > 0 ? values.GetValue(0)! : Activator.CreateInstance(type)!;
        string json = JsonSerializer.Serialize(sample, type, Json);
        return json.Length > 0 && json[0] == '"';
    }

    private static object Fallback(JsonTypeInfo info) =>
        Activator.CreateInstance(typeof(JsonFallbackFormatter<>).MakeGenericType(info.Type), info)!;
}
