using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Auth.Tests.Infrastructure;

/// <summary>
/// A minimal HTTP server on 127.0.0.1 and a free port serving one JWKS document (swappable: key rotation), or failing
/// with 500 while <see cref="Failing"/> is set. Counts the requests it answered.
/// </summary>
public sealed class JwksServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile string _document;
    private int _requests;

    public JwksServer(string document)
    {
        _document = document;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/.well-known/jwks.json";
    public int Requests => Volatile.Read(ref _requests);
    public volatile bool Failing;

    public void Serve(string document) => _document = document;

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = AnswerAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[8192];
                int total = 0;
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                while (total < buffer.Length)
                {
                    int n = await stream.ReadAsync(buffer.AsMemory(total), timeout.Token);
                    if (n == 0) return;
                    total += n;
                    if (buffer.AsSpan(0, total).IndexOf("\r\n\r\n"u8) >= 0) break;
                }
                Interlocked.Increment(ref _requests);
                string body = Failing ? "{\"error\":\"down\"}" : _document;
                string status = Failing ? "500 Internal Server Error" : "200 OK";
                byte[] bytes = Encoding.UTF8.GetBytes(body);
                string head = $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
                await stream.WriteAsync(bytes, timeout.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
