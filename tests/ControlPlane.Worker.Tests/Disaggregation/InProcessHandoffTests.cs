using System.Diagnostics;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Testing;
using ControlPlane.Worker.Engines;
using ControlPlane.Worker.Tests.Migration;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Worker.Tests.Disaggregation;

/// <summary>
/// Prefill/decode disaggregation between two TorchSharp engines (tiny random Llama, CPU, greedy) in one process,
/// through the real gateway: instance 0 is a prefill instance, instance 1 a decode instance. A long prompt prefills on
/// the first in chunks, its blocks go to the second while it does, and the second decodes; the client's tokens equal
/// those of the same request run on one engine. Each failure of the handoff leaves the request decoding where it was
/// prefilled, with no KV block left anywhere.
/// </summary>
public sealed class InProcessHandoffTests : IAsyncLifetime
{
    private const string Model = "tiny";
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        TorchSharp.torch.set_num_threads(1);
        ThreadPool.SetMinThreads(Math.Max(8, Environment.ProcessorCount), 8);
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "1",
            ["ControlPlane:Models:1:Name"] = Model,
            ["ControlPlane:Models:1:Engine"] = "torchsharp",
            ["ControlPlane:Models:1:Path"] = "builtin:tiny-random",
            ["ControlPlane:Models:1:Instances"] = "2",
            ["ControlPlane:Models:1:Roles:0"] = "prefill",
            ["ControlPlane:Models:1:Roles:1"] = "decode",
            ["ControlPlane:Models:1:KvBlocks"] = "256",
            ["ControlPlane:Models:1:MaxContextTokens"] = "1024",
            // A 600-token prompt prefills in 38 steps of at most 16 tokens; its blocks go over in parts of two.
            ["ControlPlane:Models:1:MaxBatchedTokens"] = "16",
            ["ControlPlane:Migration:StageBlocks"] = "2",
            ["ControlPlane:Migration:Enabled"] = "false",
            ["ControlPlane:Disaggregation:MinPromptTokens"] = "100",
        }, [new TorchEngineBackend()]);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private EngineHost Engines => _host.App.Services.GetRequiredService<EngineHost>();

    private EngineRunner Prefill => Engines.Runners.Single(r => r.Descriptor.Model == Model && r.Role == InstanceRole.Prefill);

    private EngineRunner Decode => Engines.Runners.Single(r => r.Descriptor.Model == Model && r.Role == InstanceRole.Decode);

    [Fact]
    public async Task LongPrompt_PrefillsOnThePrefillInstance_DecodesOnTheDecodeInstance_WithTheTokensOfAColocatedRun()
    {
        FaultyTarget? target = null;
        Prefill.Targets = id => target = new FaultyTarget(Engines.TargetFor(id));
        await using var stream = await SseStream.StartAsync(_host.Http, Body(300));
        await stream.ReadToEndAsync();
        var colocated = await ColocatedAsync();

        Assert.Equal(colocated.Text, stream.Text.ToString());
        Assert.Equal(colocated.Finish, stream.Finish);
        Assert.NotNull(target);
        // The blocks of the first prefill chunks went over before the first token reached the client: the copy overlaps the prefill.
        Assert.True(target.Stages >= 10, $"a 600-token prompt in 2-block parts goes over in many parts (got {target.Stages})");
        Assert.True(target.FirstStageAt < stream.FirstChunkAt,
            $"the first part went {Stopwatch.GetElapsedTime(stream.FirstChunkAt, target.FirstStageAt).TotalMilliseconds:F1} ms after the first token reached the client ({target.Stages} parts)");
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        Assert.Equal(RequestPhase.Finished, status.Phase);
        AssertInOrder(status.History, RequestPhase.Prefilling, RequestPhase.Transferring, RequestPhase.Decoding);
        Assert.Equal([Prefill.Descriptor.InstanceId, Decode.Descriptor.InstanceId], status.Instances);
        await WaitIdleAsync();
        Assert.Equal(0, Prefill.HandoffsOut);
    }

    [Fact]
    public async Task ShortPrompt_IsNotSplit_ItRunsWhereItDecodes()
    {
        var body = $$"""{"model":"{{Model}}","prompt":[5,6,7,8,9,10,11,12],"max_tokens":20,"temperature":0,"ignore_eos":true,"stream":true}""";
        await using var stream = await SseStream.StartAsync(_host.Http, body);
        await stream.ReadToEndAsync();
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        Assert.Equal([Decode.Descriptor.InstanceId], status.Instances);
        Assert.DoesNotContain(RequestPhase.Transferring, status.History);
    }

    [Fact]
    public async Task DecodeInstanceRefuses_TheRequestDecodesWhereItWasPrefilled()
    {
        await ExpectDecodesOnPrefillAsync(inner => new FaultyTarget(inner) { AskBlocks = 1_000_000 }, transferred: false);
    }

    [Fact]
    public async Task DecodeInstanceDiesMidHandoff_TheRequestDecodesWhereItWasPrefilled()
    {
        await ExpectDecodesOnPrefillAsync(inner => new FaultyTarget(inner)
        {
            BeforeStage = stage => stage == 1 ? throw new IOException("connection reset by peer (injected)") : Task.CompletedTask,
        }, transferred: null, expectCancel: true);
    }

    [Fact]
    public async Task DecodeInstanceRefusesTheLastPart_TheRequestDecodesWhereItWasPrefilled()
    {
        await ExpectDecodesOnPrefillAsync(inner => new FaultyTarget(inner)
        {
            MutateLast = part => part with { Header = part.Header with { TokenIds = [.. part.Header.TokenIds.Select(t => t ^ 1)] } },
        }, transferred: true);
    }

    [Fact]
    public async Task ClientDisconnectsMidHandoff_NothingIsLeftAnywhere()
    {
        var started = new TaskCompletionSource<SseStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        Prefill.Targets = id => new FaultyTarget(Engines.TargetFor(id))
        {
            BeforeStage = async stage =>
            {
                if (stage != 1)
                    return;
                await (await started.Task).DisposeAsync();
                await WaitUntilAsync(() => Prefill.ActiveRequests == 0, "the gateway's cancel reaches the prefill instance");
            },
        };
        started.SetResult(await SseStream.StartAsync(_host.Http, Body(300)));
        await WaitIdleAsync();
        Assert.Equal(0, Decode.MigrationsIn);
        Assert.Equal(0, Prefill.HandoffsOut);
    }

    /// <param name="faulty">The fault.</param>
    /// <param name="transferred">Whether the request reached the transferring phase (null: it depends on how far the prefill got).</param>
    /// <param name="expectCancel">Whether the decode instance must have been told to drop what it took.</param>
    private async Task ExpectDecodesOnPrefillAsync(Func<IMigrationTarget, FaultyTarget> faulty, bool? transferred, bool expectCancel = false)
    {
        FaultyTarget? target = null;
        Prefill.Targets = id => target = faulty(Engines.TargetFor(id));
        await using var stream = await SseStream.StartAsync(_host.Http, Body(300));
        await stream.ReadToEndAsync();
        await WaitIdleAsync();
        var colocated = await ColocatedAsync();

        Assert.Equal(colocated.Text, stream.Text.ToString());
        Assert.Equal(colocated.Finish, stream.Finish);
        Assert.NotNull(target);
        if (expectCancel)
            Assert.True(target.Cancels > 0, "the decode instance was told to drop what it took");
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        Assert.Equal(RequestPhase.Finished, status.Phase);
        Assert.Equal([Prefill.Descriptor.InstanceId], status.Instances.Distinct());
        if (transferred is { } expected)
            Assert.Equal(expected, status.History.Contains(RequestPhase.Transferring));
        Assert.Equal(0, Decode.MigrationsIn);
        await WaitIdleAsync();
        Assert.Equal(0, Prefill.HandoffsOut);
    }

    /// <summary>
    /// The same request run on one engine: the prefill instance cannot hand it on, so it decodes where it prefilled. Run
    /// after the request under test: its prompt's blocks then stay cached on the prefill instance, and the request under
    /// test must prefill in full, in chunks.
    /// </summary>
    private async Task<(string Text, string? Finish)> ColocatedAsync()
    {
        Prefill.Targets = null;
        var started = Stopwatch.StartNew();
        await using var stream = await SseStream.StartAsync(_host.Http, Body(300));
        await stream.ReadToEndAsync();
        var status = await _host.StatusAsync(stream.Id!, RequestPhase.Finished);
        // On one engine: the prefill instance (it cannot hand off now), or the decode instance when the run before left the
        // whole prompt cached there (a cached prompt is not split).
        Assert.Single(status.Instances.Distinct());
        Console.WriteLine($"colocated run of 300 tokens: {started.ElapsedMilliseconds} ms");
        await WaitIdleAsync();
        return (stream.Text.ToString(), stream.Finish);
    }

    /// <summary>Waits until neither engine holds a request, an incoming or outgoing handoff, or a KV block: nothing leaked.</summary>
    private Task WaitIdleAsync() => WaitUntilAsync(
        () => Prefill.ActiveRequests == 0 && Decode.ActiveRequests == 0 && Decode.MigrationsIn == 0 && Prefill.HandoffsOut == 0
            && Prefill.Load.UsedKvBlocks == 0 && Decode.Load.UsedKvBlocks == 0,
        "both engines are idle with no KV block held");

    private async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 400; i++)
        {
            if (condition())
                return;
            await Task.Delay(25);
        }
        Assert.Fail($"timed out waiting until {what}: " + string.Join(", ", new[] { Prefill, Decode }.Select(r =>
            $"{r.Descriptor.InstanceId} active={r.ActiveRequests} in={r.MigrationsIn} out={r.HandoffsOut} blocks={r.Load.UsedKvBlocks}")));
    }

    private static void AssertInOrder(IReadOnlyList<RequestPhase> history, params RequestPhase[] phases)
    {
        var at = -1;
        foreach (var phase in phases)
        {
            var next = history.Skip(at + 1).ToList().IndexOf(phase);
            Assert.True(next >= 0, $"{phase} is not after position {at} in [{string.Join(", ", history)}]");
            at += next + 1;
        }
    }

    private static string Body(int maxTokens) =>
        $$"""{"model":"{{Model}}","prompt":[{{string.Join(",", Enumerable.Range(0, 600).Select(i => 3 + i * 11 % 200))}}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"stream":true}""";
}
