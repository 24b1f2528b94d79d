using BenchmarkDotNet.Attributes;
using Gateway.Protocol.WebSockets;

namespace Gateway.Benchmarks;

/// <summary>The vectorized <see cref="Masking.Apply"/> against the textbook byte-at-a-time XOR loop (the baseline).</summary>
[MemoryDiagnoser]
public class MaskingBenchmarks
{
    private const uint MaskKey = 0x3D21FA37;
    private byte[] _data = [];
    private byte[] _key = [];

    [Params(64, 4 * 1024, 64 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = Payloads.Random(Size, seed: Size);
        _key = BitConverter.GetBytes(MaskKey); // wire order == little-endian read, as FrameHeader stores it
        if (!BitConverter.IsLittleEndian) Array.Reverse(_key);

        // Both must produce the same bytes (XOR twice restores the input).
        var a = (byte[])_data.Clone();
        var b = (byte[])_data.Clone();
        Masking.Apply(a, MaskKey, 0);
        for (int i = 0; i < b.Length; i++) b[i] ^= _key[i & 3];
        if (!a.AsSpan().SequenceEqual(b)) throw new InvalidOperationException("Masking.Apply disagrees with the naive loop");
    }

    [Benchmark(Baseline = true)]
    public void NaiveLoop()
    {
        byte[] data = _data, key = _key;
        for (int i = 0; i < data.Length; i++) data[i] ^= key[i & 3];
    }

    [Benchmark]
    public void MaskingApply() => Masking.Apply(_data, MaskKey, 0);
}
