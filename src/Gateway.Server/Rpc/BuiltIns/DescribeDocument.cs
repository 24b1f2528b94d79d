using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Xml.Linq;

namespace Gateway.Server.Rpc;

/// <summary>
/// The answer of <c>$describe</c> (docs/protocol.md): every procedure, plugins' and built-ins', sorted by name, with its kind,
/// its input and output as JSON Schema (System.Text.Json's exporter over the gateway's own serializer options, so member
/// names are what goes on the wire), its XML-doc summary when the plugin ships its documentation file, and what it needs
/// to be called; then the topic patterns clients may subscribe to. Built once at startup; <c>Gateway.Host describe</c>
/// prints the same document without listening.
/// </summary>
internal static class DescribeDocument
{
    private static readonly JsonSchemaExporterOptions ExporterOptions = new() { TreatNullObliviousAsNonNullable = true };

    /// <summary>The whole document: every procedure.</summary>
    public static JsonObject Build(IEnumerable<Procedure> procedures, JsonSerializerOptions json, IEnumerable<string>? topicPatterns) =>
        Entries(procedures, json).Document(topicPatterns, _ => true);

    /// <summary>
    /// Every procedure's entry, computed once (schemas and summaries are the expensive part); <see cref="Described.Document"/>
    /// assembles the answer for one view of them (Gateway:Auth:DescribeVisibleOnly).
    /// </summary>
    public static Described Entries(IEnumerable<Procedure> procedures, JsonSerializerOptions json)
    {
        var docs = new XmlDocs();
        var entries = new List<(string Name, Procedure? Procedure, JsonObject Entry)>
        {
            ("$ping", null, Entry("$ping", "request", null, new JsonObject { ["type"] = "string" }, "Answers \"pong\".", null)),
            ("$describe", null, Entry("$describe", "request", null, new JsonObject { ["type"] = "object" }, "This document: the procedures and the topics clients may subscribe to.", null)),
        };
        foreach (var p in procedures)
        {
            var d = p.Descriptor;
            entries.Add((p.Name, p, Entry(p.Name, p.Kind.ToString().ToLowerInvariant(),
                d.InputType is null ? null : Schema(json, d.InputType),
                d.OutputType is null ? null : Schema(json, d.OutputType),
                docs.Summary(d.Method) ?? BuiltInSummary(p.Name), p.Access)));
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new Described(entries.ConvertAll(e => (e.Procedure, e.Entry)));
    }

    /// <summary>Every entry, sorted by name; the built-ins without a <see cref="Procedure"/> are open to everyone.</summary>
    internal sealed class Described(List<(Procedure? Procedure, JsonObject Entry)> entries)
    {
        /// <summary>The document listing the procedures <paramref name="visible"/> admits (built-ins without a procedure always).</summary>
        public JsonObject Document(IEnumerable<string>? topicPatterns, Func<Procedure, bool> visible)
        {
            var list = new JsonArray();
            foreach (var (procedure, entry) in entries)
            {
                if (procedure is null || visible(procedure)) list.Add(entry.DeepClone());
            }
            var topics = new JsonArray();
            foreach (var pattern in topicPatterns ?? []) topics.Add(pattern);
            return new JsonObject { ["procedures"] = list, ["topics"] = topics };
        }
    }

    // The built-ins bound like plugin procedures live in the server, which ships no XML documentation file.
    private static string? BuiltInSummary(string name) => name switch
    {
        "$subscribe" => "Subscribes this connection to a topic open to clients (Gateway:Topics:ClientSubscribe or a plugin's policy); its events then arrive as {event, topic, data}.",
        "$unsubscribe" => "Unsubscribes this connection from a topic.",
        _ => null,
    };

    private static JsonObject Entry(string name, string kind, JsonNode? input, JsonNode? output, string? summary, ProcedureAccess? access) => new()
    {
        ["name"] = name,
        ["kind"] = kind,
        ["input"] = input,
        ["output"] = output,
        ["summary"] = summary,
        // required: an authenticated connection is needed ([Authorize]); roles: any one of them; policies: all are asked at call time.
        ["auth"] = access is null
            ? new JsonObject { ["required"] = false, ["roles"] = new JsonArray(), ["policies"] = new JsonArray() }
            : new JsonObject
            {
                ["required"] = true,
                ["roles"] = new JsonArray([.. access.Rules.AllRoles.Select(r => (JsonNode)r)]),
                ["policies"] = new JsonArray([.. access.Rules.Policies.Select(r => (JsonNode)r)]),
            },
    };

    /// <summary>The type's schema; "any JSON" (JsonElement, object) comes out as the boolean schema true, written {} here.</summary>
    internal static JsonNode Schema(JsonSerializerOptions json, Type type)
    {
        var node = json.GetJsonSchemaAsNode(type, ExporterOptions);
        return node.GetValueKind() == JsonValueKind.True ? new JsonObject() : node;
    }

    /// <summary>Summaries from the XML documentation file next to each plugin's DLL (Name.xml), read once per assembly.</summary>
    private sealed class XmlDocs
    {
        private readonly Dictionary<Assembly, Dictionary<string, string>?> _byAssembly = [];

        public string? Summary(MethodInfo method)
        {
            var assembly = method.DeclaringType!.Assembly;
            if (!_byAssembly.TryGetValue(assembly, out var members)) _byAssembly[assembly] = members = Load(assembly);
            if (members is null) return null;
            // Member ids are "M:Namespace.Type.Method(ParameterTypes)"; procedure names are unique per service, so the
            // method's name under its type finds it without re-deriving the id's encoding of every parameter type.
            string prefix = "M:" + method.DeclaringType!.FullName!.Replace('+', '.') + "." + method.Name;
            foreach (var (id, summary) in members)
            {
                if (id == prefix || (id.StartsWith(prefix, StringComparison.Ordinal) && id.Length > prefix.Length && id[prefix.Length] == '('))
                    return summary;
            }
            return null;
        }

        private static Dictionary<string, string>? Load(Assembly assembly)
        {
            if (string.IsNullOrEmpty(assembly.Location)) return null;
            string path = Path.ChangeExtension(assembly.Location, ".xml");
            if (!File.Exists(path)) return null;
            try
            {
                var doc = XDocument.Load(path);
                var members = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var member in doc.Descendants("member"))
                {
                    if (member.Attribute("name")?.Value is not { } name || !name.StartsWith("M:", StringComparison.Ordinal)) continue;
                    if (member.Element("summary") is not { } summary) continue;
                    string text = Text(summary);
                    if (text.Length > 0) members[name] = text;
                }
                return members;
            }
            catch (Exception ex) when (ex is System.Xml.XmlException or IOException or UnauthorizedAccessException)
            {
                return null; // a broken documentation file costs the summaries, not the gateway
            }
        }

        /// <summary>The summary as plain text: references become their short names, whitespace collapses to single spaces.</summary>
        private static string Text(XElement summary)
        {
            var sb = new StringBuilder();
            foreach (var node in summary.Nodes())
            {
                if (node is XText t) sb.Append(t.Value);
                else if (node is XElement e)
                {
                    var cref = e.Attribute("cref")?.Value ?? e.Attribute("langword")?.Value ?? e.Attribute("name")?.Value;
                    if (e.Name.LocalName is "see" or "seealso" or "paramref" or "typeparamref" && cref is not null && e.IsEmpty)
                    {
                        string shortName = cref.Contains(':') ? cref[(cref.IndexOf(':') + 1)..] : cref;
                        int paren = shortName.IndexOf('(');
                        if (paren >= 0) shortName = shortName[..paren];
                        sb.Append(shortName[(shortName.LastIndexOf('.') + 1)..]);
                    }
                    else sb.Append(e.Value);
                }
            }
            return string.Join(' ', sb.ToString().Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
        }
    }
}
