using System.Globalization;
using System.Reflection;
using Gateway.Backplane;
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
    /// <see cref="GatewayOptionsValidator"/> too. <paramref name="backplanes"/> are the brokers' own sections
    /// (Gateway:Backplane:Redis, registered by Gateway.Backplane.Redis): their keys are checked the same way, and their
    /// bound options go with <paramref name="options"/> to the validator. Empty when the section binds cleanly (the
    /// validator still runs after).
    /// </summary>
    public static List<string> Bind(IConfigurationSection section, GatewayOptions options, IEnumerable<BackplaneOptionsSection>? backplanes = null)
    {
        var scan = new Scan(section.Path, backplanes?.ToArray() ?? []);
        scan.CheckObject(section, typeof(GatewayOptions), section.Path);
        var errors = scan.Errors;
        // The brokers' sections are bound apart (their classes are not part of GatewayOptions); malformed keys not at all.
        var forGateway = Without(section, scan.BadKeys.Concat(scan.BackplaneKeys));
        var forBackplanes = Without(section, scan.BadKeys);

        if (errors.Count == 0 && scan.BadValues.Count == 0)
        {
            try
            {
                forGateway.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
                scan.BindBackplanes(forBackplanes, options);
            }
            catch (InvalidOperationException ex) { errors.Add($"{section.Path}: {ex.Message}"); } // a shape this check does not know yet
            return errors;
        }

        // Bind what is well formed, so the range checks below see the rest of the configuration.
        forGateway.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        scan.BindBackplanes(forBackplanes, options);
        var checks = new GatewayOptionsValidator.ErrorList();
        GatewayOptionsValidator.Collect(options, checks);
        foreach (var (key, expected, value) in scan.BadValues)
        {
            string allowed = checks.Allowed.TryGetValue(key, out var range) ? ", " + range : "";
            errors.Add($"{key} must be {expected}{allowed} (got '{value}').");
        }
        errors.AddRange(checks);
        return errors;
    }

    /// <summary>The section without the keys at or under <paramref name="relativePaths"/> (itself when there are none).</summary>
    private static IConfiguration Without(IConfigurationSection section, IEnumerable<string> relativePaths)
    {
        var left = relativePaths.ToList();
        if (left.Count == 0) return section;
        var kept = section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !left.Any(b => kv.Key.Equals(b, StringComparison.OrdinalIgnoreCase)
                || kv.Key.StartsWith(b + ":", StringComparison.OrdinalIgnoreCase)));
        return new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
    }

    /// <summary>What a duration looks like in the configuration, for messages and docs.</summary>
    public const string DurationFormat = "a duration written hh:mm:ss[.fff] such as 00:00:10 or 00:00:00.250 (a bare number is not a duration)";

    /// <summary>
    /// hh:mm:ss with optional days and fraction ([d.]hh:mm:ss[.fffffff]); a bare number ("10") is refused, because
    /// TimeSpan.Parse reads it as ten days, which is never what "Handshake=10" meant.
    /// </summary>
    public static bool IsDuration(string value) =>
        value.Contains(':') && TimeSpan.TryParse(value.Trim(), CultureInfo.InvariantCulture, out _);

    /// <summary>One pass over the raw keys: what is wrong, and which keys the binder must not see.</summary>
    private sealed class Scan(string sectionRoot, BackplaneOptionsSection[] backplanes)
    {
        private readonly BackplaneOptionsSection[] _backplanes = backplanes;
        public List<string> Errors { get; } = [];
        /// <summary>Paths relative to the section, left out of the binding.</summary>
        public List<string> BadKeys { get; } = [];
        public List<(string Key, string Expected, string Value)> BadValues { get; } = [];
        /// <summary>The brokers' sections found (relative paths, e.g. "Backplane:Redis"): bound into their own classes.</summary>
        public List<string> BackplaneKeys { get; } = [];

        /// <summary>A section under Gateway:Backplane named after a broker: checked against that broker's options class.</summary>
        private bool CheckBackplane(IConfigurationSection child, string path)
        {
            var backplane = _backplanes.FirstOrDefault(b => b.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            if (backplane is not null)
            {
                BackplaneKeys.Add(Relative(child.Path));
                CheckValue(child, backplane.OptionsType, $"{path}:{backplane.Name}");
                return true;
            }
            if (!Enum.GetNames<BackplaneType>().Any(n => n != nameof(BackplaneType.InMemory) && n.Equals(child.Key, StringComparison.OrdinalIgnoreCase)))
                return false;
            // A known broker whose assembly this host did not register: its keys cannot be checked, nor the broker used.
            string name = Enum.GetNames<BackplaneType>().First(n => n.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
            Errors.Add($"{path}:{child.Key} configures the {name} backplane, which this host does not have (Gateway.Backplane.{name}: services.Add{name}Backplane()); without it {path}:Type can only be InMemory.");
            BadKeys.Add(Relative(child.Path));
            return true;
        }

        /// <summary>Binds each registered broker's section into its own class, kept with the options for the validator.</summary>
        public void BindBackplanes(IConfiguration clean, GatewayOptions options)
        {
            foreach (var backplane in _backplanes)
            {
                var bound = Activator.CreateInstance(backplane.OptionsType)
                    ?? throw new InvalidOperationException($"{backplane.OptionsType} has no public parameterless constructor");
                clean.GetSection($"Backplane:{backplane.Name}").Bind(bound, o => o.ErrorOnUnknownConfiguration = true);
                options.Backplane.Sections.Add((backplane, bound));
            }
        }

        public void CheckObject(IConfigurationSection section, Type type, string path)
        {
            var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite && p.GetSetMethod() is not null && p.GetIndexParameters().Length == 0).ToArray();
            foreach (var child in section.GetChildren())
            {
                var property = properties.FirstOrDefault(p => p.Name.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
                if (property is null && type == typeof(BackplaneOptions) && CheckBackplane(child, path))
                    continue;
                if (property is null)
                {
                    var keys = properties.Select(p => p.Name).Concat(type == typeof(BackplaneOptions) ? _backplanes.Select(b => b.Name) : []);
                    Errors.Add($"{path}:{child.Key} is not a configuration key; the keys under {path} are {string.Join(", ", keys)} (docs/configuration.md).");
                    BadKeys.Add(Relative(child.Path));
                    continue;
                }
                CheckValue(child, property.PropertyType, $"{path}:{property.Name}");
            }
        }

        private void CheckValue(IConfigurationSection section, Type type, string path)
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            bool hasChildren = section.GetChildren().Any();
            string? expected = Scalar(type);
            if (expected is not null)
            {
                if (hasChildren)
                {
                    Errors.Add($"{path} is a single value ({expected}), not a section (got keys under it: {string.Join(", ", section.GetChildren().Select(c => c.Key))}).");
                    BadKeys.Add(Relative(section.Path));
                }
                else if (section.Value is { } value && !IsValid(type, value))
                {
                    BadValues.Add((path, expected, value));
                    BadKeys.Add(Relative(section.Path));
                }
                return;
            }

            Type? element = type.IsArray ? type.GetElementType()
                : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) ? type.GetGenericArguments()[1]
                : null;
            if (!hasChildren && !string.IsNullOrEmpty(section.Value))
            {
                string shape = type.IsArray ? $"a list: set {path}:0, {path}:1, …" : $"a section: set the keys under it ({path}:…)";
                Errors.Add($"{path} is {shape} (got the single value '{section.Value}').");
                BadKeys.Add(Relative(section.Path));
                return;
            }
            if (element is null)
            {
                CheckObject(section, type, path);
                return;
            }
            foreach (var child in section.GetChildren())
            {
                if (type.IsArray && !int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    Errors.Add($"{path}:{child.Key} is not a list index: {path} is a list, set {path}:0, {path}:1, ….");
                    BadKeys.Add(Relative(child.Path));
                    continue;
                }
                CheckValue(child, element, $"{path}:{child.Key}");
            }
        }

        private string Relative(string path) => path.Length > sectionRoot.Length ? path[(sectionRoot.Length + 1)..] : "";
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

}
