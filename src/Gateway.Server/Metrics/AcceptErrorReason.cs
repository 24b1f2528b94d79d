namespace Gateway.Server;

/// <summary>Why an accept failed, as counted in <c>gateway_accept_errors_total{reason}</c>.</summary>
public enum AcceptErrorReason
{
    /// <summary>The client reset or the network failed before the connection was taken: nothing to fix here.</summary>
    Transient,
    /// <summary>EMFILE/ENFILE: the process (or the system) is out of file descriptors.</summary>
    TooManyOpenFiles,
    /// <summary>ENOBUFS/ENOMEM: the kernel has no memory for another socket.</summary>
    NoBufferSpace,
}
