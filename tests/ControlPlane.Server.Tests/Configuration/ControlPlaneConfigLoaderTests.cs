using ControlPlane.Server.Configuration;
using ControlPlane.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace ControlPlane.Server.Tests.Configuration;

public class ControlPlaneConfigLoaderTests
{
    private static IConfiguration Settings(params (string Key, string Value)[] pairs)
    {
        var all = new Dictionary<string, string?> { ["ControlPlane:Models:0:Name"] = "m" };
        foreach (var (key, value) in pairs)
            all[key] = value;
        return new ConfigurationBuilder().AddInMemoryCollection(all).Build();
    }

    private static ConfigurationException Fails(params (string, string)[] pairs) =>
        Assert.Throws<ConfigurationException>(() => ControlPlaneConfigLoader.Load(Settings(pairs)));

    [Fact]
    public void Load_Defaults_IsEmbeddedLeastKvUsage()
    {
        var config = ControlPlaneConfigLoader.Load(Settings());
        Assert.Equal("Embedded", config.Cluster.Mode);
        Assert.Equal("prefix-aware", config.Dispatch.Policy);
        Assert.Equal("m", Assert.Single(config.Models).Name);
    }

    [Fact]
    public void Load_PriorityClasses_BindAndAreChecked()
    {
        var config = ControlPlaneConfigLoader.Load(Settings(("ControlPlane:Models:0:PriorityClasses:0:Name", "chat"),
            ("ControlPlane:Models:0:PriorityClasses:0:ServiceClass", "interactive"), ("ControlPlane:Models:0:PriorityClasses:0:Priority", "10"),
            ("ControlPlane:Models:0:PriorityClasses:1:Name", "bulk"), ("ControlPlane:Models:0:PriorityClasses:1:ServiceClass", "batch")));
        Assert.Equal([new ControlPlane.Requests.PriorityClass("chat", ControlPlane.Requests.ServiceClass.Interactive, 10),
            new ControlPlane.Requests.PriorityClass("bulk", ControlPlane.Requests.ServiceClass.Batch, 0)], config.Models[0].PriorityClasses.Select(c => c.ToClass()));

        var ex = Fails(("ControlPlane:Models:0:PriorityClasses:0:Name", "chat"), ("ControlPlane:Models:0:PriorityClasses:0:ServiceClass", "gold"),
            ("ControlPlane:Models:0:PriorityClasses:1:Name", "chat"), ("ControlPlane:Models:0:PriorityClasses:1:Priority", "1001"));
        Assert.Equal(3, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Contains("PriorityClasses:0:ServiceClass 'gold'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("PriorityClasses:1:Name 'chat' is defined twice", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("PriorityClasses:1:Priority must be from -1000 to 1000", StringComparison.Ordinal));

        var twoDefaults = Fails(("ControlPlane:Models:0:PriorityClasses:0:Name", "a"), ("ControlPlane:Models:0:PriorityClasses:0:Default", "true"),
            ("ControlPlane:Models:0:PriorityClasses:1:Name", "b"), ("ControlPlane:Models:0:PriorityClasses:1:Default", "true"));
        Assert.Contains("marks 2 classes Default; at most one", Assert.Single(twoDefaults.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownMode_NamesTheKey()
    {
        var ex = Fails(("ControlPlane:Cluster:Mode", "Zookeeper"));
        Assert.Contains("ControlPlane:Cluster:Mode 'Zookeeper'", Assert.Single(ex.Errors));
    }

    [Fact]
    public void Load_RedisModeWithoutConnection_SaysWhichKeyIsMissing()
    {
        var ex = Fails(("ControlPlane:Cluster:Mode", "Redis"));
        Assert.Contains("ControlPlane:Cluster:Redis is required", Assert.Single(ex.Errors));
    }

    [Fact]
    public void Load_KubernetesHostingOutsideRedisMode_IsRejected()
    {
        var ex = Fails(("ControlPlane:Cluster:KubernetesHosting", "true"));
        Assert.Contains("ControlPlane:Cluster:KubernetesHosting needs ControlPlane:Cluster:Mode Redis", Assert.Single(ex.Errors));
    }

    [Theory]
    [InlineData("ControlPlane:Cluster:Roles", "control,gpu", "ControlPlane:Cluster:Roles names 'gpu'")]
    [InlineData("ControlPlane:Cluster:Roles", "worker", "must be both control and worker in Embedded mode")]
    [InlineData("ControlPlane:Cluster:PodName", "pod/1", "ControlPlane:Cluster:PodName 'pod/1' must be non-empty and hold no '/'")]
    [InlineData("ControlPlane:Cluster:MissedProbesLimit", "0", "ControlPlane:Cluster:MissedProbesLimit must be at least 1")]
    [InlineData("ControlPlane:Worker:DrainTimeout", "-00:00:01", "ControlPlane:Worker:DrainTimeout must not be negative")]
    public void Load_BadClusterRoleOrWorkerSetting_NamesTheKey(string key, string value, string message)
    {
        var ex = Fails((key, value));
        Assert.Contains(message, Assert.Single(ex.Errors));
    }

    [Fact]
    public void Load_RolesInRedisMode_ResolveToFlags()
    {
        var config = ControlPlaneConfigLoader.Load(Settings(("ControlPlane:Cluster:Mode", "Redis"), ("ControlPlane:Cluster:Redis", "localhost:6379"), ("ControlPlane:Cluster:Roles", "worker")));
        Assert.Equal(ControlPlane.Grains.Placement.SiloRoles.Worker, config.Cluster.ResolveRoles());
    }

    [Fact]
    public void Load_MisspelledKey_IsRejectedByName()
    {
        var ex = Fails(("ControlPlane:Dispach:Policy", "round-robin"));
        Assert.Contains("Dispach", ex.Message);
    }

    [Fact]
    public void Load_NotANumber_NamesTheKey()
    {
        var ex = Fails(("ControlPlane:Cluster:SiloPort", "eleven"));
        Assert.Contains("ControlPlane:Cluster:SiloPort", ex.Message);
    }

    [Fact]
    public void Load_SeveralBadValues_ReportsAllOfThem()
    {
        var ex = Fails(
            ("ControlPlane:Dispatch:Policy", "fastest"),
            ("ControlPlane:Models:0:Engine", "vllm"),
            ("ControlPlane:Models:0:ChatTemplate", "alpaca"),
            ("ControlPlane:Models:0:Profile", "no-such-profile"),
            ("ControlPlane:Models:1:Name", "m"),
            ("ControlPlane:Gateway:MaxInFlightRequests", "0"));
        Assert.Equal(6, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Dispatch:Policy 'fastest'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Models:0:Engine 'vllm'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Models:0:ChatTemplate 'alpaca'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Models:0:Profile", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Models:1:Name 'm' is served twice", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("ControlPlane:Gateway:MaxInFlightRequests", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_BadConfiguration_FailsBeforeStarting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => ControlPlaneHost.Build([], c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ControlPlane:Dispatch:Profile:Picker"] = "best",
        })));
        Assert.Contains("ControlPlane:Dispatch:Profile:Picker 'best'", ex.Message);
    }

    [Theory]
    [InlineData("ControlPlane:Auth:Mode", "Secret", "ControlPlane:Auth:Mode 'Secret'")]
    [InlineData("ControlPlane:Auth:AdminKeyHashes:0", "hunter2", "AdminKeyHashes holds 'hunter2'")]
    [InlineData("ControlPlane:Auth:Anonymous:MaxServiceTier", "gold", "MaxServiceTier 'gold'")]
    [InlineData("ControlPlane:Auth:Anonymous:Weight", "0", "Weight must be positive")]
    [InlineData("ControlPlane:Auth:TenantsFile", "/no/such/tenants.json", "TenantsFile '/no/such/tenants.json'")]
    [InlineData("ControlPlane:Gateway:MaxRequestBodyBytes", "10", "MaxRequestBodyBytes must be at least 1024")]
    [InlineData("ControlPlane:Models:0:PowerActuator", "nvml", "PowerActuator 'nvml' needs the torchsharp engine on cuda")]
    [InlineData("ControlPlane:Models:0:PowerActuator", "rapl", "PowerActuator 'rapl' is not none or nvml")]
    public void Load_BadAuthOrLimit_NamesTheKey(string key, string value, string message)
    {
        var ex = Fails((key, value));
        Assert.Contains(ex.Errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Load_KeysModeWithoutTenants_IsRejected()
    {
        var ex = Fails(("ControlPlane:Auth:Mode", "Keys"));
        Assert.Contains(ex.Errors, e => e.Contains("no tenant is configured", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_TenantsFile_AddsItsTenants_AndTwoTenantsMayNotShareAKey()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("tenants-").FullName, "tenants.json");
        var hash = ControlPlane.Server.Gateway.Tenants.TenantDirectory.Hash("sk-one");
        File.WriteAllText(file, $$"""{"Tenants": [{"Name": "x", "KeyHashes": ["{{hash}}"]}]}""");
        var config = ControlPlaneConfigLoader.Load(Settings(("ControlPlane:Auth:Mode", "Keys"), ("ControlPlane:Auth:TenantsFile", file)));
        Assert.Equal(file, config.Auth.TenantsFile);
        var ex = Fails(("ControlPlane:Auth:TenantsFile", file), ("ControlPlane:Auth:Tenants:0:Name", "y"), ("ControlPlane:Auth:Tenants:0:KeyHashes:0", hash));
        Assert.Contains(ex.Errors, e => e.Contains("a key another tenant also has", StringComparison.Ordinal));
    }
}
