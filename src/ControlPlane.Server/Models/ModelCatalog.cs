using System.Collections.Concurrent;
using System.Security.Cryptography;
using ControlPlane.Instances;
using ControlPlane.Models.Folders;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Server.Models;

/// <summary>
/// The models this gateway serves, by name: those of its configuration, and those it learns of at run time from a
/// <see cref="IModelSource"/> (a ModelService applied after the gateway started: its workers announce the model and hand
/// out its card, from which the gateway makes the same tokenizer; a newer card, learned again, replaces it). A learned model the cluster has not listed for
/// <see cref="ForgetAfter"/> (its ModelService deleted) is forgotten; a configured one is served for the process's life.
/// </summary>
public sealed partial class ModelCatalog : IDisposable
{
    /// <summary>The least time between two asks of the source: unknown names cost the cluster at most one call a period.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a learned model stays served once the cluster stops listing it (longer than a directory takes to refill).</summary>
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, ServedModel> _configured;
    private readonly ConcurrentDictionary<string, Learned> _learned = new(StringComparer.Ordinal);

    /// <summary>A model learned from the cluster: from which card, and when the source last listed it.</summary>
    private sealed record Learned(ServedModel Model, string Version, long ListedAt);
    private readonly IModelSource? _source;
    private readonly TimeProvider _time;
    private readonly string _cacheFolder;
    private readonly ILogger? _logger;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private long _refreshedAt = long.MinValue;

    /// <summary>A catalog of the configured models only.</summary>
    public ModelCatalog(IEnumerable<ServedModel> models)
        : this(models, null, TimeProvider.System, "", null)
    {
    }

    /// <summary>
    /// A catalog of the configured <paramref name="models"/> that learns the others from <paramref name="source"/>, their files
    /// written under <paramref name="cacheFolder"/> (a folder each, named by their content's hash).
    /// </summary>
    public ModelCatalog(IEnumerable<ServedModel> models, IModelSource? source, TimeProvider time, string cacheFolder, ILogger? logger)
    {
        _configured = models.ToDictionary(m => m.Name, StringComparer.Ordinal);
        _source = source;
        _time = time;
        _cacheFolder = cacheFolder;
        _logger = logger;
    }

    public IReadOnlyCollection<ServedModel> All => [.. _configured.Values, .. _learned.Values.Select(l => l.Model)]; // never both: a configured name is not learned

    /// <summary>The models of this gateway's configuration: those its readiness waits for.</summary>
    public IReadOnlyCollection<ServedModel> Configured => _configured.Values;

    /// <summary>A model already known (configured or learned); <see cref="FindAsync"/> also asks the cluster.</summary>
    public bool TryGet(string name, out ServedModel model)
    {
        if (_configured.TryGetValue(name, out model!))
            return true;
        var learned = _learned.TryGetValue(name, out var entry);
        model = entry?.Model!;
        return learned;
    }

    /// <summary>A known model, else one the source runs (learned now); null when neither.</summary>
    public async ValueTask<ServedModel?> FindAsync(string name, CancellationToken cancellationToken)
    {
        if (TryGet(name, out var model))
            return model;
        if (_source is null)
            return null;
        await RefreshAsync(cancellationToken);
        return TryGet(name, out model) ? model : null;
    }

    /// <summary>
    /// Learns the source's models not known yet (at most once a <see cref="RefreshInterval"/>; callers meanwhile share the
    /// round in progress). A model whose card cannot be had or used is logged and tried again next round; the others are
    /// learned regardless.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_source is null)
            return;
        var asked = _time.GetTimestamp();
        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            // A round that started within the interval before this caller asked (or after it, while it waited here): its answer stands.
            if (_refreshedAt != long.MinValue && _time.GetElapsedTime(_refreshedAt, asked) < RefreshInterval)
                return;
            _refreshedAt = _time.GetTimestamp();
            IReadOnlyDictionary<string, string> listed;
            try
            {
                listed = await _source.ModelsAsync(cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (_logger is not null)
                    LogSourceFailed(_logger, ex);
                return;
            }
            var now = _time.GetTimestamp();
            foreach (var (name, entry) in _learned)
            {
                if (listed.ContainsKey(name))
                    _learned[name] = entry with { ListedAt = now };
                else if (_time.GetElapsedTime(entry.ListedAt, now) > ForgetAfter && _learned.TryRemove(name, out _) && _logger is not null)
                    LogForgot(_logger, name, ForgetAfter.TotalMinutes);
            }
            foreach (var (name, version) in listed)
            {
                // Configured here, or learned from this very card: nothing to do. A new version (a ModelService changed:
                // its new workers announce a newer card) is learned again and replaces the old one.
                if (_configured.ContainsKey(name) || _learned.TryGetValue(name, out var known) && known.Version == version)
                    continue;
                try
                {
                    if (await _source.CardAsync(name, cancellationToken) is { } card)
                    {
                        var model = Materialize(card);
                        _learned[model.Name] = new Learned(model, card.Version, now);
                        if (_logger is not null)
                            LogLearned(_logger, model.Name, card.Engine, model.MaxContextTokens, model.ChatTemplate, card.Version);
                    }
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    if (_logger is not null)
                        LogCardFailed(_logger, ex, name);
                }
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    public void Dispose() => _refreshing.Dispose();

    /// <summary>
    /// The gateway's view of a model from its card, as <c>EngineFactory.Describe</c> makes it from a configured one: the
    /// folder's files written under the cache folder (only the names a card may carry) and the tokenizer loaded from them;
    /// a simulated engine's card gives the simulated tokenizer.
    /// </summary>
    public ServedModel Materialize(ModelCard card)
    {
        if (card.Files.Count == 0 && card.Engine == "torchsharp")
            throw new InvalidDataException($"model '{card.Model}' runs on the torchsharp engine but its card has no tokenizer files");
        ControlPlane.Tokenization.ITokenizer tokenizer = card.Files.Count == 0 ? SimulatedTokenizer.Instance : ModelFolderInfo.Read(WriteFiles(card)).LoadTokenizer();
        return new ServedModel(card.Model, tokenizer, card.MaxContextTokens, card.ChatTemplate, card.Created, "controlplane")
        {
            SloTtftMs = card.SloTtftMs, SloTpotMs = card.SloTpotMs, DispatchPolicy = card.DispatchPolicy, DispatchQueueLimit = card.DispatchQueueLimit,
            PriorityClasses = ServedModel.ByName(card.PriorityClasses),
        };
    }

    /// <summary>The card's files in their folder under the cache folder (written once, by whichever round comes first).</summary>
    private string WriteFiles(ModelCard card)
    {
        var folder = Path.Combine(_cacheFolder, Folder(card));
        if (Directory.Exists(folder))
            return folder;
        var staging = folder + ".tmp-" + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(staging);
        foreach (var name in ModelCard.FileNames)
        {
            if (card.Files.TryGetValue(name, out var bytes))
                File.WriteAllBytes(Path.Combine(staging, name), bytes);
        }
        try
        {
            Directory.Move(staging, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            Directory.Delete(staging, true); // another round wrote the same files first
        }
        return folder;
    }

    /// <summary>A folder name from the files' content: a card's files are written once however often it is fetched.</summary>
    private static string Folder(ModelCard card)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        card.HashFiles(hash);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..24];
    }

    [LoggerMessage(1, LogLevel.Information, "Learned model {Model} from the cluster ({Engine} engine, context {Context}, chat template {Template}, card {Version})")]
    private static partial void LogLearned(ILogger logger, string model, string engine, int context, string template, string version);

    [LoggerMessage(4, LogLevel.Information, "Forgot model {Model}: the cluster has not listed it for {Minutes} minutes")]
    private static partial void LogForgot(ILogger logger, string model, double minutes);

    [LoggerMessage(2, LogLevel.Warning, "The model directory did not answer; models not configured here are not learned this round")]
    private static partial void LogSourceFailed(ILogger logger, Exception ex);

    [LoggerMessage(3, LogLevel.Warning, "Model {Model} runs in the cluster, but its card could not be had or used; tried again next round")]
    private static partial void LogCardFailed(ILogger logger, Exception ex, string model);
}
