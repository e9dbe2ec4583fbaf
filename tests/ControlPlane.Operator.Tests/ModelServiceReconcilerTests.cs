using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;
using k8s;

namespace ControlPlane.Operator.Tests;

public sealed class ModelServiceReconcilerTests : IAsyncLifetime, IDisposable
{
    private const string Group = "inference.controlplane.dev";
    private const string Ns = "serving";
    private FakeApiServer _api = null!;
    private Kubernetes _client = null!;
    private readonly RecordingDrainClient _drain = new();

    public async Task InitializeAsync()
    {
        _api = await FakeApiServer.StartAsync();
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = _api.Address.ToString() });
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose() => _client.Dispose();

    /// <summary>One pass of a fresh reconciler (as after a restart); fails the test with the operator's log if any resource failed.</summary>
    private async Task PassAsync()
    {
        using var reconciler = new ModelServiceReconciler(_client, _drain, TimeProvider.System);
        using var log = new StringWriter();
        var failed = await new OperatorLoop(reconciler, null, log).PassAsync(CancellationToken.None);
        Assert.True(failed == 0, log.ToString());
    }

    private void CreateModelService(string name, int mixed = 2, int prefill = 0, int decode = 0, string image = "worker:1")
    {
        JsonObject Pool(int replicas) => new() { ["replicas"] = replicas };
        _api.Put(Group, "modelservices", Ns, new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1",
            ["kind"] = "ModelService",
            ["metadata"] = new JsonObject { ["name"] = name, ["generation"] = 1 },
            ["spec"] = new JsonObject
            {
                ["model"] = new JsonObject { ["source"] = "pvc://models/llama" },
                ["engine"] = new JsonObject { ["image"] = image, ["gpusPerInstance"] = 1 },
                ["pools"] = new JsonObject { ["mixed"] = Pool(mixed), ["prefill"] = Pool(prefill), ["decode"] = Pool(decode) },
            },
        });
    }

    private JsonObject ModelService(string name) => _api.Get(Group, "modelservices", Ns, name)!;

    private static string Condition(JsonObject ms, string type) =>
        ms["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == type)!["status"]!.GetValue<string>();

    private async Task PatchAsync(string name, string mergePatch)
    {
        using var http = new HttpClient();
        using var content = new StringContent(mergePatch, System.Text.Encoding.UTF8, "application/merge-patch+json");
        (await http.PatchAsync(new Uri(_api.Address, $"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/{name}"), content)).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Create_MakesOwnedPoolObjectsFinalizerEventsAndStatus()
    {
        CreateModelService("llama", mixed: 3);
        await PassAsync();

        var ms = ModelService("llama");
        var sts = _api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(3, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(ms["metadata"]!["uid"]!.GetValue<string>(), sts["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.Equal("worker:1", sts["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.NotNull(_api.Get("", "services", Ns, "llama-mixed"));
        Assert.NotNull(_api.Get("policy", "poddisruptionbudgets", Ns, "llama-mixed"));
        Assert.Null(_api.Get("apps", "statefulsets", Ns, "llama-prefill"));
        Assert.Contains("inference.controlplane.dev/drain", ms["metadata"]!["finalizers"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Equal(3, ms["status"]!["replicas"]!.GetValue<int>());
        Assert.Equal(1, ms["status"]!["observedGeneration"]!.GetValue<long>());
        Assert.Equal("inference.controlplane.dev/model=llama", ms["status"]!["selector"]!.GetValue<string>());
        Assert.Equal("False", Condition(ms, "Ready"));
        Assert.Equal("True", Condition(ms, "Progressing"));
        Assert.Contains(_api.List("", "events", Ns), e => e["reason"]!.GetValue<string>() == "PoolCreated");
    }

    [Fact]
    public async Task ReadyReplicas_TurnReadyTrue()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        var sts = _api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        sts["status"] = new JsonObject { ["replicas"] = 2, ["readyReplicas"] = 2 };
        _api.Put("apps", "statefulsets", Ns, sts);
        await PassAsync();
        var ms = ModelService("llama");
        Assert.Equal("True", Condition(ms, "Ready"));
        Assert.Equal("False", Condition(ms, "Progressing"));
        Assert.Equal(2, ms["status"]!["readyReplicas"]!.GetValue<int>());
    }

    [Fact]
    public async Task Scale_AndSpecChange_UpdateTheStatefulSet()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        await PatchAsync("llama", """{"spec":{"pools":{"mixed":{"replicas":5}},"engine":{"image":"worker:2"}}}""");
        await PassAsync();
        var sts = _api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(5, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("worker:2", sts["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal(2, ModelService("llama")["status"]!["observedGeneration"]!.GetValue<long>());
    }

    [Fact]
    public async Task Disaggregated_PoolsComeAndGoWithTheirReplicas()
    {
        CreateModelService("qwen", mixed: 0, prefill: 2, decode: 3);
        await PassAsync();
        Assert.Equal(2, _api.Get("apps", "statefulsets", Ns, "qwen-prefill")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(3, _api.Get("apps", "statefulsets", Ns, "qwen-decode")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(_api.Get("apps", "statefulsets", Ns, "qwen-mixed"));
        await PatchAsync("qwen", """{"spec":{"pools":{"prefill":{"replicas":0}}}}""");
        await PassAsync();
        Assert.Null(_api.Get("apps", "statefulsets", Ns, "qwen-prefill"));
        Assert.Null(_api.Get("", "services", Ns, "qwen-prefill"));
        Assert.NotNull(_api.Get("apps", "statefulsets", Ns, "qwen-decode"));
    }

    [Fact]
    public async Task FailingPod_TurnsDegradedNamingIt()
    {
        CreateModelService("llama", mixed: 1);
        await PassAsync();
        _api.Put("", "pods", Ns, JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"llama-mixed-0","labels":{"inference.controlplane.dev/model":"llama","inference.controlplane.dev/pool":"mixed"}},
             "status":{"phase":"Running","containerStatuses":[{"name":"worker","ready":false,"restartCount":5,"image":"worker:1","imageID":"","state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}
            """)!.AsObject());
        await PassAsync();
        var ms = ModelService("llama");
        Assert.Equal("True", Condition(ms, "Degraded"));
        Assert.Contains("llama-mixed-0", ms["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "Degraded")!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_DrainsFirstThenLetsTheResourceAndItsObjectsGo()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        using (var http = new HttpClient())
            (await http.DeleteAsync(new Uri(_api.Address, $"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/llama"))).EnsureSuccessStatusCode();
        Assert.NotNull(ModelService("llama")["metadata"]!["deletionTimestamp"]); // held by the finalizer
        Assert.Empty(_drain.Drained);

        await PassAsync();
        Assert.Equal([(Ns, "llama")], _drain.Drained);
        Assert.Null(_api.Get(Group, "modelservices", Ns, "llama"));
        Assert.Null(_api.Get("apps", "statefulsets", Ns, "llama-mixed")); // garbage-collected through the owner reference
    }

    [Fact]
    public async Task Restart_ConvergedState_ChangesNothing()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        await PassAsync();
        var before = _api.Requests.Count(r => !r.StartsWith("GET", StringComparison.Ordinal));
        await PassAsync(); // a new reconciler, as after an operator restart
        var writes = _api.Requests.Skip(0).Count(r => !r.StartsWith("GET", StringComparison.Ordinal)) - before;
        Assert.Equal(0, writes);
    }
}
