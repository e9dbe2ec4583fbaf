using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Models.Chat;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Models;
using ControlPlane.Simulation.Engine;
using ControlPlane.Simulation.Performance;
using ControlPlane.Simulation.Power;
using ControlPlane.Simulation.Tokenization;
using ControlPlane.Tokenization;

namespace ControlPlane.Server.Hosting;

/// <summary>Creates the engines the configuration asks this silo to run, and the gateway's view of each model.</summary>
public static partial class EngineFactory
{
    public static void AddConfiguredEngines(IServiceProvider services, EngineHost host, ControlPlaneConfig config, IReadOnlyList<IEngineBackend> backends)
    {
        var folders = services.GetRequiredService<ModelFolders>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EngineFactory));
        var pod = config.Cluster.ResolvePodName();
        var node = config.Cluster.ResolveNodeName();
        foreach (var model in config.Models)
        {
            var backend = backends.FirstOrDefault(b => b.Name == model.Engine);
            if (backend is null)
            {
                if (model.Instances > 0)
                    LogNoBackend(logger, model.Name, model.Engine, model.Instances);
                continue;
            }
            var i = 0;
            var card = Card(model, folders);
            foreach (var engine in backend.CreateEngines(model, folders, services))
            {
                AddHostTier(engine, model, logger);
                host.Add(new InstanceDescriptor
                {
                    InstanceId = InstanceIds.Create(pod, model.Name, i),
                    Model = model.Name,
                    Role = model.RoleOf(i++),
                    TotalKvBlocks = engine.Descriptor.TotalKvBlocks,
                    KvBlockSize = engine.Descriptor.KvBlockSize,
                    MaxContextTokens = engine.Descriptor.MaxContextTokens,
                    Engine = engine.Descriptor.Backend,
                    Host = pod,
                    Node = node,
                    Migration = model.Migration,
                }, engine, engine is SimulatedEngine { Power: { } meter }
                    ? new ModelledPowerActuator(meter, services.GetRequiredService<TimeProvider>())
                    : backend.CreatePowerActuator(model, i - 1), card);
            }
        }
    }

    /// <summary>
    /// Gives the engine the model's host-memory tier, in blocks of the engine's own size (a simulated engine's from its
    /// profile; one whose profile does not say is priced as a Llama-3-8B block, 2 MiB).
    /// </summary>
    private static void AddHostTier(ControlPlane.Engines.IEngine engine, ModelConfig model, ILogger logger)
    {
        if (model.HostKvCacheMiB <= 0 || engine is not ControlPlane.Engine.Core.EngineCore core)
            return;
        var bytesPerBlock = core.Descriptor.KvBytesPerBlock > 0 ? core.Descriptor.KvBytesPerBlock
            : Profile(model) is { KvBytesPerBlock: > 0 } p ? p.KvBytesPerBlock : 2L << 20;
        var blocks = (int)Math.Min(int.MaxValue, model.HostKvCacheMiB * (1L << 20) / bytesPerBlock);
        core.AddHostTier(blocks);
        LogHostTier(logger, model.Name, model.HostKvCacheMiB, blocks);
    }

    [LoggerMessage(2, LogLevel.Information, "Model {Model}: a host-memory KV tier of {MiB} MiB ({Blocks} blocks) per instance")]
    private static partial void LogHostTier(ILogger logger, string model, int miB, int blocks);

    /// <summary>The gateway's view of a model: its tokenizer and context length, from the model folder's small files only.</summary>
    public static ServedModel Describe(ModelConfig model, ModelFolders folders)
    {
        var (context, template) = ContextAndTemplate(model, folders);
        var tokenizer = model.Engine == "torchsharp" ? folders.Get(model).LoadTokenizer() : (ITokenizer)SimulatedTokenizer.Instance;
        return new ServedModel(model.Name, tokenizer, context, template, DateTimeOffset.UtcNow, "controlplane")
            {
                SloTtftMs = model.SloTtftMs, SloTpotMs = model.SloTpotMs, DispatchPolicy = model.DispatchPolicy, DispatchQueueLimit = model.DispatchQueueLimit,
                PriorityClasses = ServedModel.ByName(model.PriorityClasses.Select(c => c.ToClass())),
            };
    }

    /// <summary>The context a model is served at and its chat template form: a real engine's from its folder, a simulated one's from its profile.</summary>
    private static (int Context, string Template) ContextAndTemplate(ModelConfig model, ModelFolders folders)
    {
        if (model.Engine != "torchsharp")
            return (Profile(model).MaxContextTokens, model.ChatTemplate == ChatTemplates.Auto ? ChatTemplates.ChatMl : model.ChatTemplate);
        var folder = folders.Get(model);
        return (MaxContext(model, folder.Config.MaxPositionEmbeddings), model.ChatTemplate == ChatTemplates.Auto ? folder.ChatTemplate : model.ChatTemplate);
    }

    /// <summary>
    /// What a gateway that was not configured with the model needs to serve it as <see cref="Describe"/> does here: the
    /// context, the chat form and the folder's small files (none for a simulated engine); no tokenizer is made for it.
    /// </summary>
    public static ModelCard Card(ModelConfig model, ModelFolders folders)
    {
        var (context, template) = ContextAndTemplate(model, folders);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (model.Engine == "torchsharp")
        {
            var folder = folders.Get(model).Folder;
            foreach (var name in ModelCard.FileNames)
            {
                var path = Path.Combine(folder, name);
                if (File.Exists(path))
                    files[name] = File.ReadAllBytes(path);
            }
        }
        var card = new ModelCard
        {
            Model = model.Name,
            Engine = model.Engine,
            MaxContextTokens = context,
            ChatTemplate = template,
            Files = files,
            Created = DateTimeOffset.UtcNow,
            SloTtftMs = model.SloTtftMs,
            SloTpotMs = model.SloTpotMs,
            DispatchPolicy = model.DispatchPolicy,
            DispatchQueueLimit = model.DispatchQueueLimit,
            PriorityClasses = [.. model.PriorityClasses.Select(c => c.ToClass())],
        };
        return card with { Version = CardVersion(card) };
    }

    /// <summary>A hash of a card's settings and files (not its time): equal on every worker that serves the same configuration.</summary>
    public static string CardVersion(ModelCard card)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var text in new[] { card.Model, card.Engine, card.ChatTemplate, card.DispatchPolicy ?? "\0",
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{card.MaxContextTokens}/{card.SloTtftMs}/{card.SloTpotMs}/{card.DispatchQueueLimit}"),
            string.Join('\n', card.PriorityClasses.Select(c => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{c.Name}\0{c.ServiceClass}\0{c.Priority}\0{c.IsDefault}"))) })
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        card.HashFiles(hash);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    public static PerformanceProfile Profile(ModelConfig model)
    {
        var profile = PerformanceProfile.Load(model.Profile);
        return model.MaxContextTokens is { } context ? profile with { MaxContextTokens = context } : profile;
    }

    /// <summary>The context a real engine serves: the configured one (4096 by default), at most the model's positions.</summary>
    public static int MaxContext(ModelConfig model, int maxPositions) => Math.Min(model.MaxContextTokens ?? 4096, maxPositions);

    [LoggerMessage(1, LogLevel.Warning, "Model {Model} asks for {Instances} '{Engine}' engine(s), which this process cannot run (the control host links no TorchSharp; ControlPlane.Worker runs them): it is served only by engines elsewhere in the cluster")]
    private static partial void LogNoBackend(ILogger logger, string model, string engine, int instances);
}
