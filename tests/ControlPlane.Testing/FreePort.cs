using System.Net;
using System.Net.Sockets;

namespace ControlPlane.Testing;

/// <summary>Finds loopback ports nobody listens on, so parallel test hosts never collide.</summary>
public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
