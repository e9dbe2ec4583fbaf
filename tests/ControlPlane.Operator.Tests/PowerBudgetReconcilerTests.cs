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

    [Fact]
    public async Task Pass_AppliesEveryBudgetWithNodesToTheControlPlane_AndTheSetWithoutADeletedOne()
    {
        Node("a1", "a", gpus: 8);
        Node("a2", "a", gpus: 8);
        Node("b1", "b", gpus: 8);
        Budget("row-a", "a", watts: 8000);
        Api.Put("inference.controlplane.dev", "powerbudgets", "", new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1", ["kind"] = "PowerBudget",
            ["metadata"] = new JsonObject { ["name"] = "row-b", ["generation"] = 1, ["creationTimestamp"] = "2029-01-01T00:00:00Z" },
            ["spec"] = new JsonObject
            {
                ["nodeSelector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["power-row"] = "b" } }, ["budgetWatts"] = 4000,
                ["capping"] = new JsonObject { ["method"] = "frequency-lock", ["minimumGpuWatts"] = 300, ["headroomPercent"] = 10 },
            },
        });
        Budget("row-c", "c", watts: 1000); // no nodes: nothing to cap
        var power = new PowerBudgetLiveStatusTests.StaticPowerStatus();
        var reconciler = new PowerBudgetReconciler(Client, TimeProvider.System, power);

        await reconciler.PassAsync(CancellationToken.None);

        var set = Assert.Single(power.Applied);
        Assert.Equal(["row-a", "row-b"], set.Select(d => d.Name).Order(StringComparer.Ordinal));
        var a = set.Single(d => d.Name == "row-a");
        Assert.Equal((8000L, 200, 5), (a.BudgetWatts, a.MinimumGpuWatts, a.HeadroomPercent)); // the CRD's capping defaults
        Assert.Equal(["a1", "a2"], a.Nodes);
        var b = set.Single(d => d.Name == "row-b");
        Assert.Equal((4000L, 300, 10, "b1"), (b.BudgetWatts, b.MinimumGpuWatts, b.HeadroomPercent, Assert.Single(b.Nodes)));
        string Capping(string name, string field) => Api.Get("inference.controlplane.dev", "powerbudgets", "", name)!["status"]!["conditions"]!.AsArray()
            .Single(c => c!["type"]!.GetValue<string>() == "Capping")![field]!.GetValue<string>();
        Assert.Equal(("True", "Applied"), (Capping("row-a", "status"), Capping("row-a", "reason")));
        Assert.Equal(("True", "PowerLimit"), (Capping("row-b", "status"), Capping("row-b", "reason"))); // frequency-lock is said not to be carried out
        Assert.Equal(("False", "NoNodes"), (Capping("row-c", "status"), Capping("row-c", "reason")));

        // row-a deleted: the next set leaves it out, so the control plane stops its loop.
        await k8s.CustomObjectsOperationsExtensions.DeleteClusterCustomObjectAsync(Client.CustomObjects, "inference.controlplane.dev", "v1alpha1", "powerbudgets", "row-a");
        await reconciler.PassAsync(CancellationToken.None);
        Assert.Equal(["row-b"], power.Applied[^1].Select(d => d.Name));

        // A budget whose selector takes a node another budget holds is left out, and says which.
        Node("b2", "b", gpus: 8);
        Api.Put("", "nodes", "", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = "b2", ["labels"] = new JsonObject { ["power-row"] = "b", ["rack"] = "r7" } },
            ["status"] = new JsonObject { ["capacity"] = new JsonObject { ["nvidia.com/gpu"] = "8" } },
        });
        Api.Put("inference.controlplane.dev", "powerbudgets", "", new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1", ["kind"] = "PowerBudget",
            ["metadata"] = new JsonObject { ["name"] = "rack-7", ["generation"] = 1, ["creationTimestamp"] = "2030-01-01T00:00:00Z" },
            ["spec"] = new JsonObject { ["nodeSelector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["rack"] = "r7" } }, ["budgetWatts"] = 3000 },
        });
        await reconciler.PassAsync(CancellationToken.None);
        Assert.Equal(["row-b"], power.Applied[^1].Select(d => d.Name));
        Assert.Equal(["b1", "b2"], power.Applied[^1][0].Nodes);
        Assert.Equal(("False", "NodesOverlap"), (Capping("rack-7", "status"), Capping("rack-7", "reason")));
        Assert.Contains("node b2 is in PowerBudget row-b", Capping("rack-7", "message"), StringComparison.Ordinal);

        // A refusal is in the condition, with the control plane's words.
        power.Refusal = "the control plane refused the domains (400): 'domains[0].name' ...";
        await reconciler.PassAsync(CancellationToken.None);
        Assert.Equal(("False", "NotApplied"), (Capping("row-b", "status"), Capping("row-b", "reason")));
        Assert.Contains("refused", Capping("row-b", "message"), StringComparison.Ordinal);
    }
}

public sealed class PowerBudgetLiveStatusTests : ApiServerTest
{
    /// <summary>The control plane's live domains as a test sets them (null: unreachable).</summary>
    internal sealed class StaticPowerStatus : IPowerStatusClient
    {
        public IReadOnlyDictionary<string, LivePower>? Live { get; set; }

        /// <summary>Each set the operator applied, in order.</summary>
        public List<IReadOnlyList<PowerDomainRequest>> Applied { get; } = [];

        /// <summary>What <see cref="ApplyAsync"/> answers: null (taken) or a refusal.</summary>
        public string? Refusal { get; set; }

        public Task<IReadOnlyDictionary<string, LivePower>?> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(Live);

        public Task<string?> ApplyAsync(IReadOnlyList<PowerDomainRequest> domains, CancellationToken cancellationToken)
        {
            Applied.Add(domains);
            return Task.FromResult(Refusal);
        }
    }

    [Fact]
    public async Task Pass_WithTheControlPlanesLiveDomains_WritesDrawAndCapsAndKeepsThemWhenItIsUnreachable()
    {
        Api.Put("inference.controlplane.dev", "powerbudgets", "", new JsonObject
        {
            ["apiVersion"] = "inference.controlplane.dev/v1alpha1", ["kind"] = "PowerBudget",
            ["metadata"] = new JsonObject { ["name"] = "row-a", ["generation"] = 1 },
            ["spec"] = new JsonObject { ["nodeSelector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["power-row"] = "a" } }, ["budgetWatts"] = 8000 },
        });
        var live = new StaticPowerStatus { Live = new Dictionary<string, LivePower> { ["row-a"] = new(7412.6, 3, "BatchCapped", 0) { Instances = 16 } } };
        var reconciler = new PowerBudgetReconciler(Client, TimeProvider.System, live);

        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));
        var status = Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!["status"]!;
        Assert.Equal(7413, status["drawWatts"]!.GetValue<long>());
        Assert.Equal(3, status["cappedInstances"]!.GetValue<int>());
        Assert.Equal(16, status["instances"]!.GetValue<int>());

        // A domain whose loop finds no instance on its nodes says so (workers without NODE_NAME, or none scheduled there).
        live.Live = new Dictionary<string, LivePower> { ["row-a"] = new(0, 0, "Uncapped", 0) { Instances = 0 } };
        Api.Put("", "nodes", "", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = "a1", ["labels"] = new JsonObject { ["power-row"] = "a" } },
            ["status"] = new JsonObject { ["capacity"] = new JsonObject { ["nvidia.com/gpu"] = "8" } },
        });
        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));
        var capping = Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!["status"]!["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "Capping")!;
        Assert.Equal("NoInstances", capping["reason"]!.GetValue<string>());
        await k8s.CoreV1OperationsExtensions.DeleteNodeAsync(Client.CoreV1, "a1");
        live.Live = new Dictionary<string, LivePower> { ["row-a"] = new(7412.6, 3, "BatchCapped", 0) { Instances = 16 } };
        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));

        live.Live = null; // the gateway is down: the last figures stay, nothing is written
        Assert.Equal(0, await reconciler.PassAsync(CancellationToken.None));
        Assert.Equal(7413, Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!["status"]!["drawWatts"]!.GetValue<long>());

        live.Live = new Dictionary<string, LivePower> { ["row-a"] = new(5000, 0, "Uncapped", 0) };
        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));
        Assert.Equal(0, Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!["status"]!["cappedInstances"]!.GetValue<int>());
        Assert.DoesNotContain(Api.List("", "events", "default"), e => e["reason"]?.GetValue<string>() == "EmergencyBrake");

        // Over budget with every cap in force: the brake is in the status, a condition and a Warning event.
        live.Live = new Dictionary<string, LivePower> { ["row-a"] = new(8350, 12, "Brake", 2) };
        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));
        status = Api.Get("inference.controlplane.dev", "powerbudgets", "", "row-a")!["status"]!;
        Assert.Equal("Brake", status["level"]!.GetValue<string>());
        Assert.Equal(2, status["brakes"]!.GetValue<int>());
        Assert.NotNull(status["lastBrakeTime"]);
        Assert.Contains(status["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "Braking" && c["status"]!.GetValue<string>() == "True");
        var brake = Assert.Single(Api.List("", "events", "default"), e => e["reason"]?.GetValue<string>() == "EmergencyBrake");
        Assert.Equal("Warning", brake["type"]!.GetValue<string>());
        Assert.Contains("2 new emergency brake(s)", brake["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The same two brakes seen again: no second event.
        live.Live = new Dictionary<string, LivePower> { ["row-a"] = new(7000, 12, "AllCapped", 2) };
        Assert.Equal(1, await reconciler.PassAsync(CancellationToken.None));
        Assert.Single(Api.List("", "events", "default"), e => e["reason"]?.GetValue<string>() == "EmergencyBrake");
    }
}
