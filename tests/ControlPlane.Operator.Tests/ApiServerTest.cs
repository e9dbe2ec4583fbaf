using ControlPlane.Operator.Reconciliation;
using k8s;

namespace ControlPlane.Operator.Tests;

/// <summary>A fake API server on loopback and a real KubernetesClient pointed at it, per test.</summary>
public abstract class ApiServerTest : IAsyncLifetime, IDisposable
{
    protected const string Ns = "serving";

    protected FakeApiServer Api { get; private set; } = null!;
    protected Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Api = await FakeApiServer.StartAsync();
        Client = new Kubernetes(new KubernetesClientConfiguration { Host = Api.Address.ToString() });
    }

    public async Task DisposeAsync() => await Api.DisposeAsync();

    public void Dispose()
    {
        Client.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>One pass of a fresh reconciler (as after a restart); fails the test with the operator's log if any resource failed.</summary>
    protected async Task PassAsync(IDrainClient? drain = null, TimeProvider? time = null, IAutoscaleClient? autoscale = null)
    {
        using var reconciler = new ModelServiceReconciler(Client, drain ?? new RecordingDrainClient(), time ?? TimeProvider.System, autoscale: autoscale);
        using var log = new StringWriter();
        var failed = await new OperatorLoop(reconciler, null, log).PassAsync(CancellationToken.None);
        Assert.True(failed == 0, log.ToString());
    }

    /// <summary>A JSON merge patch, as kubectl patch --type merge sends it.</summary>
    protected async Task PatchAsync(string path, string mergePatch)
    {
        using var http = new HttpClient();
        using var content = new StringContent(mergePatch, System.Text.Encoding.UTF8, "application/merge-patch+json");
        (await http.PatchAsync(new Uri(Api.Address, path), content)).EnsureSuccessStatusCode();
    }
}
