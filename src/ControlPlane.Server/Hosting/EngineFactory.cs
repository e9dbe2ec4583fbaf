using ControlPlane.Engine;
using ControlPlane.Engine.Loading;
using ControlPlane.Tokenization;
using ControlPlane.Engines;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Models;
using ControlPlane.Simulation.Engine;
using ControlPlane.Simulation.Performance;
using ControlPlane.Simulation.Tokenization;
using TorchSharp;

namespace ControlPlane.Server.Hosting;

/// <summary>Creates the engines the configuration asks this silo to run, and the gateway's view of each model.</summary>
public static class EngineFactory
{
    public const string TinyRandom = "builtin:tiny-random";

    public static void AddConfiguredEngines(IServiceProvider services, EngineHost host, ControlPlaneConfig config)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var silo = Environment.MachineName;
        foreach (var model in config.Models)
        {
            var engines = model.Engine == "torchsharp" ? TorchEngines(model) : SimulatedEngines(model, time);
            var i = 0;
            foreach (var engine in engines)
            {
                host.Add(new InstanceDescriptor
                {
                    InstanceId = $"{model.Name}-{i++}",
                    Model = model.Name,
                    Role = InstanceRole.Mixed,
                    TotalKvBlocks = engine.Descriptor.TotalKvBlocks,
                    KvBlockSize = engine.Descriptor.KvBlockSize,
                    MaxContextTokens = engine.Descriptor.MaxContextTokens,
                    Engine = engine.Descriptor.Backend,
                    Host = silo,
                }, engine);
            }
        }
    }

    /// <summary>The gateway's view of a model: its tokenizer and context length.</summary>
    public static ServedModel Describe(ModelConfig model)
    {
        if (model.Engine != "torchsharp")
        {
            var template = model.ChatTemplate == ChatTemplates.Auto ? ChatTemplates.ChatMl : model.ChatTemplate;
            return new ServedModel(model.Name, SimulatedTokenizer.Instance, Profile(model).MaxContextTokens, template, DateTimeOffset.UtcNow, "controlplane");
        }
        var folder = Folder(model);
        var config = ModelFolder.ReadConfig(folder);
        ITokenizer tokenizer = HuggingFaceTokenizer.Load(folder, config.EosTokenIds);
        var chat = model.ChatTemplate == ChatTemplates.Auto ? ChatTemplates.Detect(folder) : model.ChatTemplate;
        return new ServedModel(model.Name, tokenizer, MaxContext(model, config), chat, DateTimeOffset.UtcNow, "controlplane");
    }

    public static PerformanceProfile Profile(ModelConfig model)
    {
        var profile = PerformanceProfile.Load(model.Profile);
        return model.MaxContextTokens is { } context ? profile with { MaxContextTokens = context } : profile;
    }

    private static IEnumerable<IEngine> SimulatedEngines(ModelConfig model, TimeProvider time)
    {
        var profile = Profile(model);
        for (var i = 0; i < model.Instances; i++)
            yield return new SimulatedEngine(model.Name, profile, time, new Random(), model.KvBlocks);
    }

    /// <summary>Instances of one model on one device share its weights; each has its own KV cache.</summary>
    private static IEnumerable<IEngine> TorchEngines(ModelConfig model)
    {
        if (model.Instances == 0)
            yield break;
        var folder = Folder(model);
        if (model.Device == "cuda")
            torch.InitializeDeviceType(DeviceType.CUDA);
        var weights = ModelFolder.Load(folder, model.Device == "cuda" ? torch.CUDA : torch.CPU);
        var tokenizer = HuggingFaceTokenizer.Load(folder, weights.Config.EosTokenIds);
        for (var i = 0; i < model.Instances; i++)
        {
            yield return new TorchEngine(model.Name, weights, tokenizer, new TorchEngineOptions
            {
                KvBlocks = model.KvBlocks,
                KvCacheBytes = (long)model.KvCacheMiB << 20,
                MaxContextTokens = MaxContext(model, weights.Config),
                CaptureGraphsAtStart = model.Device == "cuda",
            });
        }
    }

    private static int MaxContext(ModelConfig model, LlamaConfig config) =>
        Math.Min(model.MaxContextTokens ?? 4096, config.MaxPositionEmbeddings);

    private static string Folder(ModelConfig model) => model.Path == TinyRandom
        ? RandomModelFolder.Ensure(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "controlplane-models", "tiny-random-llama"))
        : model.Path!;
}
