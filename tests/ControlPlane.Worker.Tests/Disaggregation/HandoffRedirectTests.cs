using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Testing;
using ControlPlane.Worker.Tests.Migration;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Worker.Tests.Disaggregation;

/// <summary>
/// A split request whose decode instance refuses it goes to another decode instance, which the model's dispatcher picks
/// among those not tried (<c>Disaggregation:HandoffAttempts</c>), instead of decoding where it was prefilled; one prefill
/// and two decode instances of simulated engines, through the real gateway.
/// </summary>
public sealed class HandoffRedirectTests : IAsyncLifetime
{
    private readonly string _model = $"pd-{Guid.NewGuid():N}"[..12];
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(Settings);
        // The dispatcher splits only once the scheduler's snapshot shows the roles (from the instances' first reports).
        var scheduler = _host.Grains.GetGrain<ControlPlane.Grains.ISchedulerGrain>(_model);
        for (var i = 0; i < 200; i++)
        {
            var roles = (await scheduler.GetSnapshotAsync()).Instances.Where(l => l.Health == InstanceHealth.Ready).Select(l => l.Role).ToList();
            if (roles.Count(r => r == InstanceRole.Prefill) == 1 && roles.Count(r => r == InstanceRole.Decode) == 2)
                return;
            await Task.Delay(25);
        }
        Assert.Fail("the scheduler did not show one prefill and two decode instances within 5 s");
    }

    private Dictionary<string, string?> Settings => new()
    {
        ["ControlPlane:Models:0:Name"] = _model,
        ["ControlPlane:Models:0:Instances"] = "3",
        ["ControlPlane:Models:0:Roles:0"] = "prefill",
        ["ControlPlane:Models:0:Roles:1"] = "decode",
        ["ControlPlane:Models:0:Roles:2"] = "decode",
        ["ControlPlane:Migration:StageBlocks"] = "2",
        ["ControlPlane:Migration:Enabled"] = "false",
        ["ControlPlane:Disaggregation:MinPromptTokens"] = "100",
    };

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private EngineHost Engines => _host.App.Services.GetRequiredService<EngineHost>();

    private IReadOnlyList<EngineRunner> Runners => [.. Engines.Runners.Where(r => r.Descriptor.Model == _model)];

    [Fact]
    public async Task DecodeInstanceRefuses_TheHandoffGoesToTheOtherDecodeInstance()
    {
        var prefill = Runners.Single(r => r.Role == InstanceRole.Prefill);
        string? refusing = null;
        FaultyTarget? refused = null;
        prefill.Targets = id =>
        {
            if (refusing is not null && id != refusing)
                return Engines.TargetFor(id);
            refusing = id; // the dispatcher's pick refuses: too full for the request
            return refused = new FaultyTarget(Engines.TargetFor(id)) { AskBlocks = 1_000_000 };
        };

        await using var stream = await SseStream.StartAsync(_host.Http, Body(40));
        await stream.ReadToEndAsync();

        Assert.Equal("length", stream.Finish);
        Assert.NotNull(refused);
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        Assert.Equal(RequestPhase.Finished, status.Phase);
        Assert.Contains(RequestPhase.Transferring, status.History);
        var other = Runners.Single(r => r.Role == InstanceRole.Decode && r.Descriptor.InstanceId != refusing);
        Assert.Equal([prefill.Descriptor.InstanceId, other.Descriptor.InstanceId], status.Instances);
        await WaitIdleAsync();
    }

    [Fact]
    public async Task EveryDecodeInstanceRefuses_TheRequestDecodesWhereItWasPrefilled()
    {
        var prefill = Runners.Single(r => r.Role == InstanceRole.Prefill);
        var asked = new List<string>();
        prefill.Targets = id =>
        {
            lock (asked)
                asked.Add(id);
            return new FaultyTarget(Engines.TargetFor(id)) { AskBlocks = 1_000_000 };
        };

        await using var stream = await SseStream.StartAsync(_host.Http, Body(40));
        await stream.ReadToEndAsync();

        Assert.Equal("length", stream.Finish);
        // Both decode instances asked once each (three attempts allowed, two instances to try), then it stays.
        Assert.Equal(Runners.Where(r => r.Role == InstanceRole.Decode).Select(r => r.Descriptor.InstanceId).Order(), asked.Order());
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        Assert.Equal([prefill.Descriptor.InstanceId], status.Instances.Distinct());
        await WaitIdleAsync();
    }

    /// <summary>Waits until no engine holds a request, a handoff in or out, or a KV block: nothing leaked anywhere.</summary>
    private async Task WaitIdleAsync()
    {
        for (var i = 0; i < 200 && !Runners.All(Idle); i++)
            await Task.Delay(25);
        Assert.All(Runners, r => Assert.True(Idle(r), $"{r.Descriptor.InstanceId}: active={r.ActiveRequests} in={r.MigrationsIn} out={r.HandoffsOut} blocks={r.Load.UsedKvBlocks}"));

        static bool Idle(EngineRunner r) => r.ActiveRequests == 0 && r.MigrationsIn == 0 && r.HandoffsOut == 0 && r.Load.UsedKvBlocks == 0;
    }

    private string Body(int maxTokens) =>
        $$"""{"model":"{{_model}}","prompt":[{{string.Join(",", Enumerable.Range(0, 300).Select(i => 3 + i * 11 % 200))}}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"stream":true}""";
}
