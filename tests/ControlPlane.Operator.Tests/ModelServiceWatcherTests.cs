using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

public sealed class ModelServiceWatcherTests : ApiServerTest
{

    private int? Replicas(string name) => Api.Get("apps", "statefulsets", Ns, name)?["spec"]!["replicas"]!.GetValue<int>();

    [Fact]
    public async Task Watch_ChangedModelService_IsReconciledWithoutAPeriodicPass()
    {
        using var reconciler = new ModelServiceReconciler(Client, new RecordingDrainClient(), TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var watching = new ModelServiceWatcher(Client, reconciler, TextWriter.Null).RunAsync(stop.Token);

        Api.Put("inference.controlplane.dev", "modelservices", Ns, new JsonObject
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

        await PatchAsync($"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/watched", "{\"spec\":{\"pools\":{\"mixed\":{\"replicas\":3}}}}");
        for (var i = 0; i < 100 && Replicas("watched-mixed") != 3; i++)
            await Task.Delay(50);
        Assert.Equal(3, Replicas("watched-mixed"));

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }
}
