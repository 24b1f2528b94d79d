using System.Runtime.InteropServices;

namespace Gateway.Protocol.Compression;

/// <summary>
/// The runtime's own zlib (zlib-ng inside libSystem.IO.Compression.Native, shipped with every .NET runtime), called
/// through the same exported CompressionNative_* functions System.IO.Compression and System.Net.WebSockets'
/// ManagedWebSocket call. The public DeflateStream/ZLibStream fix the window at 15 bits and cannot be reset, and
/// RFC 7692 needs both (server_max_window_bits, client_max_window_bits, one pooled deflater reused by many
/// connections), so we go one layer down instead of shipping a second zlib. These entry points are an internal
/// contract of the runtime: <see cref="IsAvailable"/> probes them once, and compression is simply not negotiated
/// when they are missing.
/// </summary>
internal static unsafe partial class ZLibNative
{
    private const string Library = "libSystem.IO.Compression.Native";

    public const int Ok = 0, StreamEnd = 1, StreamError = -2, DataError = -3, MemError = -4, BufError = -5;
    public const int NoFlush = 0, SyncFlush = 2, FullFlush = 3;
    private const int Deflated = 8, DefaultStrategy = 0;
    // zlib's default; lower levels save little here because zlib-ng's hash table has a fixed size.
    public const int MemLevel = 8;

    /// <summary>PAL_ZStream (pal_zlib.h): the native side copies these in and out on every call.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public nint Message;
        public nint InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateInit2_")]
    private static partial int DeflateInit2(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Deflate")]
    public static partial int Deflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateEnd")]
    public static partial int DeflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateInit2_")]
    private static partial int InflateInit2(ZStream* stream, int windowBits);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Inflate")]
    public static partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateEnd")]
    public static partial int InflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateReset2_")]
    public static partial int InflateReset2(ZStream* stream, int windowBits);

    /// <summary>Raw deflate (negative window bits: no zlib header or trailer, as RFC 7692 sends it).</summary>
    public static int DeflateInitRaw(ZStream* stream, int level, int windowBits) =>
        DeflateInit2(stream, level, Deflated, -windowBits, MemLevel, DefaultStrategy);

    public static int InflateInitRaw(ZStream* stream, int windowBits) => InflateInit2(stream, -windowBits);

    private static readonly Lazy<string?> s_problem = new(Probe);

    /// <summary>True when the runtime's zlib answers (checked once per process).</summary>
    public static bool IsAvailable => s_problem.Value is null;

    /// <summary>Why <see cref="IsAvailable"/> is false (null when it is true).</summary>
    public static string? Problem => s_problem.Value;

    private static string? Probe()
    {
        try
        {
            ZStream d = default, i = default;
            int rc = DeflateInitRaw(&d, 1, 9);
            if (rc != Ok) return $"deflateInit2 returned {rc}";
            DeflateEnd(&d);
            rc = InflateInitRaw(&i, 15);
            if (rc != Ok) return $"inflateInit2 returned {rc}";
            rc = InflateReset2(&i, 9);
            InflateEnd(&i);
            return rc == Ok ? null : $"inflateReset2 returned {rc}";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }
}
