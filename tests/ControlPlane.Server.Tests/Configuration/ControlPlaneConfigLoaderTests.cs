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
        Assert.Equal("least-kv-usage", config.Dispatch.Policy);
        Assert.Equal("m", Assert.Single(config.Models).Name);
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
}
