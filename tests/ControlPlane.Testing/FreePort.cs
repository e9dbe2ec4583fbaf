using System.Net;
using System.Net.Sockets;

namespace ControlPlane.Testing;

/// <summary>
/// Finds loopback ports nobody listens on, so parallel test hosts never collide. The ports come from below the
/// kernel's ephemeral range (32768 and up on Linux): a port handed out there can be taken by any outgoing connection or
/// port-0 listener (a worker's KV endpoint) before the process it was meant for binds it. Each test process starts at
/// its own offset and walks on, skipping ports in use.
/// </summary>
public static class FreePort
{
    private const int First = 20_000;
    private const int Count = 12_000;
    private static int _next = Environment.ProcessId * 131 % Count;

    public static int Next()
    {
        for (var i = 0; i < Count; i++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }
        throw new InvalidOperationException($"no free loopback port between {First} and {First + Count}");
    }
}
