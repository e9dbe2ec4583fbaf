using ControlPlane.Requests;
using ControlPlane.Instances;
using ControlPlane.Models.Folders;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Hosting;
using ControlPlane.Server.Models;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Server.Tests.Models;

/// <summary>
/// The gateway's catalog learns models it was not configured with from the cluster (a ModelService applied after it
/// started): from a card made as a worker makes it, the same tokenizer, context and chat form as a configured gateway's.
/// </summary>
public sealed class ModelCatalogTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("catalog-cache-").FullName;
    private readonly ManualTime _time = new();
    private readonly FakeSource _source = new();

    [Fact]
    public async Task FindAsync_ModelTheClusterRuns_LearnsTheSameTokenizerContextAndChatForm()
    {
        var config = new ModelConfig { Name = "tiny", Engine = "torchsharp", Path = ModelFolders.TinyRandom, MaxContextTokens = 1024, SloTtftMs = 250, SloTpotMs = 40,
            DispatchPolicy = "round-robin", DispatchQueueLimit = 7,
            PriorityClasses = [new PriorityClassConfig { Name = "chat", ServiceClass = "interactive", Priority = 10 }] };
        var folders = new ModelFolders();
        var configured = EngineFactory.Describe(config, folders);
        _source.Cards["tiny"] = EngineFactory.Card(config, folders);
        using var catalog = Catalog();

        Assert.False(catalog.TryGet("tiny", out _));
        var learned = await catalog.FindAsync("tiny", default);

        Assert.NotNull(learned);
        Assert.Equal(configured.MaxContextTokens, learned.MaxContextTokens);
        Assert.Equal(configured.ChatTemplate, learned.ChatTemplate);
        Assert.Equal((250.0, 40.0), (learned.SloTtftMs, learned.SloTpotMs)); // the ModelService's targets, for the status page
        Assert.Equal(("round-robin", 7), (learned.DispatchPolicy, learned.DispatchQueueLimit)); // and its dispatch settings
        Assert.Equal(new PriorityClass("chat", ServiceClass.Interactive, 10), Assert.Single(learned.PriorityClasses).Value); // and its classes
        Assert.Equal(configured.Tokenizer.VocabularySize, learned.Tokenizer.VocabularySize);
        Assert.Equal(configured.Tokenizer.EndOfSequenceTokenIds, learned.Tokenizer.EndOfSequenceTokenIds);
        const string text = "the quick brown fox";
        Assert.Equal(configured.Tokenizer.Encode(text), learned.Tokenizer.Encode(text));
        Assert.True(catalog.TryGet("tiny", out _));
        Assert.Contains(catalog.All, m => m.Name == "tiny");
        Assert.DoesNotContain(catalog.Configured, m => m.Name == "tiny"); // readiness waits only for configured models
    }

    [Fact]
    public async Task RefreshAsync_SimulatedModel_ListedWithTheSimulatedTokenizer()
    {
        _source.Cards["sim2"] = new ModelCard { Model = "sim2", Engine = "simulated", MaxContextTokens = 2048, ChatTemplate = "chatml" };
        using var catalog = Catalog();

        await catalog.RefreshAsync(default);

        Assert.True(catalog.TryGet("sim2", out var model));
        Assert.Same(SimulatedTokenizer.Instance, model.Tokenizer);
        Assert.Equal(2048, model.MaxContextTokens);
        Assert.Equal(["configured", "sim2"], catalog.All.Select(m => m.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task FindAsync_UnknownNames_AskTheClusterAtMostOnceAnInterval()
    {
        using var catalog = Catalog();

        for (var i = 0; i < 20; i++)
            Assert.Null(await catalog.FindAsync($"nope-{i}", default));
        Assert.Equal(1, _source.ModelsCalls);

        _source.Cards["late"] = Simulated("late");
        Assert.Null(await catalog.FindAsync("late", default)); // listed within the interval: not asked yet
        _time.Advance(ModelCatalog.RefreshInterval);
        Assert.NotNull(await catalog.FindAsync("late", default));
        Assert.Equal(2, _source.ModelsCalls);
        Assert.Equal("configured", (await catalog.FindAsync("configured", default))!.Name); // configured: never asks
        Assert.Equal(2, _source.ModelsCalls);
    }

    [Fact]
    public async Task RefreshAsync_OneCardFails_OthersLearnedAndItIsTriedAgain()
    {
        _source.Cards["good"] = Simulated("good");
        _source.Cards["bad"] = new ModelCard { Model = "bad", Engine = "torchsharp", MaxContextTokens = 512 }; // no tokenizer files
        _source.Failing.Add("down");
        _source.Cards["down"] = Simulated("down");
        using var catalog = Catalog();

        await catalog.RefreshAsync(default);
        Assert.True(catalog.TryGet("good", out _));
        Assert.False(catalog.TryGet("bad", out _));
        Assert.False(catalog.TryGet("down", out _));

        _source.Failing.Clear();
        _time.Advance(ModelCatalog.RefreshInterval);
        await catalog.RefreshAsync(default);
        Assert.True(catalog.TryGet("down", out _));
    }

    [Fact]
    public async Task RefreshAsync_NewerCard_ReplacesTheLearnedModel_TheSameOneIsNotFetchedAgain()
    {
        var config = new ModelConfig { Name = "svc", Engine = "simulated", SloTtftMs = 500, DispatchPolicy = "least-request" };
        var folders = new ModelFolders();
        _source.Cards["svc"] = EngineFactory.Card(config, folders);
        using var catalog = Catalog();
        await catalog.RefreshAsync(default);
        Assert.Equal("least-request", catalog.All.Single(m => m.Name == "svc").DispatchPolicy);
        Assert.Equal(1, _source.CardCalls);

        _time.Advance(ModelCatalog.RefreshInterval);
        await catalog.RefreshAsync(default); // the same version listed: not fetched again
        Assert.Equal(1, _source.CardCalls);

        _source.Cards["svc"] = EngineFactory.Card(config with { SloTtftMs = 250, DispatchPolicy = "round-robin" }, folders); // the ModelService changed
        Assert.NotEqual(EngineFactory.Card(config, folders).Version, _source.Cards["svc"].Version);
        _time.Advance(ModelCatalog.RefreshInterval);
        await catalog.RefreshAsync(default);
        var model = catalog.All.Single(m => m.Name == "svc");
        Assert.Equal(("round-robin", 250.0), (model.DispatchPolicy, model.SloTtftMs));
        Assert.Equal(2, _source.CardCalls);
    }

    [Fact]
    public void CardVersion_SameConfigurationSameVersion_AnySettingChangesIt()
    {
        var folders = new ModelFolders();
        var config = new ModelConfig { Name = "tiny", Engine = "torchsharp", Path = ModelFolders.TinyRandom, MaxContextTokens = 512 };
        var card = EngineFactory.Card(config, folders);
        Assert.Equal(card.Version, EngineFactory.Card(config, new ModelFolders()).Version); // another worker, the same files and settings
        Assert.Equal(card.Version, EngineFactory.CardVersion(card with { Created = card.Created.AddHours(1) })); // not its time
        Assert.NotEqual(card.Version, EngineFactory.Card(config with { MaxContextTokens = 256 }, folders).Version);
        Assert.NotEqual(card.Version, EngineFactory.Card(config with { DispatchQueueLimit = 8 }, folders).Version);
        Assert.NotEqual(card.Version, EngineFactory.Card(config with { PriorityClasses = [new PriorityClassConfig { Name = "chat", ServiceClass = "batch" }] }, folders).Version);
        Assert.NotEqual(card.Version, EngineFactory.CardVersion(card with { Files = new Dictionary<string, byte[]>(card.Files) { ["tokenizer.json"] = [1, 2, 3] } }));
    }

    [Fact]
    public async Task RefreshAsync_ModelNoLongerListed_ForgottenAfterTheGrace()
    {
        _source.Cards["gone"] = Simulated("gone");
        using var catalog = Catalog();
        await catalog.RefreshAsync(default);
        Assert.True(catalog.TryGet("gone", out _));

        _source.Cards.Remove("gone");
        _time.Advance(ModelCatalog.ForgetAfter); // not past it yet: a directory refilling after a failover keeps its models
        await catalog.RefreshAsync(default);
        Assert.True(catalog.TryGet("gone", out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        await catalog.RefreshAsync(default);
        Assert.False(catalog.TryGet("gone", out _));
        Assert.True(catalog.TryGet("configured", out _));
    }

    [Fact]
    public async Task RefreshAsync_DirectoryDown_KeepsWhatItKnowsAndThrowsNothing()
    {
        _source.Cards["sim2"] = Simulated("sim2");
        using var catalog = Catalog();
        await catalog.RefreshAsync(default);
        _source.DirectoryDown = true;
        _time.Advance(ModelCatalog.ForgetAfter + ModelCatalog.RefreshInterval);

        await catalog.RefreshAsync(default);
        Assert.Null(await catalog.FindAsync("other", default));
        Assert.True(catalog.TryGet("sim2", out _));
    }

    [Fact]
    public void Materialize_SameCardTwice_WritesItsFilesOnce()
    {
        var config = new ModelConfig { Name = "tiny", Engine = "torchsharp", Path = ModelFolders.TinyRandom };
        var card = EngineFactory.Card(config, new ModelFolders());
        using var catalog = Catalog();

        catalog.Materialize(card);
        catalog.Materialize(card with { Model = "tiny-again" });

        var folder = Assert.Single(Directory.GetDirectories(_cache));
        Assert.Equal(card.Files.Keys.Order(StringComparer.Ordinal), Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("tokenizer.json", card.Files.Keys);
        Assert.NotNull(ModelFolderInfo.Read(folder).LoadTokenizer());
    }

    public void Dispose() => Directory.Delete(_cache, true);

    private static ModelCard Simulated(string model) => new() { Model = model, Engine = "simulated", MaxContextTokens = 512 };

    private ModelCatalog Catalog() => new(
        [new ServedModel("configured", SimulatedTokenizer.Instance, 4096, "chatml", DateTimeOffset.UnixEpoch, "controlplane")], _source, _time, _cache, null);

    private sealed class FakeSource : IModelSource
    {
        public Dictionary<string, ModelCard> Cards { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Failing { get; } = new(StringComparer.Ordinal);
        public bool DirectoryDown { get; set; }
        public int ModelsCalls { get; private set; }
        public int CardCalls { get; private set; }

        public Task<IReadOnlyDictionary<string, string>> ModelsAsync(CancellationToken cancellationToken)
        {
            ModelsCalls++;
            return DirectoryDown ? throw new TimeoutException("directory down")
                : Task.FromResult<IReadOnlyDictionary<string, string>>(Cards.ToDictionary(c => c.Key, c => c.Value.Version, StringComparer.Ordinal));
        }

        public Task<ModelCard?> CardAsync(string model, CancellationToken cancellationToken)
        {
            CardCalls++;
            return Failing.Contains(model) ? throw new TimeoutException($"{model}'s host did not answer") : Task.FromResult(Cards.GetValueOrDefault(model));
        }
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
