using BenchmarkDotNet.Attributes;
using Gateway.Protocol.WebSockets;

namespace Gateway.Benchmarks;

/// <summary>
/// <see cref="Utf8Validator.Append(ReadOnlySpan{byte})"/> on a whole text payload (the incremental validator
/// used for text messages), next to the BCL's one-shot <see cref="System.Text.Unicode.Utf8.IsValid"/> as the baseline.
/// </summary>
[MemoryDiagnoser]
public class Utf8Benchmarks
{
    public enum TextCase
    {
        /// <summary>64 bytes of printable ASCII.</summary>
        Ascii64B,
        /// <summary>4 KiB mixing 1-, 2-, 3- and 4-byte characters.</summary>
        Mixed4KiB,
    }

    private byte[] _text = [];

    [Params(TextCase.Ascii64B, TextCase.Mixed4KiB)]
    public TextCase Case { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _text = Case == TextCase.Ascii64B ? Payloads.Utf8(64, seed: 5, asciiOnly: true) : Payloads.Utf8(4096, seed: 6);
        if (!Append()) throw new InvalidOperationException("validator rejected valid UTF-8");
    }

    [Benchmark(Baseline = true)]
    public bool BclUtf8IsValid() => System.Text.Unicode.Utf8.IsValid(_text);

    [Benchmark]
    public bool Append()
    {
        var validator = new Utf8Validator();
        return validator.Append(_text) && validator.IsAtBoundary;
    }
}
