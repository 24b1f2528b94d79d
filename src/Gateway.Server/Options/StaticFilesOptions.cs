namespace Gateway.Server.Options;

/// <summary>Gateway:StaticFiles: plain files served by the gateway's own HTTP front door (off by default).</summary>
public sealed class StaticFilesOptions
{
    /// <summary>
    /// The folder whose files are served at the URL path of their relative path ("/" serves index.html); relative to the
    /// working directory. Null or empty: no files are served (every unknown path stays 404).
    /// </summary>
    public string? Path { get; set; }

    /// <summary>What is wrong with <paramref name="options"/> (the text after the key), or null when it is fine.</summary>
    internal static string? Check(StaticFilesOptions options)
    {
        if (string.IsNullOrEmpty(options.Path)) return null;
        string full;
        try { full = System.IO.Path.GetFullPath(options.Path); }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return $"must be an existing folder, or empty to serve no files (got '{options.Path}': {ex.Message}).";
        }
        return Directory.Exists(full) ? null : $"must be an existing folder, or empty to serve no files (got '{options.Path}', which is '{full}': no such folder).";
    }
}
