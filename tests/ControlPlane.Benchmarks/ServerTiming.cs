using System.Globalization;

namespace ControlPlane.Benchmarks;

/// <summary>Reads the gateway's <c>Server-Timing</c> header: the engine's time and the server's whole time, ms (NaN where absent).</summary>
internal static class ServerTiming
{
    public static (double EngineMs, double GatewayMs) Of(HttpResponseMessage response)
    {
        double engine = double.NaN, gateway = double.NaN;
        if (!response.Headers.TryGetValues("Server-Timing", out var timing))
            return (engine, gateway);
        foreach (var metric in timing.First().Split(','))
        {
            var parts = metric.Trim().Split(";dur=");
            var value = double.Parse(parts[1], CultureInfo.InvariantCulture);
            if (parts[0] == "engine")
                engine = value;
            else if (parts[0] == "gateway")
                gateway = value;
        }
        return (engine, gateway);
    }
}
