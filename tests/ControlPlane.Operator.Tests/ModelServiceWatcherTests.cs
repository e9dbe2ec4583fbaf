using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;
using k8s;

namespace ControlPlane.Operator.Tests;

public sealed class ModelServiceWatcherTests : IAsyncLifetime, IDisposable
{
    private const string Ns = "serving";
    private FakeApiServer _api = null!;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeApiServer.StartAsync();
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = _api.Address.ToString() });
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose() => _client.Dispose();

    private int? Replicas(string name) => _api.Get("apps", "statefulsets", Ns, name)?["spec"]!["replicas"]!.GetValue<int>();

    [Fact]
    public async Task Watch_ChangedModelService_IsReconciledWithoutAPeriodicPass()
    {
        using var reconciler = new ModelServiceReconciler(_client, new RecordingDrainClient(), TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var watching = new ModelServiceWatcher(_client, reconciler, TextWriter.Null).RunAsync(stop.Token);

        _api.Put("inference.controlplane.dev", "modelservices", Ns, new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1",
            ["kind"] = "ModelService",
            ["metadata"] = new JsonObject { ["name"] = "watched", ["generation"] = 1 },
            ["spec"] = new JsonObject
            {
                ["model"] = new JsonObject { ["source"] = "pvc://models/m" },
                ["engine"] = new JsonObject { ["image"] = "worker:1" },
                ["pools"] = new JsonObject { ["mixed"] = new JsonObject { ["replicas"] = 2 } },
            },
        });
        for (var i = 0; i < 100 && Replicas("watched-mixed") != 2; i++)
            await Task.Delay(50);
        Assert.Equal(2, Replicas("watched-mixed"));

        using (var http = new HttpClient())
        using (var patch = new StringContent("{\"spec\":{\"pools\":{\"mixed\":{\"replicas\":3}}}}", Encoding.UTF8, "application/merge-patch+json"))
            (await http.PatchAsync(new Uri(_api.Address, $"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/watched"), patch)).EnsureSuccessStatusCode();
        for (var i = 0; i < 100 && Replicas("watched-mixed") != 3; i++)
            await Task.Delay(50);
        Assert.Equal(3, Replicas("watched-mixed"));

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }
}
