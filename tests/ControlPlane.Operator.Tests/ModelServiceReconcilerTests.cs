using System.Text.Json.Nodes;

namespace ControlPlane.Operator.Tests;

public sealed class ModelServiceReconcilerTests : ApiServerTest
{
    private const string Group = "inference.controlplane.dev";
    private readonly RecordingDrainClient _drain = new();

    private Task PassAsync() => PassAsync(_drain);

    private void CreateModelService(string name, int mixed = 2, int prefill = 0, int decode = 0, string image = "worker:1")
    {
        JsonObject Pool(int replicas) => new() { ["replicas"] = replicas };
        Api.Put(Group, "modelservices", Ns, new JsonObject
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

    private JsonObject ModelService(string name) => Api.Get(Group, "modelservices", Ns, name)!;

    private static string Condition(JsonObject ms, string type) =>
        ms["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == type)!["status"]!.GetValue<string>();

    private Task PatchModelServiceAsync(string name, string mergePatch) => PatchAsync($"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/{name}", mergePatch);

    [Fact]
    public async Task Create_MakesOwnedPoolObjectsFinalizerEventsAndStatus()
    {
        CreateModelService("llama", mixed: 3);
        await PassAsync();

        var ms = ModelService("llama");
        var sts = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(3, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(ms["metadata"]!["uid"]!.GetValue<string>(), sts["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.Equal("worker:1", sts["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.NotNull(Api.Get("", "services", Ns, "llama-mixed"));
        Assert.NotNull(Api.Get("policy", "poddisruptionbudgets", Ns, "llama-mixed"));
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "llama-prefill"));
        Assert.Contains("inference.controlplane.dev/drain", ms["metadata"]!["finalizers"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Equal(3, ms["status"]!["replicas"]!.GetValue<int>());
        Assert.Equal(1, ms["status"]!["observedGeneration"]!.GetValue<long>());
        Assert.Equal("inference.controlplane.dev/model=llama", ms["status"]!["selector"]!.GetValue<string>());
        Assert.Equal("False", Condition(ms, "Ready"));
        Assert.Equal("True", Condition(ms, "Progressing"));
        Assert.Contains(Api.List("", "events", Ns), e => e["reason"]!.GetValue<string>() == "PoolCreated");
    }

    [Fact]
    public async Task ReadyReplicas_TurnReadyTrue()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        var sts = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        sts["status"] = new JsonObject { ["replicas"] = 2, ["readyReplicas"] = 2 };
        Api.Put("apps", "statefulsets", Ns, sts);
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
        await PatchModelServiceAsync("llama", """{"spec":{"pools":{"mixed":{"replicas":5}},"engine":{"image":"worker:2"}}}""");
        await PassAsync();
        var sts = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(5, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("worker:2", sts["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal(2, ModelService("llama")["status"]!["observedGeneration"]!.GetValue<long>());
    }

    [Fact]
    public async Task Disaggregated_PoolsComeAndGoWithTheirReplicas()
    {
        CreateModelService("qwen", mixed: 0, prefill: 2, decode: 3);
        await PassAsync();
        Assert.Equal(2, Api.Get("apps", "statefulsets", Ns, "qwen-prefill")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(3, Api.Get("apps", "statefulsets", Ns, "qwen-decode")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "qwen-mixed"));
        await PatchModelServiceAsync("qwen", """{"spec":{"pools":{"prefill":{"replicas":0}}}}""");
        await PassAsync();
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "qwen-prefill"));
        Assert.Null(Api.Get("", "services", Ns, "qwen-prefill"));
        Assert.NotNull(Api.Get("apps", "statefulsets", Ns, "qwen-decode"));
    }

    [Fact]
    public async Task FailingPod_TurnsDegradedNamingIt()
    {
        CreateModelService("llama", mixed: 1);
        await PassAsync();
        Api.Put("", "pods", Ns, JsonNode.Parse("""
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
            (await http.DeleteAsync(new Uri(Api.Address, $"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/llama"))).EnsureSuccessStatusCode();
        Assert.NotNull(ModelService("llama")["metadata"]!["deletionTimestamp"]); // held by the finalizer
        Assert.Empty(_drain.Drained);

        await PassAsync();
        Assert.Equal([(Ns, "llama")], _drain.Drained);
        Assert.Null(Api.Get(Group, "modelservices", Ns, "llama"));
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "llama-mixed")); // garbage-collected through the owner reference
    }

    [Fact]
    public async Task Restart_ConvergedState_ChangesNothing()
    {
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        await PassAsync();
        var before = Api.Requests.Count(r => !r.StartsWith("GET", StringComparison.Ordinal));
        await PassAsync(); // a new reconciler, as after an operator restart
        var writes = Api.Requests.Skip(0).Count(r => !r.StartsWith("GET", StringComparison.Ordinal)) - before;
        Assert.Equal(0, writes);
    }
}
