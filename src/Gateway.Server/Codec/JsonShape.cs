using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Gateway.Server.Codec;

/// <summary>
/// Says what a handler's input looks like in the client's terms ("an object", "an integer", "an array"), for
/// INVALID_ARGUMENT messages: a client writes JSON and should never be shown .NET type names such as
/// <c>System.Nullable`1[System.Int64]</c>. Runs only on the error path.
/// </summary>
internal static class JsonShape
{
    public static string Describe(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return Describe(inner) + " or null";
        if (type.IsEnum)
        {
            return type.GetCustomAttribute<JsonConverterAttribute>() is { ConverterType: { } c } && c.Name.StartsWith("JsonStringEnumConverter", StringComparison.Ordinal)
                ? "one of " + string.Join(", ", Enum.GetNames(type).Select(n => "\"" + n + "\""))
                : "an integer";
        }
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Boolean: return "true or false";
            case TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64:
                return "an integer";
            case TypeCode.Single or TypeCode.Double or TypeCode.Decimal: return "a number";
            case TypeCode.String or TypeCode.Char or TypeCode.DateTime: return "a string";
        }
        if (type == typeof(Int128) || type == typeof(UInt128) || type == typeof(nint) || type == typeof(nuint)) return "an integer";
        if (type == typeof(Half)) return "a number";
        if (type == typeof(byte[])) return "a base64 string";
        if (type == typeof(Guid) || type == typeof(DateTimeOffset) || type == typeof(TimeSpan) || type == typeof(DateOnly) || type == typeof(TimeOnly)
            || type == typeof(Uri) || type == typeof(Version))
            return "a string";
        if (type == typeof(object) || type == typeof(JsonElement) || type == typeof(JsonNode) || type == typeof(JsonValue) || type == typeof(JsonDocument)) return "any JSON value";
        if (type == typeof(JsonArray)) return "an array";
        if (typeof(IDictionary).IsAssignableFrom(type) || type.GetInterfaces().Any(IsGenericDictionary) || IsGenericDictionary(type)) return "an object";
        if (typeof(IEnumerable).IsAssignableFrom(type)) return "an array";
        return "an object";
    }

    private static bool IsGenericDictionary(Type t) => t.IsGenericType &&
        (t.GetGenericTypeDefinition() == typeof(IDictionary<,>) || t.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>));

    /// <summary>The INVALID_ARGUMENT message for a handler's input that did not deserialize.</summary>
    public static string InvalidInput(string procedure, string rootShape, JsonTypeInfo root, Exception ex, int maxDepth) =>
        $"invalid input for '{procedure}': {Explain(rootShape, root, ex, maxDepth)}";

    /// <summary>
    /// Why JSON did not deserialize, in the client's terms: when the serializer says where it failed, that member
    /// and what it must be; otherwise what the whole value should be.
    /// </summary>
    public static string Explain(string rootShape, JsonTypeInfo root, Exception ex, int maxDepth)
    {
        string? path = (ex as JsonException)?.Path;
        string message = ex.Message;
        string where = path is null or "$" ? "the value" : path;
        if (message.Contains("maximum allowed depth", StringComparison.Ordinal))
            return $"{where} is nested deeper than {maxDepth} levels";
        int required = message.IndexOf("missing required properties", StringComparison.Ordinal);
        if (required >= 0)
        {
            int list = message.IndexOf(": ", required, StringComparison.Ordinal);
            string names = list < 0 ? "" : message[(list + 2)..].TrimEnd('.', ' ');
            return $"{where} lacks required members {names}";
        }
        if (path is not null and not "$" && MemberType(root, path) is { } member)
            return $"{path} must be {Describe(member)}";
        return $"expects {rootShape}";
    }

    /// <summary>The declared type at a serializer path such as <c>$.items[2].name</c> or <c>$['a b']</c>; null when it cannot tell.</summary>
    internal static Type? MemberType(JsonTypeInfo root, string path)
    {
        if (!path.StartsWith('$')) return null;
        var options = root.Options;
        Type current = root.Type;
        int i = 1;
        while (i < path.Length)
        {
            JsonTypeInfo info;
            try { info = options.GetTypeInfo(Nullable.GetUnderlyingType(current) ?? current); }
            catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException) { return null; }
            string? name = null;
            if (path[i] == '.')
            {
                int end = path.IndexOfAny(['.', '['], i + 1);
                if (end < 0) end = path.Length;
                name = path[(i + 1)..end];
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                int end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0) return null;
                name = path[(i + 2)..end];
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i + 1);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out _)) return null;
                i = end + 1;
                if (info.Kind != JsonTypeInfoKind.Enumerable || info.ElementType is null) return null;
                current = info.ElementType;
                continue;
            }
            else return null;

            if (info.Kind == JsonTypeInfoKind.Dictionary && info.ElementType is { } valueType)
            {
                current = valueType;
                continue;
            }
            if (info.Kind != JsonTypeInfoKind.Object) return null;
            var comparison = options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, comparison));
            if (property is null) return null;
            current = property.PropertyType;
        }
        return current;
    }
}
