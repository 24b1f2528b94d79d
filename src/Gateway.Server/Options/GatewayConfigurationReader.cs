using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Gateway.Server.Options;

/// <summary>
/// Reads the "Gateway" section into <see cref="GatewayOptions"/>. The configuration binder's own errors name a CLR
/// type ("…LimitsOptions: 'MaxMessageByte'"), list no allowed enum values, and it reads a bare number as a number of
/// days for a TimeSpan; so the raw keys are checked first against the options' shape, and every problem is reported
/// with its full key path (Gateway:Limits:MaxMessageBytes) and what is allowed there.
/// </summary>
public static class GatewayConfigurationReader
{
    /// <summary>
    /// Binds <paramref name="section"/> into <paramref name="options"/> and returns every problem at once: unknown keys,
    /// values of the wrong type or format, and, when there is any of those, the range checks of
    /// <see cref="GatewayOptionsValidator"/> too. Empty when the section binds cleanly (the validator still runs after).
    /// </summary>
    public static List<string> Bind(IConfigurationSection section, GatewayOptions options)
    {
        var errors = new List<string>();
        var badKeys = new List<string>();        // paths relative to the section, left out of the binding
        var badValues = new List<(string Key, string Expected, string Value)>();
        CheckObject(section, typeof(GatewayOptions), section.Path, section.Path, errors, badKeys, badValues);

        if (errors.Count == 0 && badValues.Count == 0)
        {
            try { section.Bind(options, o => o.ErrorOnUnknownConfiguration = true); }
            catch (InvalidOperationException ex) { errors.Add($"{section.Path}: {ex.Message}"); } // a shape this check does not know yet
            return errors;
        }

        // Bind what is well formed, so the range checks below see the rest of the configuration.
        var clean = section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !badKeys.Any(b => kv.Key.Equals(b, StringComparison.OrdinalIgnoreCase)
                || kv.Key.StartsWith(b + ":", StringComparison.OrdinalIgnoreCase)));
        new ConfigurationBuilder().AddInMemoryCollection(clean).Build().Bind(options, o => o.ErrorOnUnknownConfiguration = true);

        var checks = new GatewayOptionsValidator.ErrorList();
        GatewayOptionsValidator.Collect(options, checks);
        foreach (var (key, expected, value) in badValues)
        {
            string allowed = checks.Allowed.TryGetValue(key, out var range) ? ", " + range : "";
            errors.Add($"{key} must be {expected}{allowed} (got '{value}').");
        }
        errors.AddRange(checks);
        return errors;
    }

    /// <summary>What a duration looks like in the configuration, for messages and docs.</summary>
    public const string DurationFormat = "a duration written hh:mm:ss[.fff] such as 00:00:10 or 00:00:00.250 (a bare number is not a duration)";

    /// <summary>
    /// hh:mm:ss with optional days and fraction ([d.]hh:mm:ss[.fffffff]); a bare number ("10") is refused, because
    /// TimeSpan.Parse reads it as ten days, which is never what "Handshake=10" meant.
    /// </summary>
    public static bool IsDuration(string value) =>
        value.Contains(':') && TimeSpan.TryParse(value.Trim(), CultureInfo.InvariantCulture, out _);

    private static void CheckObject(IConfigurationSection section, Type type, string path, string sectionRoot,
        List<string> errors, List<string> badKeys, List<(string, string, string)> badValues)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetSetMethod() is not null && p.GetIndexParameters().Length == 0).ToArray();
        foreach (var child in section.GetChildren())
        {
            var property = properties.FirstOrDefault(p => p.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                errors.Add($"{path}:{child.Key} is not a configuration key; the keys under {path} are {string.Join(", ", properties.Select(p => p.Name))} (docs/configuration.md).");
                badKeys.Add(Relative(child.Path, sectionRoot));
                continue;
            }
            CheckValue(child, property.PropertyType, $"{path}:{property.Name}", sectionRoot, errors, badKeys, badValues);
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, string path, string sectionRoot,
        List<string> errors, List<string> badKeys, List<(string, string, string)> badValues)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        bool hasChildren = section.GetChildren().Any();
        string? expected = Scalar(type);
        if (expected is not null)
        {
            if (hasChildren)
            {
                errors.Add($"{path} is a single value ({expected}), not a section (got keys under it: {string.Join(", ", section.GetChildren().Select(c => c.Key))}).");
                badKeys.Add(Relative(section.Path, sectionRoot));
            }
            else if (section.Value is { } value && !IsValid(type, value))
            {
                badValues.Add((path, expected, value));
                badKeys.Add(Relative(section.Path, sectionRoot));
            }
            return;
        }

        Type? element = type.IsArray ? type.GetElementType()
            : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) ? type.GetGenericArguments()[1]
            : null;
        if (!hasChildren && !string.IsNullOrEmpty(section.Value))
        {
            string shape = type.IsArray ? $"a list: set {path}:0, {path}:1, …" : $"a section: set the keys under it ({path}:…)";
            errors.Add($"{path} is {shape} (got the single value '{section.Value}').");
            badKeys.Add(Relative(section.Path, sectionRoot));
            return;
        }
        if (element is null)
        {
            CheckObject(section, type, path, sectionRoot, errors, badKeys, badValues);
            return;
        }
        foreach (var child in section.GetChildren())
        {
            if (type.IsArray && !int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                errors.Add($"{path}:{child.Key} is not a list index: {path} is a list, set {path}:0, {path}:1, ….");
                badKeys.Add(Relative(child.Path, sectionRoot));
                continue;
            }
            CheckValue(child, element, $"{path}:{child.Key}", sectionRoot, errors, badKeys, badValues);
        }
    }

    /// <summary>The description of a scalar type's format, or null for a section (object, list, map).</summary>
    private static string? Scalar(Type type) =>
        type == typeof(string) ? "text"
        : type == typeof(int) || type == typeof(long) ? "a whole number"
        : type == typeof(double) ? "a number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(TimeSpan) ? DurationFormat
        : type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(type))
        : null;

    private static bool IsValid(Type type, string value)
    {
        if (type == typeof(string)) return true;
        if (type == typeof(int)) return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        if (type == typeof(long)) return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        if (type == typeof(double)) return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
        if (type == typeof(bool)) return bool.TryParse(value, out _);
        if (type == typeof(TimeSpan)) return IsDuration(value);
        // Names only (any case, as the binder reads them): a number would bind to an undefined or unintended member.
        if (type.IsEnum) return Enum.GetNames(type).Any(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase));
        return false;
    }

    private static string Relative(string path, string root) => path.Length > root.Length ? path[(root.Length + 1)..] : "";
}
