using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MessagePack;
using MessagePack.Formatters;

namespace Gateway.Shared.MsgPack;

/// <summary>
/// An object as a map keyed by its JSON property names. Written through typed getters (no boxing); read into a new
/// instance through typed setters, or, for a type built by its constructor (records), collected and passed to it.
/// </summary>
internal sealed class ObjectFormatter<T>(ObjectContract contract) : IMessagePackFormatter<T>
{
    private readonly Member<T>[] _members = ((ObjectContract<T>)contract).Members;
    private readonly ObjectContract<T> _contract = (ObjectContract<T>)contract;

    public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
    {
        if (value is null) { writer.WriteNil(); return; }
        var members = _members;
        Span<bool> write = members.Length <= 256 ? stackalloc bool[members.Length] : new bool[members.Length];
        int count = 0;
        for (int i = 0; i < members.Length; i++)
        {
            if (members[i].CanWrite && members[i].ShouldWrite(value)) { write[i] = true; count++; }
        }
        writer.WriteMapHeader(count);
        for (int i = 0; i < members.Length; i++)
        {
            if (!write[i]) continue;
            writer.WriteRaw(members[i].EncodedName);
            members[i].Write(ref writer, value, options);
        }
    }

    public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return default!;
        if (reader.NextMessagePackType != MessagePackType.Map) throw new JsonException("expected a map (an object)");
        int count = reader.ReadMapHeader();
        options.Security.DepthStep(ref reader);
        try
        {
            return _contract.ByConstructor ? ReadByConstructor(ref reader, count, options) : ReadBySetters(ref reader, count, options);
        }
        finally
        {
            reader.Depth--;
        }
    }

    private T ReadBySetters(ref MessagePackReader reader, int count, MessagePackSerializerOptions options)
    {
        var members = _members;
        T value = _contract.Create!();
        Span<bool> seen = members.Length <= 256 ? stackalloc bool[members.Length] : new bool[members.Length];
        for (int i = 0; i < count; i++)
        {
            int index = FindMember(ref reader);
            if (index < 0 || !members[index].CanRead) { reader.Skip(); continue; }
            try { members[index].ReadInto(ref reader, ref value, options); }
            catch (Exception ex) when (ex is not JsonException { Path: not null }) { throw AtMember(members[index], ex); }
            catch (JsonException ex) { throw AtMember(members[index], ex); }
            seen[index] = true;
        }
        CheckRequired(seen);
        return value;
    }

    private T ReadByConstructor(ref MessagePackReader reader, int count, MessagePackSerializerOptions options)
    {
        var members = _members;
        var values = new object?[members.Length];
        Array.Fill(values, ObjectContract.Missing);
        Span<bool> seen = members.Length <= 256 ? stackalloc bool[members.Length] : new bool[members.Length];
        for (int i = 0; i < count; i++)
        {
            int index = FindMember(ref reader);
            if (index < 0 || !members[index].CanRead) { reader.Skip(); continue; }
            try { values[index] = members[index].ReadBoxed(ref reader, options); }
            catch (Exception ex) when (ex is not JsonException { Path: not null }) { throw AtMember(members[index], ex); }
            catch (JsonException ex) { throw AtMember(members[index], ex); }
            seen[index] = true;
        }
        CheckRequired(seen);
        return _contract.Construct!(values);
    }

    private int FindMember(ref MessagePackReader reader)
    {
        if (reader.NextMessagePackType != MessagePackType.String)
        {
            if (reader.NextMessagePackType == MessagePackType.Integer) { reader.Skip(); return -1; }
            throw new JsonException("map keys must be strings");
        }
        var name = JsonTranscoder.ReadUtf8(ref reader, out var rented);
        try
        {
            var members = _members;
            for (int i = 0; i < members.Length; i++)
            {
                if (name.SequenceEqual(members[i].Utf8Name)) return i;
            }
            if (_contract.CaseInsensitive)
            {
                string text = Encoding.UTF8.GetString(name);
                for (int i = 0; i < members.Length; i++)
                {
                    if (string.Equals(text, members[i].Name, StringComparison.OrdinalIgnoreCase)) return i;
                }
            }
            if (_contract.DisallowUnmapped) throw new JsonException($"The JSON property '{Encoding.UTF8.GetString(name)}' could not be mapped to any .NET member contained in type '{typeof(T)}'.");
            return -1;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void CheckRequired(Span<bool> seen)
    {
        List<string>? missing = null;
        var members = _members;
        for (int i = 0; i < members.Length; i++)
        {
            if (members[i].IsRequired && !seen[i]) (missing ??= []).Add(members[i].Name);
        }
        // The wording System.Text.Json uses, so the gateway explains it the same way for both formats.
        if (missing is not null) throw new JsonException($"JSON deserialization for type '{typeof(T)}' was missing required properties including: {string.Join(", ", missing.Select(m => "'" + m + "'"))}.");
    }

    private static JsonException AtMember(Member<T> member, Exception ex)
    {
        string inner = (ex as JsonException)?.Path is { Length: > 1 } path && path[0] == '$' ? path[1..] : "";
        string message = ex is MessagePackSerializationException { InnerException: { } cause } ? cause.Message : ex.Message;
        return new JsonException(message, "$." + member.Name + inner, null, null, ex);
    }
}

/// <summary>How a type's JSON contract maps onto MessagePack members; built once per type.</summary>
internal abstract class ObjectContract
{
    /// <summary>A constructor argument the message did not carry.</summary>
    internal static readonly object Missing = new();

    public static ObjectContract? TryCreate(JsonTypeInfo info, JsonContractResolver resolver)
    {
        // Extension data collects unknown members: only System.Text.Json itself does that (the fallback).
        foreach (var p in info.Properties)
        {
            if (p.IsExtensionData) return null;
        }
        return (ObjectContract)Activator.CreateInstance(typeof(ObjectContract<>).MakeGenericType(info.Type), info, resolver)!;
    }
}

internal sealed class ObjectContract<T> : ObjectContract
{
    public ObjectContract(JsonTypeInfo info, JsonContractResolver resolver)
    {
        var options = info.Options;
        CaseInsensitive = options.PropertyNameCaseInsensitive;
        DisallowUnmapped = (info.UnmappedMemberHandling ?? options.UnmappedMemberHandling) == JsonUnmappedMemberHandling.Disallow;
        var properties = info.Properties.OrderBy(p => p.Order).ToList();
        Members = properties.Select(p => (Member<T>)Activator.CreateInstance(typeof(Member<,>).MakeGenericType(typeof(T), p.PropertyType), p, resolver)!).ToArray();

        var ctor = info.ConstructorAttributeProvider as ConstructorInfo;
        ByConstructor = ctor is not null && ctor.GetParameters().Length > 0;
        if (ByConstructor) Construct = BuildConstructor(ctor!, properties);
        else if (typeof(T).IsValueType) Create = static () => default!;
        else if (info.CreateObject is { } create) Create = () => (T)create();
        else Create = () => throw new NotSupportedException($"'{typeof(T)}' has no constructor the serializer can use");
    }

    public Member<T>[] Members { get; }
    public bool CaseInsensitive { get; }
    public bool DisallowUnmapped { get; }
    public bool ByConstructor { get; }
    public Func<T>? Create { get; }
    public Func<object?[], T>? Construct { get; }

    // new T(args…) { other members that arrived }, compiled once: arguments and members in the order of Members.
    private Func<object?[], T> BuildConstructor(ConstructorInfo ctor, List<JsonPropertyInfo> properties)
    {
        var values = Expression.Parameter(typeof(object[]), "values");
        var parameters = ctor.GetParameters();
        var args = new Expression[parameters.Length];
        var missing = Expression.Constant(Missing);
        for (int i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            int index = properties.FindIndex(p => p.AssociatedParameter is { } ap && ap.Position == parameter.Position);
            Expression fallback = parameter.HasDefaultValue && parameter.DefaultValue is not null && parameter.DefaultValue is not DBNull
                ? Expression.Convert(Expression.Constant(parameter.DefaultValue), parameter.ParameterType)
                : Expression.Default(parameter.ParameterType);
            if (index < 0) { args[i] = fallback; continue; }
            var slot = Expression.ArrayIndex(values, Expression.Constant(index));
            args[i] = Expression.Condition(Expression.ReferenceEqual(slot, missing), fallback, Expression.Convert(slot, parameter.ParameterType));
        }
        var result = Expression.Variable(typeof(T), "result");
        var body = new List<Expression> { Expression.Assign(result, Expression.New(ctor, args)) };
        for (int i = 0; i < properties.Count; i++)
        {
            var p = properties[i];
            if (p.AssociatedParameter is not null || p.AttributeProvider is not MemberInfo member || !Member.IsWritable(member)) continue;
            var slot = Expression.ArrayIndex(values, Expression.Constant(i));
            body.Add(Expression.IfThen(Expression.Not(Expression.ReferenceEqual(slot, missing)),
                Expression.Assign(Expression.MakeMemberAccess(result, member), Expression.Convert(slot, p.PropertyType))));
        }
        body.Add(result);
        return Expression.Lambda<Func<object?[], T>>(Expression.Block([result], body), values).Compile();
    }
}

internal abstract class Member
{
    public static bool IsWritable(MemberInfo member) => member switch
    {
        PropertyInfo p => p.GetSetMethod(nonPublic: true) is not null,
        FieldInfo f => !f.IsInitOnly,
        _ => false,
    };
}

/// <summary>One member of an object: its name (as JSON spells it), its condition for being written, typed access.</summary>
internal abstract class Member<T> : Member
{
    public string Name { get; protected init; } = "";
    public byte[] Utf8Name { get; protected init; } = [];
    /// <summary>The name as a MessagePack str, written as is.</summary>
    public byte[] EncodedName { get; protected init; } = [];
    public bool CanWrite { get; protected init; }
    public bool CanRead { get; protected init; }
    public bool IsRequired { get; protected init; }
    public abstract bool ShouldWrite(T obj);
    public abstract void Write(ref MessagePackWriter writer, T obj, MessagePackSerializerOptions options);
    public abstract void ReadInto(ref MessagePackReader reader, ref T obj, MessagePackSerializerOptions options);
    public abstract object? ReadBoxed(ref MessagePackReader reader, MessagePackSerializerOptions options);
}

internal sealed class Member<T, TProp> : Member<T>
{
    private delegate void RefSetter(ref T obj, TProp value);

    private readonly JsonContractResolver _resolver;
    private readonly Func<T, TProp>? _get;
    private readonly RefSetter? _set;
    private readonly JsonIgnoreCondition _condition;
    private readonly Func<object, object?, bool>? _shouldSerialize;
    private IMessagePackFormatter<TProp>? _formatter;

    public Member(JsonPropertyInfo property, JsonContractResolver resolver)
    {
        _resolver = resolver;
        Name = property.Name;
        Utf8Name = Encoding.UTF8.GetBytes(property.Name);
        var encoded = new System.Buffers.ArrayBufferWriter<byte>(Utf8Name.Length + 5);
        var w = new MessagePackWriter(encoded);
        w.WriteString(Utf8Name);
        w.Flush();
        EncodedName = encoded.WrittenSpan.ToArray();
        IsRequired = property.IsRequired;

        var member = property.AttributeProvider as MemberInfo;
        if (property.Get is not null)
        {
            if (member is PropertyInfo or FieldInfo)
            {
                var obj = Expression.Parameter(typeof(T), "obj");
                _get = Expression.Lambda<Func<T, TProp>>(Expression.MakeMemberAccess(obj, member), obj).Compile();
            }
            else
            {
                var get = property.Get;
                _get = obj => (TProp)get(obj!)!;
            }
            CanWrite = true;
        }
        if (property.AssociatedParameter is not null)
        {
            CanRead = true; // a constructor argument
        }
        else if (property.Set is not null)
        {
            if (member is not null && IsWritable(member))
            {
                var obj = Expression.Parameter(typeof(T).MakeByRefType(), "obj");
                var value = Expression.Parameter(typeof(TProp), "value");
                _set = Expression.Lambda<RefSetter>(Expression.Assign(Expression.MakeMemberAccess(obj, member), value), obj, value).Compile();
            }
            else
            {
                var set = property.Set;
                _set = (ref T obj, TProp value) =>
                {
                    object boxed = obj!;
                    set(boxed, value);
                    obj = (T)boxed;
                };
            }
            CanRead = true;
        }

        if (property.ShouldSerialize is { } should)
        {
            var ignore = member?.GetCustomAttribute<JsonIgnoreAttribute>();
            _condition = ignore?.Condition ?? property.Options.DefaultIgnoreCondition;
            if (_condition is not (JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault)) _shouldSerialize = should;
        }
        else if (property.Options.DefaultIgnoreCondition is JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault
            && member?.GetCustomAttribute<JsonIgnoreAttribute>() is null)
        {
            _condition = property.Options.DefaultIgnoreCondition;
        }
        if (property.CustomConverter is not null) _formatter = (IMessagePackFormatter<TProp>)Activator.CreateInstance(typeof(JsonFallbackFormatter<TProp>), PropertyContract(property))!;
    }

    // A member with its own [JsonConverter]: System.Text.Json writes it, as a one-member contract would.
    private static JsonTypeInfo PropertyContract(JsonPropertyInfo property)
    {
        var options = new JsonSerializerOptions(property.Options);
        options.Converters.Insert(0, property.CustomConverter!);
        return options.GetTypeInfo(typeof(TProp));
    }

    private IMessagePackFormatter<TProp> Formatter => _formatter ??= _resolver.GetFormatter<TProp>() ?? throw new NotSupportedException($"no formatter for {typeof(TProp)}");

    public override bool ShouldWrite(T obj)
    {
        if (_condition == JsonIgnoreCondition.Never && _shouldSerialize is null) return true;
        var value = _get!(obj);
        if (_shouldSerialize is not null) return _shouldSerialize(obj!, value);
        if (_condition == JsonIgnoreCondition.WhenWritingNull) return value is not null;
        if (_condition == JsonIgnoreCondition.WhenWritingDefault) return !EqualityComparer<TProp>.Default.Equals(value, default!);
        return true;
    }

    public override void Write(ref MessagePackWriter writer, T obj, MessagePackSerializerOptions options) =>
        Formatter.Serialize(ref writer, _get!(obj), options);

    public override void ReadInto(ref MessagePackReader reader, ref T obj, MessagePackSerializerOptions options)
    {
        var value = Formatter.Deserialize(ref reader, options);
        _set!(ref obj, value);
    }

    public override object? ReadBoxed(ref MessagePackReader reader, MessagePackSerializerOptions options) => Formatter.Deserialize(ref reader, options);
}
