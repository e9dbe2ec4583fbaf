using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

public sealed class WorkerConfigurationTests : ApiServerTest
{


    /// <summary>Puts the ModelService "llama" with this model and engine and a mixed pool of these replicas, reconciles, and returns the workers' model settings.</summary>
    private async Task<JsonElement> ReconcileAsync(JsonObject model, JsonObject engine, int replicas, JsonObject? slo = null, JsonObject? dispatch = null,
        JsonObject? migration = null, JsonArray? priorityClasses = null)
    {
        var spec = new JsonObject { ["model"] = model, ["engine"] = engine, ["pools"] = new JsonObject { ["mixed"] = new JsonObject { ["replicas"] = replicas } } };
        if (slo is not null)
            spec["slo"] = slo;
        if (dispatch is not null)
            spec["dispatch"] = dispatch;
        if (migration is not null)
            spec["migration"] = migration;
        if (priorityClasses is not null)
            spec["priorityClasses"] = priorityClasses;
        Api.Put("inference.controlplane.dev", "modelservices", Ns, new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1",
            ["kind"] = "ModelService",
            ["metadata"] = new JsonObject { ["name"] = "llama", ["generation"] = 1 },
            ["spec"] = spec,
        });
        await PassAsync();
        return Settings().GetProperty("ControlPlane").GetProperty("Models")[0];
    }

    private JsonElement Settings() => JsonDocument.Parse(Api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>()).RootElement;

    private string Hash() => Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["metadata"]!["annotations"]![DesiredObjects.ConfigHashAnnotation]!.GetValue<string>();

    [Fact]
    public async Task Config_IsAConfigMapTheWorkersMount_AndAChangeRollsThem()
    {
        var model = await ReconcileAsync(new JsonObject { ["source"] = "/models/llama-3-8b", ["servedName"] = "llama-3-8b" },
            new JsonObject { ["image"] = "worker:1", ["gpusPerInstance"] = 1, ["kvCacheMiB"] = 30720, ["hostKvCacheMiB"] = 131072 }, replicas: 2);
        Assert.Equal("llama-3-8b", model.GetProperty("Name").GetString());
        Assert.Equal("/models/llama-3-8b", model.GetProperty("Path").GetString());
        Assert.Equal("cuda", model.GetProperty("Device").GetString());
        Assert.Equal(30720, model.GetProperty("KvCacheMiB").GetInt32());
        Assert.Equal(131072, model.GetProperty("HostKvCacheMiB").GetInt32()); // the host tier, sized by the ModelService
        Assert.True(model.GetProperty("MeasureDecodeProducts").GetBoolean()); // the engine's default unless the ModelService says
        Assert.Equal("torchsharp", model.GetProperty("Engine").GetString());
        // Settings the ModelService leaves unset are left out, so that the workers' own defaults hold.
        Assert.False(model.TryGetProperty("ChatTemplate", out _));
        Assert.False(model.TryGetProperty("MaxContextTokens", out _));
        var pod = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["spec"]!;
        // The pod asks for its memory (the CRD's default 64Gi) plus the host tier's 128 GiB; its GPU as a limit.
        var resources = pod["containers"]![0]!["resources"]!;
        Assert.Equal(((64L + 128) << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), resources["requests"]!["memory"]!.GetValue<string>());
        Assert.Equal("8", resources["requests"]!["cpu"]!.GetValue<string>());
        Assert.Equal("1", resources["limits"]!["nvidia.com/gpu"]!.GetValue<string>());
        Assert.Equal("llama-config", pod["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        // Workers join the control silos' cluster: role worker, Redis, ids from the pod's name, a drain before the stop.
        var cluster = Settings().GetProperty("ControlPlane").GetProperty("Cluster");
        Assert.Equal("worker", cluster.GetProperty("Roles").GetString());
        Assert.Equal("redis:6379", cluster.GetProperty("Redis").GetString());
        var worker = pod["containers"]![0]!;
        Assert.Equal("metadata.name", worker["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "POD_NAME")!["valueFrom"]!["fieldRef"]!["fieldPath"]!.GetValue<string>());
        // It drains on SIGTERM; a preStop GET /admin/drain from the kubelet would be refused (admin needs the admin key).
        Assert.Null(worker["lifecycle"]);
        // Migrations stream KV blocks to the worker's KV endpoint: the port it listens on is the one the pod declares.
        var kvPort = worker["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "kv")!["containerPort"]!.GetValue<int>();
        Assert.Equal(kvPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            worker["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "ControlPlane__Worker__KvPort")!["value"]!.GetValue<string>());
        Assert.Equal("status.podIP", worker["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "ControlPlane__Worker__KvHost")!["valueFrom"]!["fieldRef"]!["fieldPath"]!.GetValue<string>());
        Assert.Equal(90, pod["terminationGracePeriodSeconds"]!.GetValue<long>());
        // Starting (weights, graphs, the products' measurement) may take minutes: the startup probe allows 15 before a
        // restart, and the liveness probe waits for it.
        Assert.Equal("/healthz", worker["startupProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.True(worker["startupProbe"]!["periodSeconds"]!.GetValue<int>() * worker["startupProbe"]!["failureThreshold"]!.GetValue<int>() >= 600);
        // The engine's start-up measurements go to XDG_CACHE_HOME, an emptyDir that outlives the container's restarts.
        var cachePath = worker["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "XDG_CACHE_HOME")!["value"]!.GetValue<string>();
        var cacheMount = worker["volumeMounts"]!.AsArray().Single(m => m!["mountPath"]!.GetValue<string>() == cachePath)!;
        Assert.NotNull(pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == cacheMount["name"]!.GetValue<string>())!["emptyDir"]);
        // A pass with nothing changed leaves the StatefulSet as it is (no replace: its pods would not roll, but its version would move).
        string Version() => Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["metadata"]!["resourceVersion"]!.GetValue<string>();
        var version = Version();
        await PassAsync();
        Assert.Equal(version, Version());
        var before = Hash();

        await PatchAsync($"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/llama", "{\"spec\":{\"model\":{\"source\":\"/models/llama-3.1-8b\"}}}");
        await PassAsync();

        Assert.Contains("llama-3.1-8b", Api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotEqual(before, Hash());

        // A faster start without the products' measurement, asked for in the ModelService: the workers' setting, and a roll.
        var rolled = Hash();
        await PatchAsync($"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/llama", "{\"spec\":{\"engine\":{\"measureDecodeProducts\":false}}}");
        await PassAsync();
        var patched = Settings();
        Assert.False(patched.GetProperty("ControlPlane").GetProperty("Models")[0].GetProperty("MeasureDecodeProducts").GetBoolean());
        Assert.NotEqual(rolled, Hash());

        // The engine cache on the node, asked for in the ModelService: a hostPath volume (made if missing) where the emptyDir was.
        await PatchAsync($"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/llama", "{\"spec\":{\"engine\":{\"cacheHostPath\":\"/var/cache/controlplane-llama\"}}}");
        await PassAsync();
        var volume = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["spec"]!["volumes"]!.AsArray()
            .Single(v => v!["name"]!.GetValue<string>() == cacheMount["name"]!.GetValue<string>())!;
        Assert.Null(volume["emptyDir"]);
        Assert.Equal("/var/cache/controlplane-llama", volume["hostPath"]!["path"]!.GetValue<string>());
        Assert.Equal("DirectoryOrCreate", volume["hostPath"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task ModelOnAClaim_IsMountedReadOnly_AndTheWorkersReadItsFolder_WithTheModelsSettings()
    {
        var model = await ReconcileAsync(new JsonObject { ["source"] = "pvc://models/meta-llama/Meta-Llama-3-8B-Instruct", ["chatTemplate"] = "chatml", ["maxContextTokens"] = 4096 },
            new JsonObject { ["image"] = "worker:1", ["backend"] = "simulated" }, replicas: 1);
        Assert.Equal("/models/models/meta-llama/Meta-Llama-3-8B-Instruct", model.GetProperty("Path").GetString());
        // The model's and engine's settings the ModelService names reach the workers.
        Assert.Equal("simulated", model.GetProperty("Engine").GetString());
        Assert.Equal("chatml", model.GetProperty("ChatTemplate").GetString());
        Assert.Equal(4096, model.GetProperty("MaxContextTokens").GetInt32());
        var pod = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["spec"]!;
        var volume = pod["volumes"]!.AsArray().Single(v => v!["persistentVolumeClaim"] is not null)!;
        Assert.Equal("models", volume["persistentVolumeClaim"]!["claimName"]!.GetValue<string>());
        Assert.True(volume["persistentVolumeClaim"]!["readOnly"]!.GetValue<bool>());
        var mount = pod["containers"]![0]!["volumeMounts"]!.AsArray().Single(m => m!["name"]!.GetValue<string>() == volume["name"]!.GetValue<string>())!;
        Assert.Equal("/models/models", mount["mountPath"]!.GetValue<string>());
        Assert.True(mount["readOnly"]!.GetValue<bool>());
    }

    [Fact]
    public async Task SloDispatchAndMigration_ReachTheWorkersModelSettings_AndAreLeftOutWhenAbsent()
    {
        var model = await ReconcileAsync(new JsonObject { ["source"] = "/models/llama" }, new JsonObject { ["image"] = "worker:1" }, replicas: 1,
            new JsonObject { ["timeToFirstTokenMs"] = 250, ["timePerOutputTokenMs"] = 40 }, new JsonObject { ["policy"] = "least-request", ["queueLimit"] = 32 },
            new JsonObject { ["enabled"] = false });
        Assert.Equal(250, model.GetProperty("SloTtftMs").GetDouble());
        Assert.Equal(40, model.GetProperty("SloTpotMs").GetDouble());
        Assert.Equal("least-request", model.GetProperty("DispatchPolicy").GetString());
        Assert.Equal(32, model.GetProperty("DispatchQueueLimit").GetInt32());
        Assert.False(model.GetProperty("Migration").GetBoolean());

        var without = await ReconcileAsync(new JsonObject { ["source"] = "/models/llama" }, new JsonObject { ["image"] = "worker:1" }, replicas: 1);
        Assert.False(without.TryGetProperty("SloTtftMs", out _)); // the workers' own default holds
        Assert.False(without.TryGetProperty("SloTpotMs", out _));
        Assert.False(without.TryGetProperty("DispatchPolicy", out _)); // the gateways' own policy holds
        Assert.False(without.TryGetProperty("DispatchQueueLimit", out _));
        Assert.False(without.TryGetProperty("Migration", out _));
        Assert.False(without.TryGetProperty("PriorityClasses", out _)); // the model defines none
    }

    [Fact]
    public async Task PriorityClasses_ReachTheWorkersModelSettings_InOrder()
    {
        var model = await ReconcileAsync(new JsonObject { ["source"] = "/models/llama" }, new JsonObject { ["image"] = "worker:1" }, replicas: 1,
            priorityClasses: [new JsonObject { ["name"] = "chat", ["serviceClass"] = "interactive", ["priority"] = 10 },
                new JsonObject { ["name"] = "batch-jobs", ["serviceClass"] = "batch", ["default"] = true }]);
        var classes = model.GetProperty("PriorityClasses").EnumerateArray()
            .Select(c => (c.GetProperty("Name").GetString(), c.GetProperty("ServiceClass").GetString(), c.GetProperty("Priority").GetInt32())).ToArray();
        Assert.Equal([("chat", "interactive", 10), ("batch-jobs", "batch", 0)], classes);
        Assert.Equal([false, true], model.GetProperty("PriorityClasses").EnumerateArray().Select(c => c.GetProperty("Default").GetBoolean()));
    }

    [Theory]
    [InlineData("pvc://models/meta-llama/Llama-3", "/models/models/meta-llama/Llama-3", "models")]
    [InlineData("pvc://weights", "/models/weights", "weights")]
    [InlineData("pvc://weights/", "/models/weights", "weights")]
    [InlineData("/models/llama-3-8b", "/models/llama-3-8b", null)]
    [InlineData("pvc://Not_A_Claim/x", "pvc://Not_A_Claim/x", null)]
    [InlineData("pvc://weights/../etc", "pvc://weights/../etc", null)]
    public void ModelLocation_ParsesAClaimAndItsFolder_OrKeepsThePath(string source, string path, string? claim) =>
        Assert.Equal((path, claim), DesiredObjects.ModelLocation(source));
}
