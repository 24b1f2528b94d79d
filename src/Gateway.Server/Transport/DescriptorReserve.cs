using Microsoft.Win32.SafeHandles;

namespace Gateway.Server.Transport;

/// <summary>
/// A few descriptors held open on /dev/null so they can be handed back the moment accept reports EMFILE/ENFILE:
/// the runtime then still has descriptors for what it needs to keep running (loading code, pipes, /proc),
/// and the accept loop takes them back before it accepts again. The same idea as the spare descriptor
/// nginx and libuv keep for this case.
/// </summary>
internal sealed class DescriptorReserve : IDisposable
{
    public const int Size = 16;
    private readonly SafeFileHandle?[] _handles = new SafeFileHandle?[Size];
    private readonly bool _supported = !OperatingSystem.IsWindows() && File.Exists("/dev/null");

    /// <summary>True when every reserved descriptor is held (or the platform has nothing to reserve).</summary>
    public bool IsHeld { get; private set; }

    /// <summary>Opens the reserve; false (holding none) when the process has no descriptors to spare yet.</summary>
    public bool TryAcquire()
    {
        if (!_supported) return IsHeld = true;
        lock (_handles)
        {
            if (IsHeld) return true;
            try
            {
                for (int i = 0; i < Size; i++) _handles[i] ??= File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
                return IsHeld = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ReleaseLocked();
                return false;
            }
        }
    }

    /// <summary>Gives the descriptors back to the process.</summary>
    public void Release()
    {
        lock (_handles) ReleaseLocked();
    }

    private void ReleaseLocked()
    {
        for (int i = 0; i < Size; i++)
        {
            _handles[i]?.Dispose();
            _handles[i] = null;
        }
        IsHeld = !_supported;
    }

    public void Dispose() => Release();
}
