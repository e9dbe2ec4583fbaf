using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

public sealed class PowerBudgetReconcilerTests : ApiServerTest
{

    private void Node(string name, string row, int gpus, int? peakWatts = null)
    {
        var labels = new JsonObject { ["power-row"] = row };
        if (peakWatts is { } w)
            labels["inference.controlplane.dev/gpu-peak-watts"] = w.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Api.Put("", "nodes", "", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = labels },
            ["status"] = new JsonObject { ["capacity"] = new JsonObject { ["nvidia.com/gpu"] = gpus.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
        });
    }

    private void Budget(string name, string row, long watts) => Api.Put("inference.controlplane.dev", "powerbudgets", "", new JsonObject
    {
        ["apiVersion"] = "inference.controlplane.dev/v1alpha1", ["kind"] = "PowerBudget",
        ["metadata"] = new JsonObject { ["name"] = name, ["generation"] = 1 },
        ["spec"] = new JsonObject { ["nodeSelector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["power-row"] = row } }, ["budgetWatts"] = watts },
    });

    private static string Condition(JsonObject pb, string type) =>
        pb["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == type)!["status"]!.GetValue<string>();

    [Fact]
    public async Task Pass_CountsTheDomainAndFlagsOversubscription_ThenWritesNothingMore()
    {
        Node("a1", "a", gpus: 8);
        Node("a2", "a", gpus: 8, peakWatts: 400);
        Node("b1", "b", gpus: 8);
        Budget("row-a", "a", watts: 8000);   // peak 8×700 + 8×400 = 8,800 W > 8,000 W
        Budget("row-b", "b", watts: 6000);   // peak 5,600 W
        Budget("row-c", "c", watts: 1000);   // no nodes
        var reconciler = new PowerBudgetReconciler(Client, TimeProvider.System);

        Assert.Equal(3, await reconciler.PassAsync(CancellationToken.None));

        var a = Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!;
        Assert.Equal(2, a["status"]!["nodes"]!.GetValue<int>());
        Assert.Equal(16, a["status"]!["gpus"]!.GetValue<int>());
        Assert.Equal(8800, a["status"]!["peakWatts"]!.GetValue<long>());
        Assert.Equal("True", Condition(a, "Oversubscribed"));
        Assert.Equal("False", Condition(Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-b")!, "Oversubscribed"));
        Assert.Equal("False", Condition(Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-c")!, "Ready"));
        Assert.Equal(0, await reconciler.PassAsync(CancellationToken.None)); // converged: idempotent
    }
}
