using System.Text.Json;
using Gateway.Server.Options;
using Gateway.Server.Codec;
using Gateway.Server.Rpc;

namespace Gateway.Server.Tests;

/// <summary>INVALID_ARGUMENT texts for bad input say what the JSON must be, in JSON terms, never in .NET type names.</summary>
public class JsonShapeTests
{
    public sealed class Line
    {
        public int Qty { get; set; }
        public decimal? Price { get; set; }
    }

    public sealed class Order
    {
        public string? Name { get; set; }
        public List<Line>? Lines { get; set; }
        public Dictionary<string, long[]>? Tags { get; set; }
        public DayOfWeek Day { get; set; }
        public bool Urgent { get; set; }
    }

    public sealed class Strict
    {
        public required string Id { get; set; }
    }

    private static readonly JsonSerializerOptions Json = new GatewayOptions().Json.ToSerializerOptions();

    private static string Explain<T>(string json)
    {
        var info = Json.GetTypeInfo(typeof(T));
        try
        {
            JsonSerializer.Deserialize(json, info);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            return JsonShape.Explain(JsonShape.Describe(typeof(T)), info, ex, 64);
        }
        throw new Xunit.Sdk.XunitException("the input deserialized: " + json);
    }

    [Theory]
    [InlineData("5", "expects an object")]
    [InlineData("""{"name":5}""", "$.name must be a string")]
    [InlineData("""{"lines":{}}""", "$.lines must be an array")]
    [InlineData("""{"lines":[{"qty":1},{"qty":"many"}]}""", "$.lines[1].qty must be an integer")]
    [InlineData("""{"lines":[{"price":true}]}""", "$.lines[0].price must be a number or null")]
    [InlineData("""{"tags":{"a":[1,"x"]}}""", "$.tags.a[1] must be an integer")]
    [InlineData("""{"day":"Monday"}""", "$.day must be an integer")]
    [InlineData("""{"urgent":1}""", "$.urgent must be true or false")]
    public void A_bad_member_is_named_with_the_JSON_it_must_be(string json, string expected)
    {
        string message = Explain<Order>(json);
        Assert.Equal(expected, message);
        Assert.DoesNotContain("System.", message);
        Assert.DoesNotContain("Gateway.", message);
    }

    [Fact]
    public void Missing_required_members_are_listed_by_their_JSON_names()
    {
        string message = Explain<Strict>("{}");
        Assert.StartsWith("the value lacks required members", message);
        Assert.Contains("'id'", message);
        Assert.DoesNotContain("Strict", message);
    }

    [Theory]
    [InlineData(typeof(long?), "an integer or null")]
    [InlineData(typeof(string), "a string")]
    [InlineData(typeof(double), "a number")]
    [InlineData(typeof(int[]), "an array")]
    [InlineData(typeof(Dictionary<string, int>), "an object")]
    [InlineData(typeof(JsonElement), "any JSON value")]
    [InlineData(typeof(Guid), "a string")]
    public void Shapes(Type type, string expected) => Assert.Equal(expected, JsonShape.Describe(type));
}
