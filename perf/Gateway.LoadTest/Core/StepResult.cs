using System.Text;

namespace Gateway.LoadTest.Core;

/// <summary>What one step (one request/response, one stream, one connect) ended with. No allocation.</summary>
public readonly struct StepResult
{
    private StepResult(int error, bool stopUser) { ErrorId = error; StopUser = stopUser; }

    /// <summary>0 for success, else an id from <see cref="ErrorTable"/>.</summary>
    public int ErrorId { get; }
    public bool IsOk => ErrorId == 0;
    /// <summary>The failure is permanent for this virtual user (its connection is gone): it stops looping.</summary>
    public bool StopUser { get; }

    public static StepResult Ok => default;
    /// <summary>Not a step: the scenario has no more work for this virtual user (e.g. fanout publishers once the measured window closed).</summary>
    public static StepResult OkAndStop => new(0, true);
    public static StepResult Fail(int errorId) => new(errorId == 0 ? ErrorTable.Intern("unknown error") : errorId, false);
    public static StepResult Fail(string reason) => new(ErrorTable.Intern(reason), false);
    public static StepResult FailAndStop(int errorId) => new(errorId == 0 ? ErrorTable.Intern("unknown error") : errorId, true);
}

/// <summary>
/// Failure reasons interned once into small ids, so a failing step costs no allocation once its reason
/// has been seen (a server error code, "timeout", "connection closed: ...").
/// </summary>
public static class ErrorTable
{
    private static readonly object Gate = new();
    private static readonly List<(byte[] Utf8, string Text)> Entries = [(Array.Empty<byte>(), "")];

    public static int Intern(string reason)
    {
        lock (Gate)
        {
            for (int i = 1; i < Entries.Count; i++)
                if (Entries[i].Text == reason) return i;
            Entries.Add((Encoding.UTF8.GetBytes(reason), reason));
            return Entries.Count - 1;
        }
    }

    /// <summary>Interns <paramref name="prefix"/> followed by a UTF-8 token (a server error code), allocation-free when known.</summary>
    public static int Intern(string prefix, ReadOnlySpan<byte> utf8)
    {
        Span<byte> buffer = stackalloc byte[256];
        int p = Encoding.UTF8.GetBytes(prefix, buffer);
        int n = Math.Min(utf8.Length, buffer.Length - p);
        utf8[..n].CopyTo(buffer[p..]);
        var key = buffer[..(p + n)];
        lock (Gate)
        {
            for (int i = 1; i < Entries.Count; i++)
                if (key.SequenceEqual(Entries[i].Utf8)) return i;
            var bytes = key.ToArray();
            Entries.Add((bytes, Encoding.UTF8.GetString(bytes)));
            return Entries.Count - 1;
        }
    }

    public static string Describe(int id)
    {
        lock (Gate) return id > 0 && id < Entries.Count ? Entries[id].Text : "unknown error";
    }
}
