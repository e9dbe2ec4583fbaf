using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Grains;
using ControlPlane.Grains.Scheduling;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>
/// A model's own migration setting (<c>Models:N:Migration</c>, a ModelService's <c>migration.enabled</c>) decides whether
/// its scheduler live-migrates its requests, over the silo's <c>ControlPlane:Migration:Enabled</c>: a request on an
/// instance that drains moves to the other instance, or finishes where it is.
/// </summary>
public class ModelMigrationSettingTests
{
    [Theory]
    [InlineData("false", "true", true)]
    [InlineData("true", "false", false)]
    [InlineData("true", null, true)]
    public async Task ModelsSetting_DecidesWhetherADrainMovesItsRequests(string silo, string? model, bool moves)
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "2",
            ["ControlPlane:Models:0:Profile"] = TestProfile.SlowPath, // 50 ms steps: the request runs for seconds
            ["ControlPlane:Models:0:Migration"] = model,
            ["ControlPlane:Migration:Enabled"] = silo,
        });
        using var body = new StringContent("""{"model":"sim","max_tokens":80,"ignore_eos":true,"prompt":"a long story"}""", Encoding.UTF8, "application/json");
        var request = host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), body);
        Assert.True(await host.AnyRunningAsync());
        var busy = (await host.LoadsAsync()).Single(l => l.RunningRequests > 0).InstanceId;

        await host.Grains.GetGrain<IInstanceGrain>(busy).DrainAsync();
        using var response = await request;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(80, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var status = await host.StatusAsync(json.RootElement.GetProperty("id").GetString()!, RequestPhase.Finished);
        Assert.Equal(busy, status.Instances[0]);
        if (moves)
            Assert.True(status.Instances.Count >= 2 && status.Instances[^1] != busy, $"the request stayed on {string.Join(", ", status.Instances)}");
        else
            Assert.Equal([busy], status.Instances);
    }

    [Fact]
    public void MigrationOn_InstancesSettingsOverTheSilos_AnyNoWins()
    {
        static InstanceDescriptor With(bool? migration) => new() { InstanceId = Guid.NewGuid().ToString(), Model = "m", Migration = migration };
        Assert.True(SchedulerGrain.MigrationOn([], configured: true));
        Assert.False(SchedulerGrain.MigrationOn([With(null)], configured: false));
        Assert.True(SchedulerGrain.MigrationOn([With(null), With(true)], configured: false));
        Assert.False(SchedulerGrain.MigrationOn([With(true), With(false)], configured: true)); // mid-way through a rolling change: off
    }
}
