namespace Gateway.Backplane;

/// <summary>
/// How a broker implementation makes its settings part of the gateway's configuration without the server knowing its
/// types: the section <c>Gateway:Backplane:{Name}</c>, the class bound from it, and the checks on the bound values.
/// Registered in the service collection (as <see cref="BackplaneOptionsSection"/>) by the implementation's Add… method;
/// the server's configuration reader then checks the section's keys against <see cref="OptionsType"/> (unknown keys and
/// malformed values, named by their full key path) and reports <see cref="Validate"/>'s errors with its own, all at once.
/// </summary>
public abstract class BackplaneOptionsSection
{
    /// <summary>The <c>Gateway:Backplane:Type</c> value that selects this backplane, and the section's name under <c>Gateway:Backplane</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The class the section binds to: its public settable properties are the section's keys.</summary>
    public abstract Type OptionsType { get; }

    /// <summary>Per key of the section (e.g. "HeartbeatInterval"), what is allowed there: quoted when a value does not even parse.</summary>
    public abstract IReadOnlyDictionary<string, string> Allowed { get; }

    /// <summary>
    /// Appends one error per bad value of <paramref name="options"/> (an <see cref="OptionsType"/>), naming the key as
    /// <paramref name="path"/>:Key. <paramref name="selected"/>: <c>Gateway:Backplane:Type</c> names this backplane, so
    /// what it needs to connect is required.
    /// </summary>
    public abstract void Validate(object options, string path, bool selected, ICollection<string> errors);
}
