using k8s;
using k8s.Models;

namespace ControlPlane.Charts.Tests;

public class ChartTests
{
    /// <summary>The typed KubernetesClient model for every kind the chart renders (ServiceMonitor aside: its CRD is not in the client).</summary>
    private static readonly Dictionary<string, Type> Kinds = new()
    {
        ["v1/ServiceAccount"] = typeof(V1ServiceAccount),
        ["v1/Service"] = typeof(V1Service),
        ["v1/ConfigMap"] = typeof(V1ConfigMap),
        ["v1/Secret"] = typeof(V1Secret),
        ["apps/v1/Deployment"] = typeof(V1Deployment),
        ["policy/v1/PodDisruptionBudget"] = typeof(V1PodDisruptionBudget),
        ["rbac.authorization.k8s.io/v1/Role"] = typeof(V1Role),
        ["rbac.authorization.k8s.io/v1/RoleBinding"] = typeof(V1RoleBinding),
        ["rbac.authorization.k8s.io/v1/ClusterRole"] = typeof(V1ClusterRole),
        ["rbac.authorization.k8s.io/v1/ClusterRoleBinding"] = typeof(V1ClusterRoleBinding),
        ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(object),
    };

    public static TheoryData<string, string[]> ValueSets => new()
    {
        { "defaults", [] },
        { "every option on", ["--set", "serviceMonitor.enabled=true,grafanaDashboard.enabled=true,operator.replicas=3,control.replicas=3,gateway.service.type=LoadBalancer"] },
        { "external redis, no operator", ["--set", "redis.enabled=false,redis.external.address=redis.example:6379,operator.enabled=false"] },
        { "tenants given, open mode", ["--set", "auth.mode=Open,auth.tenants[0].name=a,auth.tenants[0].keyHashes[0]=sha256:" + new string('a', 64) + ",auth.tenants[0].requestsPerMinute=60"] },
    };

    [Fact]
    public void Lint_Strict_IsClean()
    {
        var (exit, output) = Repository.RunHelm("lint", "--strict", Repository.Chart);
        Assert.True(exit == 0, output);
        Assert.DoesNotContain("[WARNING]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[ERROR]", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Template_RendersManifestsThatDeserializeStrictlyIntoTypedModels(string name, string[] values)
    {
        var (exit, output) = Repository.RunHelm(["template", "cp", Repository.Chart, "--namespace", "serving", .. values]);
        Assert.True(exit == 0, $"{name}: {output}");
        var documents = output.Split("\n---", StringSplitOptions.RemoveEmptyEntries).Where(d => d.Contains("kind:", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(documents);
        foreach (var document in documents)
        {
            var meta = KubernetesYaml.Deserialize<KubernetesObject>(document);
            var key = $"{meta.ApiVersion}/{meta.Kind}";
            Assert.True(Kinds.TryGetValue(key, out var type), $"{name}: the chart renders {key}, which the test does not know");
            if (type == typeof(object))
                continue;
            // strict: a field the typed model does not have is an error, not silently dropped.
            var typed = typeof(KubernetesYaml).GetMethods().Single(m => m.Name == "Deserialize" && m.IsGenericMethod && m.GetParameters().Length == 2 && m.GetParameters()[0].ParameterType == typeof(string))
                .MakeGenericMethod(type).Invoke(null, [document, true]);
            Assert.NotNull(typed);
        }
        Assert.Contains(documents, d => d.Contains("kind: Deployment", StringComparison.Ordinal) && d.Contains("-control", StringComparison.Ordinal));
    }

    [Fact]
    public void Template_ExternalRedisWithoutAddress_FailsWithTheValueNamed()
    {
        var (exit, output) = Repository.RunHelm("template", "cp", Repository.Chart, "--set", "redis.enabled=false");
        Assert.NotEqual(0, exit);
        Assert.Contains("redis.external.address is required", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Template_UnknownValue_IsRejectedByTheValuesSchema()
    {
        var (exit, output) = Repository.RunHelm("template", "cp", Repository.Chart, "--set", "control.dispatchPolicy=fastest");
        Assert.NotEqual(0, exit);
        Assert.Contains("dispatchPolicy", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Template_Keys_AreInASecret_TheControlPodsReadHashesOnly_AndTheOperatorHasTheAdminKey()
    {
        var (exit, output) = Repository.RunHelm("template", "cp", Repository.Chart, "--namespace", "serving");
        Assert.True(exit == 0, output);
        var documents = output.Split("\n---", StringSplitOptions.RemoveEmptyEntries);
        var secret = KubernetesYaml.Deserialize<V1Secret>(documents.Single(d => d.Contains("kind: Secret", StringComparison.Ordinal)));
        var apiKey = System.Text.Encoding.UTF8.GetString(secret.Data["api-key"]);
        var adminKey = System.Text.Encoding.UTF8.GetString(secret.Data["admin-key"]);
        Assert.StartsWith("sk-", apiKey, StringComparison.Ordinal);
        Assert.True(adminKey.Length >= 32);
        using var tenants = System.Text.Json.JsonDocument.Parse(secret.Data["tenants.json"]);
        var hash = tenants.RootElement.GetProperty("Tenants")[0].GetProperty("KeyHashes")[0].GetString();
        Assert.Equal(Sha256(apiKey), hash);
        Assert.Equal(Sha256(adminKey), System.Text.Encoding.UTF8.GetString(secret.Data["admin-key-hash"]));

        var control = KubernetesYaml.Deserialize<V1Deployment>(documents.Single(d => d.Contains("kind: Deployment", StringComparison.Ordinal) && d.Contains("name: cp-control", StringComparison.Ordinal)));
        var env = control.Spec.Template.Spec.Containers[0].Env;
        Assert.Equal("Keys", env.Single(e => e.Name == "ControlPlane__Auth__Mode").Value);
        // The shutdown grace the gateway keeps is inside the pod's grace period.
        Assert.Equal("00:00:30", env.Single(e => e.Name == "ControlPlane__Gateway__ShutdownGrace").Value);
        Assert.Equal(45, control.Spec.Template.Spec.TerminationGracePeriodSeconds);
        Assert.Equal("admin-key-hash", env.Single(e => e.Name == "ControlPlane__Auth__AdminKeyHashes__0").ValueFrom.SecretKeyRef.Key);
        // The control pods mount the tenants (hashes), never the keys themselves.
        Assert.Equal(["tenants.json"], control.Spec.Template.Spec.Volumes.Single(v => v.Name == "keys").Secret.Items.Select(i => i.Key));
        var op = KubernetesYaml.Deserialize<V1Deployment>(documents.Single(d => d.Contains("kind: Deployment", StringComparison.Ordinal) && d.Contains("name: cp-operator", StringComparison.Ordinal)));
        Assert.Equal("admin-key", op.Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "ControlPlane__AdminKey").ValueFrom.SecretKeyRef.Key);
    }

    private static string Sha256(string key) =>
        "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));
}
