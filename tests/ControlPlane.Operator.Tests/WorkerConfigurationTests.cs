using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;
using k8s;

namespace ControlPlane.Operator.Tests;

public sealed class WorkerConfigurationTests : IAsyncLifetime, IDisposable
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

    private async Task PassAsync()
    {
        using var reconciler = new ModelServiceReconciler(_client, new RecordingDrainClient(), TimeProvider.System);
        using var log = new StringWriter();
        Assert.True(await new OperatorLoop(reconciler, null, log).PassAsync(CancellationToken.None) == 0, log.ToString());
    }

    private string Hash() => _api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["metadata"]!["annotations"]![DesiredObjects.ConfigHashAnnotation]!.GetValue<string>();

    [Fact]
    public async Task Config_IsAConfigMapTheWorkersMount_AndAChangeRollsThem()
    {
        _api.Put("inference.controlplane.dev", "modelservices", Ns, new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1",
            ["kind"] = "ModelService",
            ["metadata"] = new JsonObject { ["name"] = "llama", ["generation"] = 1 },
            ["spec"] = new JsonObject
            {
                ["model"] = new JsonObject { ["source"] = "/models/llama-3-8b", ["servedName"] = "llama-3-8b" },
                ["engine"] = new JsonObject { ["image"] = "worker:1", ["gpusPerInstance"] = 1 },
                ["pools"] = new JsonObject { ["mixed"] = new JsonObject { ["replicas"] = 2 } },
            },
        });
        await PassAsync();

        var settings = JsonDocument.Parse(_api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>()).RootElement;
        var model = settings.GetProperty("ControlPlane").GetProperty("Models")[0];
        Assert.Equal("llama-3-8b", model.GetProperty("Name").GetString());
        Assert.Equal("/models/llama-3-8b", model.GetProperty("Path").GetString());
        Assert.Equal("cuda", model.GetProperty("Device").GetString());
        var pod = _api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["spec"]!;
        Assert.Equal("llama-config", pod["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        var before = Hash();

        using (var http = new HttpClient())
        using (var patch = new StringContent("{\"spec\":{\"model\":{\"source\":\"/models/llama-3.1-8b\"}}}", Encoding.UTF8, "application/merge-patch+json"))
            (await http.PatchAsync(new Uri(_api.Address, $"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/llama"), patch)).EnsureSuccessStatusCode();
        await PassAsync();

        Assert.Contains("llama-3.1-8b", _api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotEqual(before, Hash());
    }
}
