using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Grains.Engines;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Testing;
using ControlPlane.Transfer;
using ControlPlane.Worker.Engines;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Worker.Tests.Migration;

/// <summary>
/// Live migration between two TorchSharp engines (tiny random Llama, CPU, greedy) in one process, through the real
/// gateway: the client's stream continues with exactly the tokens of a run that did not move, and each failure before
/// the commit leaves the request finishing on its source with no KV block left anywhere.
/// </summary>
public sealed class InProcessMigrationTests : IAsyncLifetime
{
    private const string Model = "tiny";
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        // On two cores the engine's loop and libtorch's threads can starve the test's reader for a second, long enough
        // for a whole stream to finish unread: one libtorch thread, and pool threads at hand.
        TorchSharp.torch.set_num_threads(1);
        ThreadPool.SetMinThreads(Math.Max(8, Environment.ProcessorCount), 8);
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["ControlPlane:Models:0:Instances"] = "1",
            ["ControlPlane:Models:1:Name"] = Model,
            ["ControlPlane:Models:1:Engine"] = "torchsharp",
            ["ControlPlane:Models:1:Path"] = "builtin:tiny-random",
            ["ControlPlane:Models:1:Instances"] = "2",
            ["ControlPlane:Models:1:KvBlocks"] = "256",
            ["ControlPlane:Models:1:MaxContextTokens"] = "1024",
            // Small stages, so that even a short context moves in several; the planner stays out of the way.
            ["ControlPlane:Migration:StageBlocks"] = "4",
            ["ControlPlane:Migration:Enabled"] = "false",
        }, [new TorchEngineBackend()]);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private IReadOnlyList<EngineRunner> Runners =>
        [.. _host.App.Services.GetRequiredService<EngineHost>().Runners.Where(r => r.Descriptor.Model == Model).OrderBy(r => r.Descriptor.InstanceId, StringComparer.Ordinal)];

    [Fact]
    public async Task MigrateMidDecode_TheStreamGoesOnWithTheSameTokens_AndTheDestinationFinishesIt()
    {
        var baseline = await RunAsync(maxTokens: 800);
        await using var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        await using var target = new FaultyTarget(_host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId));
        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, stream.Id, CancellationToken.None);

        Assert.Equal(MigrationOutcome.Committed, result.Outcome);
        Assert.True(result.Stages >= 2, $"a 200-token context in 4-block stages moves in several stages (got {result.Stages})");
        Assert.True(result.Blocks >= 13, $"every block of the context moves (got {result.Blocks})");
        Assert.True(result.Bytes > 0, "the blocks' keys and values move (device to device here)");
        Assert.False(await source.HoldsAsync(stream.Id!));
        Assert.True(await destination.HoldsAsync(stream.Id!));
        await stream.ReadToEndAsync();
        Assert.Equal(baseline.Text, stream.Text.ToString());
        Assert.Equal(baseline.Finish, stream.Finish);
        // The request grain records the migrating phase and both instances.
        var status = await _host.StatusAsync(stream.Id!, ControlPlane.Requests.RequestPhase.Finished);
        Assert.Equal(ControlPlane.Requests.RequestPhase.Finished, status.Phase);
        Assert.Contains(ControlPlane.Requests.RequestPhase.Migrating, status.History);
        Assert.Equal([source.Descriptor.InstanceId, destination.Descriptor.InstanceId], status.Instances);
        await WaitIdleAsync();
    }

    [Fact]
    public async Task DestinationCannotOpenADeviceHandle_TakesNothingIn_AndTheSamePartsAsBytesCompleteTheMigration()
    {
        var baseline = await RunAsync(maxTokens: 800);
        await using var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        await using var target = new HandleFirstTarget(_host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId), destination);

        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, stream.Id, CancellationToken.None);

        Assert.Equal(MigrationOutcome.Committed, result.Outcome);
        Assert.True(target.HandlesRefused >= 2, $"each staged part's handle is refused before its bytes go (refused {target.HandlesRefused})");
        Assert.Contains("host memory", target.Reason);
        await stream.ReadToEndAsync();
        Assert.Equal(baseline.Text, stream.Text.ToString());
        await WaitIdleAsync();
    }

    /// <summary>
    /// What a worker on another GPU does to this CPU destination: each staged part comes first as a device handle (which
    /// a cache in host memory cannot open), then, as the KV stream's sender does on that answer, as bytes.
    /// </summary>
    private sealed class HandleFirstTarget(IMigrationTarget inner, EngineRunner destination) : IMigrationTarget
    {
        public int HandlesRefused { get; private set; }
        public string? Reason { get; private set; }
        public string InstanceId => inner.InstanceId;

        public string Silo => inner.Silo;
        public bool DeviceParts => false;

        public Task BeginAsync(ControlPlane.Requests.RequestSpec request, ControlPlane.Tokens.ITokenSink sink, int blocks, CancellationToken cancellationToken) =>
            inner.BeginAsync(request, sink, blocks, cancellationToken);

        public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
        {
            var handle = new KvDeviceHandle
            {
                Kind = KvDeviceHandle.CudaIpc, HostId = "another", DeviceUuid = "GPU-other", ProcessId = 1, Handle = new byte[64], Offset = 0,
                Bytes = part.Header.PayloadBytes,
            };
            var error = await Assert.ThrowsAsync<KvDeviceUnusableException>(() => destination.ImportAsync(new KvPart(part.Header, ReadOnlyMemory<byte>.Empty) { DeviceHandle = handle }));
            Reason = error.Message;
            HandlesRefused++;
            await inner.SendAsync(part, cancellationToken);
        }

        public Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken) => inner.CommitAsync(last, cancellationToken);
        public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => inner.HoldsAsync(requestId, cancellationToken);
        public Task CancelAsync(string requestId) => inner.CancelAsync(requestId);
        public Task AbortAsync(string requestId) => inner.AbortAsync(requestId);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [Fact]
    public async Task CancelAfterMigration_ReachesTheDestination_AndFreesItsBlocks()
    {
        var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        await using var target = _host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId);
        Assert.Equal(MigrationOutcome.Committed, (await source.MigrateOutAsync(target, MigrationReason.Balance, stream.Id, CancellationToken.None)).Outcome);
        await stream.ReadChunksAsync(3);
        await stream.DisposeAsync(); // the client goes away: the gateway's cancel must find the request where it went
        await WaitIdleAsync();
    }

    [Fact]
    public async Task DestinationFull_TheRequestStaysOnItsSource()
    {
        await ExpectStaysOnSourceAsync(inner => new(inner) { AskBlocks = 1_000_000 }, MigrationOutcome.Refused, "full");
    }

    [Fact]
    public async Task DestinationDiesMidStaging_TheRequestStaysOnItsSource()
    {
        await ExpectStaysOnSourceAsync(inner => new(inner)
        {
            BeforeStage = stage => stage == 1 ? throw new IOException("connection reset by peer (injected)") : Task.CompletedTask,
        }, MigrationOutcome.Failed, "connection reset", expectCancel: true);
    }

    [Fact]
    public async Task CorruptedLastPart_IsRefusedByTheDestination_TheRequestStaysOnItsSource()
    {
        await ExpectStaysOnSourceAsync(inner => new(inner)
        {
            MutateLast = part => part with { Header = part.Header with { TokenIds = [.. part.Header.TokenIds.Select(t => t ^ 1)] } },
        }, MigrationOutcome.Refused, "not the request's");
    }

    [Fact]
    public async Task ClientDisconnectsMidMigration_NothingIsLeftAnywhere()
    {
        var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        var id = stream.Id!;
        await using var target = new FaultyTarget(_host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId))
        {
            BeforeStage = async stage =>
            {
                if (stage != 1)
                    return;
                await stream.DisposeAsync();
                await WaitUntilAsync(async () => !await source.HoldsAsync(id), "the gateway's cancel reaches the source");
            },
        };
        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, id, CancellationToken.None);
        Assert.Equal(MigrationOutcome.Ended, result.Outcome);
        Assert.False(await destination.HoldsAsync(id));
        await WaitIdleAsync();
    }

    [Fact]
    public async Task RequestFinishesBeforeTheCommit_NothingMoves()
    {
        var baseline = await RunAsync(maxTokens: 800);
        await using var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        var id = stream.Id!;
        await using var target = new FaultyTarget(_host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId))
        {
            BeforeStage = stage => stage == 1 ? WaitUntilAsync(async () => !await source.HoldsAsync(id), "the request finishes on its source") : Task.CompletedTask,
        };
        // The request finishes while its blocks are being staged: the source must see it gone and call the move off.
        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, id, CancellationToken.None);
        Assert.NotEqual(MigrationOutcome.Committed, result.Outcome);
        await stream.ReadToEndAsync();
        Assert.Equal(baseline.Text, stream.Text.ToString());
        Assert.False(await destination.HoldsAsync(id));
        await WaitIdleAsync();
    }

    [Fact]
    public async Task AdminMigrate_NamesTheBadField()
    {
        using var response = await _host.Http.PostAsync(new Uri($"/admin/models/{Model}/migrations?source=nope&destination=x", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("source", error.GetProperty("param").GetString());
        using var idle = await _host.Http.PostAsync(new Uri(
            $"/admin/models/{Model}/migrations?source={Uri.EscapeDataString(Runners[0].Descriptor.InstanceId)}&destination={Uri.EscapeDataString(Runners[1].Descriptor.InstanceId)}",
            UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, idle.StatusCode);
        Assert.Equal("nocandidate", JsonDocument.Parse(await idle.Content.ReadAsStringAsync()).RootElement.GetProperty("outcome").GetString());
    }

    private async Task ExpectStaysOnSourceAsync(Func<IMigrationTarget, FaultyTarget> faults, MigrationOutcome outcome, string error, bool expectCancel = false)
    {
        var baseline = await RunAsync(maxTokens: 800);
        await using var stream = await SseStream.StartAsync(_host.Http, Body(800));
        var (source, destination) = await PlacedAsync(stream);
        var inner = _host.App.Services.GetRequiredService<EngineHost>().TargetFor(destination.Descriptor.InstanceId);
        var template = faults(inner);
        await using var target = new FaultyTarget(inner)
        {
            AskBlocks = template.AskBlocks, BeforeStage = template.BeforeStage, BeforeCommit = template.BeforeCommit, MutateLast = template.MutateLast,
        };
        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, stream.Id, CancellationToken.None);
        Assert.Equal(outcome, result.Outcome);
        Assert.Contains(error, result.Error, StringComparison.OrdinalIgnoreCase);
        if (expectCancel)
            Assert.True(target.Cancels > 0);
        Assert.True(await source.HoldsAsync(stream.Id!));
        Assert.False(await destination.HoldsAsync(stream.Id!));
        Assert.Equal(0, destination.MigrationsIn);
        await stream.ReadToEndAsync();
        Assert.Equal(baseline.Text, stream.Text.ToString());
        Assert.Equal(baseline.Finish, stream.Finish);
        await WaitIdleAsync();
    }

    /// <summary>Reads a chunk (the request decodes), then finds the engine that runs it; the other is the destination.</summary>
    private async Task<(EngineRunner Source, EngineRunner Destination)> PlacedAsync(SseStream stream)
    {
        await stream.ReadChunksAsync(1);
        var runners = Runners;
        Assert.Equal(2, runners.Count);
        foreach (var r in runners)
        {
            if (await r.HoldsAsync(stream.Id!))
                return (r, runners.Single(x => x != r));
        }
        var chunks = stream.Chunks;
        var holders = string.Join(", ", runners.Select(r => $"{r.Descriptor.InstanceId} active={r.ActiveRequests} health={r.Health}"));
        await stream.ReadToEndAsync();
        throw new InvalidOperationException($"no engine holds request {stream.Id} after {chunks} chunks ({holders}); the stream went on to {stream.Chunks} chunks, finish {stream.Finish}; "
            + string.Join(", ", runners.Select(r => $"{r.Descriptor.InstanceId} active={r.ActiveRequests} health={r.Health}")));
    }

    private async Task<(string Text, string? Finish)> RunAsync(int maxTokens)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var stream = await SseStream.StartAsync(_host.Http, Body(maxTokens));
        await stream.ReadToEndAsync();
        Console.WriteLine($"baseline of {maxTokens} tokens: {started.ElapsedMilliseconds} ms, {stream.Chunks} chunks");
        return (stream.Text.ToString(), stream.Finish);
    }

    private static string Body(int maxTokens) =>
        $$"""{"model":"{{Model}}","prompt":[{{string.Join(",", Enumerable.Range(0, 200).Select(i => 3 + i * 7 % 200))}}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"stream":true}""";

    private async Task WaitIdleAsync()
    {
        await WaitUntilAsync(() => Task.FromResult(Runners.All(r => r.ActiveRequests == 0 && r.MigrationsIn == 0 && r.Load.UsedKvBlocks == 0)),
            "both engines hold no request and no KV block: " + string.Join(", ", Runners.Select(r => $"{r.Descriptor.InstanceId} active={r.ActiveRequests} in={r.MigrationsIn} blocks={r.Load.UsedKvBlocks}")));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 400; i++)
        {
            if (await condition())
                return;
            await Task.Delay(25);
        }
        Assert.Fail($"timed out waiting until {what}");
    }
}

/// <summary>A streamed completion read chunk by chunk from the gateway's server-sent events.</summary>
internal sealed class SseStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private bool _disposed;

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public string? Id { get; private set; }
    public StringBuilder Text { get; } = new();
    public string? Finish { get; private set; }
    public int Chunks { get; private set; }

    /// <summary>When the first chunk was read (a <see cref="System.Diagnostics.Stopwatch"/> timestamp), 0 before.</summary>
    public long FirstChunkAt { get; private set; }

    public static async Task<SseStream> StartAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/completions", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new SseStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    public async Task<bool> ReadChunkAsync()
    {
        while (await _reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
                continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]")
                return false;
            var root = JsonDocument.Parse(data).RootElement;
            if (root.TryGetProperty("error", out var error))
                throw new InvalidOperationException("the stream ended with an error: " + error.GetRawText());
            Id ??= root.GetProperty("id").GetString();
            foreach (var choice in root.GetProperty("choices").EnumerateArray())
            {
                Text.Append(choice.GetProperty("text").GetString());
                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                    Finish = finish.GetString();
            }
            if (Chunks++ == 0)
                FirstChunkAt = System.Diagnostics.Stopwatch.GetTimestamp();
            return true;
        }
        return false;
    }

    public async Task ReadChunksAsync(int count)
    {
        var target = Chunks + count;
        while (Chunks < target)
        {
            if (!await ReadChunkAsync())
                throw new InvalidOperationException($"the stream ended after {Chunks} chunks");
        }
    }

    public async Task ReadToEndAsync()
    {
        while (await ReadChunkAsync())
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_disposed)
            return ValueTask.CompletedTask;
        _disposed = true;
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
