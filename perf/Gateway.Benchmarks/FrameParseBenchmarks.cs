using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.WebSockets;

namespace Gateway.Benchmarks;

/// <summary>
/// <see cref="MessageReader"/> parsing and unmasking one whole masked client frame from a <see cref="ReadOnlySequence{T}"/>,
/// as the session's read loop does with the pipe's buffer. Unmasking is in place, so every iteration first copies the
/// masked frame into the working buffer; <see cref="CopyOnly"/> is that copy alone (the baseline), so Parse minus
/// CopyOnly is the parse cost. One reader is kept across iterations and <see cref="MessageReader.ReleaseMessage"/> is
/// called after each message, as in the server: the steady state should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class FrameParseBenchmarks
{
    public enum FrameCase
    {
        /// <summary>A 64-byte masked text frame (ASCII and multi-byte UTF-8, validated).</summary>
        Text64B,
        /// <summary>A 64 KiB masked binary frame in one segment.</summary>
        Binary64KiB,
        /// <summary>The same 64 KiB frame split across two segments (inside the payload, off a 4-byte boundary).</summary>
        Binary64KiB2Segs,
        /// <summary>
        /// The same 64 KiB frame arriving 4 KiB at a time (the transport's block size), one Read per arrival: the
        /// streaming path that copies into the pooled reassembly buffer.
        /// </summary>
        Binary64KiBStreamed,
    }

    [Params(FrameCase.Text64B, FrameCase.Binary64KiB, FrameCase.Binary64KiB2Segs, FrameCase.Binary64KiBStreamed)]
    public FrameCase Case { get; set; }

    private byte[] _masked = [];       // the frame as a client sends it, never modified
    private byte[] _payload = [];      // what the parsed payload must be
    private byte[] _work1 = [];        // working copy: first (or only) segment
    private byte[] _work2 = [];        // working copy: second segment (split case)
    private int _split;
    private Segment? _first, _last;
    private MessageReader _reader = null!;

    [GlobalSetup]
    public void Setup()
    {
        bool text = Case == FrameCase.Text64B;
        _payload = text ? Payloads.Utf8(64, seed: 1) : Payloads.Random(64 * 1024, seed: 2);
        _masked = Payloads.MaskedFrame(text ? Opcode.Text : Opcode.Binary, _payload, maskKey: 0x37FA213D);
        _split = Case == FrameCase.Binary64KiB2Segs ? 14 + 30_001 : _masked.Length; // header is 14 bytes for 64 KiB
        _work1 = new byte[_split];
        _work2 = new byte[_masked.Length - _split];
        if (_work2.Length > 0)
        {
            _first = new Segment(_work1, 0);
            _last = _first.Append(_work2);
        }
        _reader = new MessageReader(1024 * 1024);

        // Prove the benchmark parses what it claims before measuring it.
        for (int i = 0; i < 2; i++)
        {
            if (Parse() != _payload.Length) throw new InvalidOperationException("unexpected parse result");
            var seq = Buffer();
            CopyIn();
            if (_reader.Read(ref seq) != FrameEvent.Message || !seq.IsEmpty) throw new InvalidOperationException("not parsed as one message");
            if (!_reader.Payload.ToArray().AsSpan().SequenceEqual(_payload)) throw new InvalidOperationException("payload unmasked wrongly");
            _reader.ReleaseMessage();
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _reader.Dispose();

    private void CopyIn()
    {
        _masked.AsSpan(0, _split).CopyTo(_work1);
        _masked.AsSpan(_split).CopyTo(_work2);
    }

    private ReadOnlySequence<byte> Buffer() =>
        _first is null ? new ReadOnlySequence<byte>(_work1) : new ReadOnlySequence<byte>(_first, 0, _last!, _last!.Memory.Length);

    [Benchmark(Baseline = true, Description = "CopyOnly")]
    public long CopyOnly()
    {
        CopyIn();
        return Buffer().Length;
    }

    [Benchmark(Description = "Copy+Parse")]
    public long Parse()
    {
        CopyIn();
        if (Case == FrameCase.Binary64KiBStreamed) return ParseStreamed();
        var buffer = Buffer();
        var ev = _reader.Read(ref buffer);
        long length = ev == FrameEvent.Message ? _reader.Payload.Length : -1;
        _reader.ReleaseMessage();
        return length;
    }

    private long ParseStreamed()
    {
        const int Block = 4096;
        long length = -1;
        for (int offset = 0; offset < _work1.Length; offset += Block)
        {
            var buffer = new ReadOnlySequence<byte>(_work1, offset, Math.Min(Block, _work1.Length - offset));
            if (_reader.Read(ref buffer) == FrameEvent.Message) length = _reader.Payload.Length;
            if (!buffer.IsEmpty) return -1;
        }
        _reader.ReleaseMessage();
        return length;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

internal static class Payloads
{
    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new System.Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Valid UTF-8 of exactly <paramref name="length"/> bytes: ASCII mixed with 2-, 3- and 4-byte characters.</summary>
    public static byte[] Utf8(int length, int seed, bool asciiOnly = false)
    {
        var rng = new System.Random(seed);
        var bytes = new byte[length];
        int pos = 0;
        while (pos < length)
        {
            int kind = asciiOnly ? 0 : rng.Next(4);
            int cp = kind switch
            {
                0 => rng.Next(0x20, 0x7F),
                1 => rng.Next(0x80, 0x800),
                2 => rng.Next(0x800, 0xD800),
                _ => rng.Next(0x10000, 0x110000),
            };
            var rune = new System.Text.Rune(cp);
            if (rune.Utf8SequenceLength > length - pos) rune = new System.Text.Rune('a');
            pos += rune.EncodeToUtf8(bytes.AsSpan(pos));
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidOperationException("invalid UTF-8 generated");
        return bytes;
    }

    /// <summary>A final, masked client frame (RFC 6455 §5.2) carrying <paramref name="payload"/>.</summary>
    public static byte[] MaskedFrame(Opcode opcode, ReadOnlySpan<byte> payload, uint maskKey)
    {
        int lengthBytes = payload.Length <= 125 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        int header = 2 + lengthBytes + 4;
        var frame = new byte[header + payload.Length];
        frame[0] = (byte)(0x80 | (byte)opcode);
        if (lengthBytes == 0) frame[1] = (byte)(0x80 | payload.Length);
        else if (lengthBytes == 2) { frame[1] = 0x80 | 126; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length); }
        else { frame[1] = 0x80 | 127; BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length); }
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(key, maskKey);
        key.CopyTo(frame.AsSpan(2 + lengthBytes));
        for (int i = 0; i < payload.Length; i++) frame[header + i] = (byte)(payload[i] ^ key[i & 3]);
        return frame;
    }
}
