using System.Globalization;
using ControlPlane.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Benchmarks;

/// <summary>The whole control plane in this process on a loopback port, quiet logs, one model of simulated instances; ready when returned.</summary>
internal static class InProcessServer
{
    public static async Task<(WebApplication App, Uri Address)> StartAsync(int siloPort, int instances, IReadOnlyDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
            ["ControlPlane:Cluster:SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["ControlPlane:Cluster:GatewayPort"] = "0",
            ["ControlPlane:Models:0:Name"] = "bench",
            ["ControlPlane:Models:0:Instances"] = instances.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
            settings[key] = value;
        var app = ControlPlaneHost.Build([], c => c.AddInMemoryCollection(settings));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient { BaseAddress = address };
        for (var i = 0; i < 100 && !(await http.GetAsync(new Uri("/readyz", UriKind.Relative))).IsSuccessStatusCode; i++)
            await Task.Delay(50);
        return (app, address);
    }
}
