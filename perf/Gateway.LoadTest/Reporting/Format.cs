using System.Globalization;

namespace Gateway.LoadTest.Reporting;

public static class Format
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Int(long n) => n.ToString("N0", C);
    public static string Rate(double n) => n.ToString(n >= 100 ? "N0" : "N1", C);
    public static string Us(double us) => us.ToString(us >= 100 ? "N0" : "N1", C);
    public static string Pct(double p) => p.ToString("0.0", C) + " %";
    public static string Num(double n, string format = "0.###") => n.ToString(format, C);

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.00", C) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.0", C) + " MiB",
        >= 1L << 10 => (bytes / 1024.0).ToString("0.0", C) + " KiB",
        _ => bytes.ToString(C) + " B",
    };

    public static string Kb(long? kb) => kb is { } k ? (k / 1024.0).ToString("0.0", C) + " MiB" : "n/a";
}
