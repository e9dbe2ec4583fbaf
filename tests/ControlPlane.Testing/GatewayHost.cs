using Xunit;
using ControlPlane.Grains;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Testing;

/// <summary>
/// A real control silo with its gateway on a free loopback port: the same host `make run` starts, with
/// settings for tests (a fast simulated profile, small context, free ports).
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string Model = "sim";

    /// <summary>The pod name the host runs as: its instance ids are <c>{Pod}/{model}/{index}</c>.</summary>
    public const string Pod = "gateway-test";

    private GatewayHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    public IGrainFactory Grains => App.Services.GetRequiredService<IGrainFactory>();

    public static async Task<GatewayHost> StartAsync(IDictionary<string, string?>? overrides = null, IReadOnlyList<IEngineBackend>? backends = null, bool waitReady = true)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
            ["ControlPlane:Cluster:SiloPort"] = FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ControlPlane:Cluster:GatewayPort"] = "0",
            ["ControlPlane:Cluster:PodName"] = Pod,
            ["ControlPlane:Models:0:Name"] = Model,
            ["ControlPlane:Models:0:Instances"] = "4",
            ["ControlPlane:Models:0:Profile"] = TestProfile.Path,
            ["ControlPlane:Models:0:MaxContextTokens"] = "512",
            ["ControlPlane:Models:0:KvBlocks"] = "256",
            // A request that finds no ready instance is held this long (a pool scaling from zero); tests hold briefly.
            ["ControlPlane:Gateway:HoldWhenNoInstance"] = "00:00:02",
            // Open mode's anonymous caller may claim any class and priority here: tests of classes need no keys.
            ["ControlPlane:Auth:Anonymous:MaxServiceTier"] = "priority",
            ["ControlPlane:Auth:Anonymous:MaxPriority"] = "1000000",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
            settings[key] = value;

        // An empty content root: the host reads only these settings, never the server's appsettings.json.
        var root = Directory.CreateTempSubdirectory("controlplane-test-host-").FullName;
        var app = ControlPlaneHost.Build([], c => c.AddInMemoryCollection(settings), contentRoot: root, backends: backends);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new GatewayHost(app, new Uri(address));
        if (waitReady)
            await host.WaitReadyAsync();
        return host;
    }

    /// <summary>The model's instance loads as the scheduler sees them.</summary>
    public async Task<IReadOnlyList<InstanceLoad>> LoadsAsync() =>
        (await Grains.GetGrain<ISchedulerGrain>(Model).GetSnapshotAsync()).Instances;

    /// <summary>Whether some instance runs a request, as the scheduler hears within a few reports.</summary>
    public async Task<bool> AnyRunningAsync()
    {
        for (var i = 0; i < 50; i++)
        {
            if ((await LoadsAsync()).Any(l => l.RunningRequests > 0))
                return true;
            await Task.Delay(20);
        }
        return false;
    }

    /// <summary>Waits until no instance holds a request or a KV block: nothing leaked.</summary>
    public async Task WaitIdleAsync()
    {
        IReadOnlyList<InstanceLoad> loads = [];
        for (var i = 0; i < 100; i++)
        {
            loads = await LoadsAsync();
            if (loads.All(l => l.RunningRequests == 0 && l.WaitingRequests == 0 && l.UsedKvBlocks == 0))
                return;
            await Task.Delay(50);
        }
        Assert.Fail("instances did not go idle: " + string.Join(", ", loads.Select(l => $"{l.InstanceId} running={l.RunningRequests} waiting={l.WaitingRequests} blocks={l.UsedKvBlocks}")));
    }

    /// <summary>
    /// The request grain's status once it reaches <paramref name="phase"/> (or the last seen after 5 s):
    /// lifecycle updates land just after the client has its answer, off the token path.
    /// </summary>
    public async Task<RequestStatus> StatusAsync(string requestId, RequestPhase phase)
    {
        var grain = Grains.GetGrain<IRequestGrain>(requestId);
        var status = await grain.GetStatusAsync();
        for (var i = 0; i < 250 && status.Phase != phase; i++)
        {
            await Task.Delay(20);
            status = await grain.GetStatusAsync();
        }
        return status;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }

    private async Task WaitReadyAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            using var response = await Http.GetAsync(new Uri("/readyz", UriKind.Relative));
            if (response.IsSuccessStatusCode)
                return;
            await Task.Delay(50);
        }
        throw new TimeoutException("the gateway did not become ready within 10 s");
    }
}
