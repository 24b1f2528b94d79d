using System.Text;
using Gateway.LoadTest.Net;
using Gateway.LoadTest.Protocols;

namespace Gateway.LoadTest.Tests;

/// <summary>
/// SignalR's WebSocket transport sends what its output pipe holds as one WebSocket message: a fan-out subscriber must
/// see each event record of a frame, and a completion sharing the frame must still reach the reply parser.
/// </summary>
public sealed class SignalRRouteTests
{
    private sealed class Events : IEventSink
    {
        public readonly List<string> Seen = [];
        public void OnEvent(ReadOnlySpan<byte> message, long receivedAt) => Seen.Add(Encoding.UTF8.GetString(message));
        public void OnUnreadEvent(long receivedAt) => Seen.Add("(unread)");
    }

    private sealed class Replies : IReplySink
    {
        public readonly List<(long, ReplyKind)> Seen = [];
        public void OnReply(long id, ReplyKind kind, ReadOnlySpan<byte> errorText) => Seen.Add((id, kind));
        public void OnProtocolClose(string reason) { }
        public void OnInvalidMessage() { }
    }

    [Fact]
    public void Every_record_of_a_frame_goes_where_it_belongs()
    {
        string text = FanoutText.Build(0, 64);
        string ev = $"{{\"type\":1,\"target\":\"chat.message\",\"arguments\":[{{\"room\":\"bench\",\"from\":\"c\",\"text\":\"{text}\",\"sentAt\":\"2026-12-06T07:00:00Z\"}}]}}";
        string completion = "{\"type\":3,\"invocationId\":\"100000700123\",\"result\":{\"room\":\"bench\",\"topic\":\"room:bench\"}}";
        var frame = Encoding.UTF8.GetBytes(ev + "\u001e" + completion + "\u001e" + ev + "\u001e{\"type\":6}\u001e");
        var events = new Events();
        var replies = new Replies();
        new SignalRProtocol().Route(frame, events, 1, replies);
        Assert.Equal([ev, ev], events.Seen);
        Assert.Equal([(100_000_700_123L, ReplyKind.Result)], replies.Seen);
        int hint = 0;
        Assert.True(new SignalRProtocol().TryReadFanoutStamp(Encoding.UTF8.GetBytes(ev), ref hint, out _, out int publisher, out _));
        Assert.Equal(0, publisher);
    }

    [Fact]
    public void Without_an_event_sink_the_whole_frame_is_parsed_as_replies()
    {
        var frame = Encoding.UTF8.GetBytes("{\"type\":3,\"invocationId\":\"100000700123\",\"result\":1}\u001e{\"type\":3,\"invocationId\":\"100000700124\",\"result\":2}\u001e");
        var replies = new Replies();
        new SignalRProtocol().Route(frame, null, 0, replies);
        Assert.Equal([(100_000_700_123L, ReplyKind.Result), (100_000_700_124L, ReplyKind.Result)], replies.Seen);
    }
}
