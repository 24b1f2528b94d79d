using Gateway.Server.Codec;
using Gateway.Server.WebSockets;

namespace Gateway.Server.Push;

/// <summary>
/// The members of a topic or a user at one moment, grouped by wire format: those that take the canonical (JSON) frame
/// as it is, and one group per other format in use, so a publish is converted once per format that has a member here
/// and never for a format nobody uses.
/// </summary>
internal sealed class Audience(WebSocketSession[] canonical, Audience.Group[] others)
{
    public static readonly Audience Empty = new([], []);

    public readonly record struct Group(IWireCodec Codec, WebSocketSession[] Sessions);

    /// <summary>Members that get the canonical frame.</summary>
    public WebSocketSession[] Canonical { get; } = canonical;

    /// <summary>Members of other formats, one group per format.</summary>
    public Group[] Others { get; } = others;

    public int Count => Canonical.Length + Others.Sum(g => g.Sessions.Length);

    public static Audience Of(IReadOnlyCollection<PushState> members)
    {
        List<WebSocketSession>? canonical = null;
        Dictionary<IWireCodec, List<WebSocketSession>>? others = null;
        foreach (var member in members)
        {
            if (member.Codec is JsonWireCodec) (canonical ??= new(members.Count)).Add(member.Session);
            else
            {
                others ??= new(ReferenceEqualityComparer.Instance);
                if (!others.TryGetValue(member.Codec, out var list)) others[member.Codec] = list = [];
                list.Add(member.Session);
            }
        }
        return new Audience(canonical?.ToArray() ?? [], others?.Select(o => new Group(o.Key, o.Value.ToArray())).ToArray() ?? []);
    }
}
