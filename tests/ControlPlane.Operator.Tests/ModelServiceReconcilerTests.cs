using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

public sealed class ModelServiceReconcilerTests : ApiServerTest
{
    private const string Group = "inference.controlplane.dev";
    private readonly RecordingDrainClient _drain = new();

    private readonly ManualTime _time = new(DateTimeOffset.UtcNow);

    private Task PassAsync() => PassAsync(_drain, _time);

    /// <summary>A clock the test moves (drain deadlines).</summary>
    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

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
    public async Task Disaggregated_EachPoolsWorkersServeInItsRole()
    {
        CreateModelService("qwen", mixed: 1, prefill: 2, decode: 3);
        await PassAsync();
        foreach (var pool in new[] { "mixed", "prefill", "decode" })
        {
            var env = Api.Get("apps", "statefulsets", Ns, $"qwen-{pool}")!["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
            Assert.Equal(pool, env.Single(e => e!["name"]!.GetValue<string>() == "ControlPlane__Models__0__Role")!["value"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task AutoscaledPool_KeepsTheReplicasItsAutoscalerSet_OthersFollowTheSpec()
    {
        CreateModelService("qwen", mixed: 0, prefill: 2, decode: 3);
        await PatchModelServiceAsync("qwen", """{"spec":{"pools":{"decode":{"replicas":3,"autoscaled":true}}}}""");
        await PassAsync();
        Assert.Equal(3, Api.Get("apps", "statefulsets", Ns, "qwen-decode")!["spec"]!["replicas"]!.GetValue<int>());
        // The autoscaler scales the decode pool's StatefulSet through its scale subresource; the prefill pool follows the spec.
        await PatchAsync($"apis/apps/v1/namespaces/{Ns}/statefulsets/qwen-decode", """{"spec":{"replicas":6}}""");
        await PatchModelServiceAsync("qwen", """{"spec":{"pools":{"prefill":{"replicas":4},"decode":{"replicas":1,"autoscaled":true}}}}""");
        await PassAsync();
        Assert.Equal(6, Api.Get("apps", "statefulsets", Ns, "qwen-decode")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(4, Api.Get("apps", "statefulsets", Ns, "qwen-prefill")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(10, ModelService("qwen")["status"]!["replicas"]!.GetValue<int>());
    }

    /// <summary>The control plane's autoscaling decision, as the test sets it; counts the reads.</summary>
    private sealed class FixedAutoscale : IAutoscaleClient
    {
        /// <summary>The mixed pool's decision (null: none yet).</summary>
        public int? Desired { get; set; }
        public Dictionary<string, int> Others { get; } = new(StringComparer.Ordinal);
        public int Reads { get; private set; }

        public Task<IReadOnlyDictionary<string, int>> DesiredAsync(string @namespace, string model, CancellationToken cancellationToken)
        {
            Reads++;
            var pools = new Dictionary<string, int>(Others, StringComparer.Ordinal);
            if (Desired is { } mixed)
                pools["mixed"] = mixed;
            return Task.FromResult<IReadOnlyDictionary<string, int>>(pools);
        }
    }

    [Fact]
    public async Task Autoscaling_SizesThePrefillAndDecodePoolsApart_WithinTheirBounds()
    {
        CreateModelService("qwen", mixed: 0, prefill: 1, decode: 2);
        await PatchModelServiceAsync("qwen", """{"spec":{"autoscaling":{"enabled":true},"pools":{"prefill":{"replicas":1,"minReplicas":1,"maxReplicas":3},"decode":{"replicas":2,"minReplicas":1,"maxReplicas":6}}}}""");
        var autoscale = new FixedAutoscale();
        autoscale.Others["prefill"] = 5;
        autoscale.Others["decode"] = 4;
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(3, Api.Get("apps", "statefulsets", Ns, "qwen-prefill")!["spec"]!["replicas"]!.GetValue<int>()); // held to its maximum
        Assert.Equal(4, Api.Get("apps", "statefulsets", Ns, "qwen-decode")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "qwen-mixed")); // no mixed pool is made
    }

    [Fact]
    public async Task Autoscaling_AppliesTheControlPlanesDecision_ThroughTheScaleSubresource_WithinThePoolsBounds()
    {
        CreateModelService("llama", mixed: 2);
        await PatchModelServiceAsync("llama", """{"spec":{"autoscaling":{"enabled":true},"pools":{"mixed":{"replicas":2,"minReplicas":1,"maxReplicas":5}}}}""");
        var autoscale = new FixedAutoscale { Desired = 9 };
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(5, ModelService("llama")["spec"]!["pools"]!["mixed"]!["replicas"]!.GetValue<int>()); // held to maxReplicas
        Assert.Equal(5, Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["replicas"]!.GetValue<int>());

        autoscale.Desired = null; // no decision yet (the scheduler restarted): nothing changes
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(5, ModelService("llama")["spec"]!["pools"]!["mixed"]!["replicas"]!.GetValue<int>());

        autoscale.Desired = 0; // idle: held to minReplicas; the pods that go are drained first
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(1, ModelService("llama")["spec"]!["pools"]!["mixed"]!["replicas"]!.GetValue<int>());
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(1, Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Contains(_drain.Drained, d => d.Pods.Contains("llama-mixed-4"));
    }

    [Fact]
    public async Task AutoscalingOff_TheDecisionIsNotEvenRead()
    {
        CreateModelService("llama", mixed: 2);
        var autoscale = new FixedAutoscale { Desired = 7 };
        await PassAsync(_drain, _time, autoscale);
        Assert.Equal(0, autoscale.Reads);
        Assert.Equal(2, Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["replicas"]!.GetValue<int>());
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
        var drained = Assert.Single(_drain.Drained);
        Assert.Equal((Ns, "llama"), (drained.Namespace, drained.Model));
        Assert.Equal(["llama-mixed-0", "llama-mixed-1"], drained.Pods);
        Assert.Null(Api.Get(Group, "modelservices", Ns, "llama"));
        Assert.Null(Api.Get("apps", "statefulsets", Ns, "llama-mixed")); // garbage-collected through the owner reference
    }

    [Fact]
    public async Task Delete_WithRequestsRunning_KeepsTheFinalizerUntilTheyHaveMovedElsewhere()
    {
        // Another ModelService serves the same model (a blue/green upgrade): the scheduler migrates the running
        // requests of the one being deleted to its instances; the finalizer goes once none is left on its pods.
        CreateModelService("llama", mixed: 2);
        await PassAsync();
        _drain.Running["llama-mixed-1"] = 7;
        using (var http = new HttpClient())
            (await http.DeleteAsync(new Uri(Api.Address, $"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/llama"))).EnsureSuccessStatusCode();
        await PassAsync();
        await PassAsync();
        Assert.Equal(2, _drain.Drained.Count);
        Assert.NotNull(Api.Get(Group, "modelservices", Ns, "llama")); // 7 requests still there: it waits
        Assert.NotNull(Api.Get("apps", "statefulsets", Ns, "llama-mixed"));

        _drain.Running["llama-mixed-1"] = 0; // migrated away
        await PassAsync();
        Assert.Null(Api.Get(Group, "modelservices", Ns, "llama"));
        Assert.Contains(Api.List("", "events", Ns), e => e["reason"]?.GetValue<string>() == "Drained");
    }

    [Fact]
    public async Task Delete_RequestsThatNeverLeave_TheFinalizerGoesAtTheDrainDeadline()
    {
        CreateModelService("llama", mixed: 1);
        await PassAsync();
        _drain.Running["llama-mixed-0"] = 3;
        using (var http = new HttpClient())
            (await http.DeleteAsync(new Uri(Api.Address, $"apis/{Group}/v1alpha1/namespaces/{Ns}/modelservices/llama"))).EnsureSuccessStatusCode();
        _time.Now = DateTimeOffset.UtcNow;
        await PassAsync();
        Assert.NotNull(Api.Get(Group, "modelservices", Ns, "llama"));
        _time.Now = DateTimeOffset.UtcNow.AddSeconds(new ControlPlane.Operator.Reconciliation.WorkerCluster().DrainSeconds + 5);
        await PassAsync();
        Assert.Null(Api.Get(Group, "modelservices", Ns, "llama"));
        Assert.Contains(Api.List("", "events", Ns), e => e["reason"]?.GetValue<string>() == "DrainTimedOut");
    }

    [Fact]
    public async Task ScaleIn_DrainsThePodsThatGo_AndShrinksThePoolOnlyOnceTheyAreEmpty()
    {
        CreateModelService("llama", mixed: 4);
        await PassAsync();
        _drain.Running["llama-mixed-3"] = 5;
        await PatchModelServiceAsync("llama", """{"spec":{"pools":{"mixed":{"replicas":3}}}}""");
        await PassAsync();
        Assert.Equal(["llama-mixed-3"], _drain.Drained[^1].Pods); // only the pod that goes
        Assert.Equal(4, Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["replicas"]!.GetValue<int>());
        Assert.NotNull(Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["metadata"]!["annotations"]![ModelServiceReconciler.ScaleInSinceAnnotation]);

        _drain.Running["llama-mixed-3"] = 0; // its requests migrated to the three that stay
        await PassAsync();
        var sts = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(3, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(sts["metadata"]!["annotations"]?[ModelServiceReconciler.ScaleInSinceAnnotation]);
    }

    [Fact]
    public async Task ScaleInUndone_BeforeThePodsWent_ResumesThem()
    {
        CreateModelService("llama", mixed: 3);
        await PassAsync();
        _drain.Running["llama-mixed-2"] = 2;
        await PatchModelServiceAsync("llama", """{"spec":{"pools":{"mixed":{"replicas":2}}}}""");
        await PassAsync();
        Assert.Equal(3, Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["replicas"]!.GetValue<int>());
        await PatchModelServiceAsync("llama", """{"spec":{"pools":{"mixed":{"replicas":3}}}}""");
        await PassAsync();
        Assert.Contains("llama-mixed-2", _drain.Resumed);
        var sts = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!;
        Assert.Equal(3, sts["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(sts["metadata"]!["annotations"]?[ModelServiceReconciler.ScaleInSinceAnnotation]);
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
