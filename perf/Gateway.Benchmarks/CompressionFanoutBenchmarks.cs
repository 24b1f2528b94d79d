using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Compression;
using Gateway.Protocol.WebSockets;

namespace Gateway.Benchmarks;

/// <summary>
/// permessage-deflate on a fan-out of one ~1 KiB JSON event to 1,000 compressed subscribers, as each subscriber's
/// outbox drain writes it: plain (no compression), compress-once (one SharedFrame, its compressed copy shared by every
/// subscriber without server context takeover), compressed per connection with pooled deflaters (what a server without
/// compress-once does), and compressed per connection with context takeover (each subscriber owns a deflater). One
/// operation = one publish delivered to every subscriber's buffer.
/// </summary>
[MemoryDiagnoser]
public class CompressionFanoutBenchmarks
{
    [Params(1000)]
    public int Subscribers { get; set; }

    private byte[] _payload = null!;
    private MessageDeflater[] _independent = [];
    private MessageDeflater[] _takeover = [];
    private readonly ArrayBufferWriter<byte> _wire = new(1 << 16);
    private PerMessageDeflate _deflate = null!;

    [GlobalSetup]
    public void Setup()
    {
        _payload = Event(1024);
        _deflate = new PerMessageDeflate(new PerMessageDeflateSettings());
        var none = new PerMessageDeflateParameters(true, true, 15, 15, "permessage-deflate");
        var takeover = new PerMessageDeflateParameters(false, true, 15, 15, "permessage-deflate");
        _independent = Enumerable.Range(0, Subscribers).Select(_ => _deflate.CreateDeflater(none)).ToArray();
        _takeover = Enumerable.Range(0, Subscribers).Select(_ => _deflate.CreateDeflater(takeover)).ToArray();
        // Warm every context-takeover deflater and the pools, so steady state is measured.
        foreach (var d in _takeover) Deliver(d, PooledFrame.Create(Opcode.Text, _payload));
        Console.WriteLine($"// one event: {_payload.Length} bytes plain, {CompressedSize()} compressed");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var d in _takeover) d.Dispose();
    }

    [Benchmark(Baseline = true)]
    public long Plain()
    {
        var shared = SharedFrame.Create(Opcode.Text, _payload);
        shared.Reserve(Subscribers);
        long bytes = 0;
        for (int i = 0; i < Subscribers; i++)
        {
            var frame = shared.ShareReserved();
            _wire.ResetWrittenCount();
            _wire.Write(frame.Span);
            bytes += frame.Length;
            frame.Return();
        }
        shared.Release();
        return bytes;
    }

    [Benchmark]
    public long CompressOnce()
    {
        var shared = SharedFrame.Create(Opcode.Text, _payload);
        shared.Reserve(Subscribers);
        long bytes = 0;
        for (int i = 0; i < Subscribers; i++) bytes += Deliver(_independent[i], shared.ShareReserved());
        shared.Release();
        return bytes;
    }

    [Benchmark]
    public long PerConnectionPooled()
    {
        long bytes = 0;
        for (int i = 0; i < Subscribers; i++) bytes += Deliver(_independent[i], PooledFrame.Create(Opcode.Text, _payload));
        return bytes;
    }

    [Benchmark]
    public long PerConnectionContextTakeover()
    {
        long bytes = 0;
        for (int i = 0; i < Subscribers; i++) bytes += Deliver(_takeover[i], PooledFrame.Create(Opcode.Text, _payload));
        return bytes;
    }

    private int Deliver(MessageDeflater deflater, PooledFrame frame)
    {
        _wire.ResetWrittenCount();
        int n = deflater.Write(_wire, frame);
        frame.Return();
        return n;
    }

    private int CompressedSize()
    {
        _wire.ResetWrittenCount();
        var frame = PooledFrame.Create(Opcode.Text, _payload);
        int n = _independent[0].Write(_wire, frame);
        frame.Return();
        return n;
    }

    /// <summary>An event envelope of about <paramref name="size"/> bytes of realistic JSON (a chat room's recent messages).</summary>
    internal static byte[] Event(int size)
    {
        var sb = new StringBuilder("{\"event\":\"chat.history\",\"topic\":\"room:lobby\",\"data\":{\"messages\":[");
        string[] users = ["ada", "grace", "linus", "margaret", "ken"];
        string[] words = ["deploy", "the", "gateway", "tonight", "after", "review", "tests", "green", "latency", "looks", "fine", "ship", "it"];
        var rng = new Random(7);
        for (int i = 0; sb.Length < size - 140; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"id\":").Append(1000 + i).Append(",\"from\":\"").Append(users[rng.Next(users.Length)])
              .Append("\",\"sentAt\":\"2026-12-06T07:").Append(10 + i % 50).Append(":00Z\",\"text\":\"");
            for (int w = 0; w < 6; w++) sb.Append(w == 0 ? "" : " ").Append(words[rng.Next(words.Length)]);
            sb.Append("\"}");
        }
        return Encoding.UTF8.GetBytes(sb.Append("]}}").ToString());
    }
}
