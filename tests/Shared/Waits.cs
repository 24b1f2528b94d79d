namespace Gateway.Tests.Shared;

/// <summary>
/// The one bounded poll of the test suite, for server-side state that raises no event a test could await (a counter,
/// a connection count, a disconnect noticed). Every wait ends as soon as the condition holds, or at the timeout.
/// </summary>
public static class Waits
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> every 10 ms until it holds or the timeout passes; returns its final value.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline) return condition();
            await Task.Delay(10);
        }
        return true;
    }

    /// <summary>Polls an asynchronous check (e.g. a request whose answer changes once a disconnect is noticed), bounded.</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        for (int i = 0; i < 10_000; i++)
        {
            if (await condition()) return true;
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(10);
        }
        return false;
    }
}
