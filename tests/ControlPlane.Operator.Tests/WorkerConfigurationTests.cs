using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

public sealed class WorkerConfigurationTests : ApiServerTest
{


    private string Hash() => Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["metadata"]!["annotations"]![DesiredObjects.ConfigHashAnnotation]!.GetValue<string>();

    [Fact]
    public async Task Config_IsAConfigMapTheWorkersMount_AndAChangeRollsThem()
    {
        Api.Put("inference.controlplane.dev", "modelservices", Ns, new JsonObject
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

        var settings = JsonDocument.Parse(Api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>()).RootElement;
        var model = settings.GetProperty("ControlPlane").GetProperty("Models")[0];
        Assert.Equal("llama-3-8b", model.GetProperty("Name").GetString());
        Assert.Equal("/models/llama-3-8b", model.GetProperty("Path").GetString());
        Assert.Equal("cuda", model.GetProperty("Device").GetString());
        var pod = Api.Get("apps", "statefulsets", Ns, "llama-mixed")!["spec"]!["template"]!["spec"]!;
        Assert.Equal("llama-config", pod["volumes"]![0]!["configMap"]!["name"]!.GetValue<string>());
        var before = Hash();

        await PatchAsync($"apis/inference.controlplane.dev/v1alpha1/namespaces/{Ns}/modelservices/llama", "{\"spec\":{\"model\":{\"source\":\"/models/llama-3.1-8b\"}}}");
        await PassAsync();

        Assert.Contains("llama-3.1-8b", Api.Get("", "configmaps", Ns, "llama-config")!["data"]!["appsettings.json"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotEqual(before, Hash());
    }
}
