using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Engine;
using ControlPlane.Tokens;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControlPlane.Grains.Tests.Engines;

/// <summary>
/// A worker dies while it moves a request to another instance; its gateway resumes the request from the tokens it has,
/// and its dispatcher may well pick that very instance (the least loaded: why it was the destination). The resume must
/// run there and finish, whether the move had reached its commit or not, and a resume the engine refuses must reach
/// the gateway as an error, not vanish as a chunk seen before.
/// </summary>
public sealed class ResumeAtMigrationDestinationTests : IAsyncLifetime
{
    private const int MaxTokens = 600;
    private readonly CollectingSink _sink = new();
    private EngineRunner _source = null!;
    private EngineRunner _destination = null!;
    private bool _sourceDied;

    public Task InitializeAsync()
    {
        // Small stages: a few of the request's blocks are imported at the destination before the source dies.
        _source = Runner("source", new MigrationConfig { StageBlocks = 2, StopBlocks = 1 });
        _destination = Runner("destination", new MigrationConfig());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (!_sourceDied)
            await _source.DisposeAsync();
        await _destination.DisposeAsync();
    }

    [Fact]
    public async Task SourceDiesBeforeTheCommit_TheResumeDropsTheImportAndFinishesThere()
    {
        var spec = await DecodingOnSourceAsync("resume-before-commit");
        var stuck = new StuckAtCommit(new LocalMigrationTarget(_destination, "destination-silo"));
        var migration = _source.MigrateOutAsync(stuck, MigrationReason.Balance, spec.RequestId, CancellationToken.None);
        await stuck.AtCommit.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(stuck.Stages >= 2, $"some of the request's blocks were imported before the source died (stages {stuck.Stages})");
        Assert.True(_destination.ExpectsImport(spec.RequestId));

        // The worker dies: no last chunk, no rollback reaches the destination.
        _sourceDied = true;
        await _source.DisposeAsync();
        var progress = Progress(spec.RequestId);
        Assert.True(_destination.Admit(spec with { Progress = progress }, _sink).Accepted);

        var chunks = await _sink.WaitAsync(spec.RequestId);
        AssertFinishedOnce(chunks, progress);
        Assert.False(_destination.ExpectsImport(spec.RequestId));
        await WaitNoKvAsync(_destination);
        Assert.False(migration.IsCompleted); // its source is gone: it never hears back
    }

    [Fact]
    public async Task SourceDiesAfterTheCommit_TheResumeLeavesTheMovedRequestRunning()
    {
        var spec = await DecodingOnSourceAsync("resume-after-commit");
        var result = await _source.MigrateOutAsync(new LocalMigrationTarget(_destination, "destination-silo"), MigrationReason.Balance, spec.RequestId, CancellationToken.None);
        Assert.Equal(MigrationOutcome.Committed, result.Outcome);
        // The gateway never heard of the move (its source died first), so it resumes the request where it moved.
        var progress = Progress(spec.RequestId);
        Assert.True(_destination.Admit(spec with { Progress = progress }, _sink).Accepted);

        var chunks = await _sink.WaitAsync(spec.RequestId);
        AssertFinishedOnce(chunks, progress);
        await WaitNoKvAsync(_destination);
    }

    [Fact]
    public async Task ResumeTheEngineRefuses_EndsWithAnErrorNumberedAfterWhatTheGatewayHas()
    {
        var spec = Spec("resume-refused") with
        {
            Progress = new RequestProgress { OutputTokenIds = [int.MaxValue], NextSequence = 7 },
        };
        Assert.True(_destination.Admit(spec, _sink).Accepted);

        for (var i = 0; i < 400 && !_sink.Chunks.ContainsKey(spec.RequestId); i++)
            await Task.Delay(25);
        var chunk = Assert.Single(_sink.Chunks[spec.RequestId]);
        Assert.Equal(7, chunk.Sequence);
        Assert.Equal(FinishReason.Error, chunk.FinishReason);
        Assert.Contains("outside the vocabulary", chunk.Error);
    }

    private static EngineRunner Runner(string name, MigrationConfig migration)
    {
        var engine = new SimulatedEngine(ClusterFixture.Model, ClusterFixture.FastProfile, random: new Random(1), totalKvBlocks: ClusterFixture.BlocksPerInstance);
        var runner = new EngineRunner(new InstanceDescriptor
        {
            InstanceId = name, Model = ClusterFixture.Model, TotalKvBlocks = ClusterFixture.BlocksPerInstance, KvBlockSize = engine.Descriptor.KvBlockSize,
            MaxContextTokens = engine.Descriptor.MaxContextTokens, Engine = SimulatedEngine.BackendName,
        }, engine, TimeProvider.System, NullLogger.Instance) { Migration = migration };
        runner.Start();
        return runner;
    }

    private static RequestSpec Spec(string id) => new()
    {
        RequestId = id, Model = ClusterFixture.Model, PromptTokenIds = [.. Enumerable.Range(1, 100)],
        Sampling = new SamplingParameters { MaxTokens = MaxTokens, Temperature = 0 },
    };

    /// <summary>Admits a request on the source and returns once it has streamed a few chunks: it decodes there.</summary>
    private async Task<RequestSpec> DecodingOnSourceAsync(string id)
    {
        var spec = Spec(id);
        Assert.True(_source.Admit(spec, _sink).Accepted);
        for (var i = 0; i < 500 && (!_sink.Chunks.TryGetValue(id, out var chunks) || chunks.Count < 5); i++)
            await Task.Delay(10);
        Assert.True(_sink.Chunks[id].Count >= 5, "the request did not start decoding on its source");
        return spec;
    }

    /// <summary>What the gateway's stream has taken in, in order: the point it resumes from.</summary>
    private RequestProgress Progress(string id)
    {
        var chunks = _sink.Chunks[id].OrderBy(c => c.Sequence).ToArray();
        Assert.Equal(Enumerable.Range(0, chunks.Length), chunks.Select(c => c.Sequence));
        return new RequestProgress { OutputTokenIds = [.. chunks.SelectMany(c => c.TokenIds)], NextSequence = chunks.Length };
    }

    /// <summary>The chunks after the resume point end the request once, by its length, with no error among them.</summary>
    private static void AssertFinishedOnce(IReadOnlyList<TokenChunk> chunks, RequestProgress progress)
    {
        Assert.DoesNotContain(chunks, c => c.FinishReason == FinishReason.Error);
        var last = Assert.Single(chunks, c => c.FinishReason != FinishReason.None);
        Assert.Equal(FinishReason.Length, last.FinishReason);
        Assert.True(last.Sequence >= progress.NextSequence);
        var tokens = chunks.GroupBy(c => c.Sequence).OrderBy(g => g.Key).SelectMany(g => g.First().TokenIds).Count();
        Assert.Equal(MaxTokens, tokens);
    }

    private static async Task WaitNoKvAsync(EngineRunner runner)
    {
        for (var i = 0; i < 200; i++)
        {
            var load = runner.ReadLoad(DateTimeOffset.UtcNow);
            if (load.UsedKvBlocks == 0 && load.RunningRequests == 0 && runner.MigrationsIn == 0)
                return;
            await Task.Delay(25);
        }
        Assert.Fail($"instance '{runner.Descriptor.InstanceId}' still holds KV blocks or requests");
    }

    /// <summary>A real destination whose last part never goes: the source dies with its request suspended.</summary>
    private sealed class StuckAtCommit(IMigrationTarget inner) : IMigrationTarget
    {
        private readonly TaskCompletionSource _atCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task AtCommit => _atCommit.Task;
        public int Stages { get; private set; }
        public string InstanceId => inner.InstanceId;
        public string Silo => inner.Silo;
        public bool DeviceParts => inner.DeviceParts;

        public Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken) =>
            inner.BeginAsync(request, sink, blocks, cancellationToken);

        public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
        {
            await inner.SendAsync(part, cancellationToken);
            Stages++;
        }

        public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
        {
            _atCommit.TrySetResult();
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
            return "";
        }

        public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => inner.HoldsAsync(requestId, cancellationToken);
        public Task CancelAsync(string requestId) => inner.CancelAsync(requestId);
        public Task AbortAsync(string requestId) => inner.AbortAsync(requestId);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
