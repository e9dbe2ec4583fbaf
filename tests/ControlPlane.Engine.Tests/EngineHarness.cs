using ControlPlane.Engine.Loading;
using ControlPlane.Engine.Model;
using ControlPlane.Models.Folders;
using ControlPlane.Tokenization;
using ControlPlane.Engines;
using ControlPlane.Requests;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

/// <summary>A tiny model loaded through the real loader, and helpers to run engines on it to the end.</summary>
public sealed class EngineHarness : IDisposable
{
    private static readonly Lazy<string> Folder = new(() => TinyModel.Create());

    public EngineHarness()
    {
        var info = ModelFolderInfo.Read(Folder.Value);
        Weights = ModelFolder.Load(info, CPU, ScalarType.Float32);
        Tokenizer = info.LoadTokenizer();
    }

    public static string ModelFolderPath => Folder.Value;
    public LlamaWeights Weights { get; }
    public HuggingFaceTokenizer Tokenizer { get; }

    public TorchEngine NewEngine(int blocks = 256, int maxBatchedTokens = 64, int blockSize = 4) =>
        new("tiny", Weights, Tokenizer, new TorchEngineOptions { KvBlocks = blocks, KvBlockSize = blockSize, MaxBatchedTokens = maxBatchedTokens, MaxContextTokens = 1024 }, new Random(1));

    public static RequestSpec Request(string id, IReadOnlyList<int> prompt, int maxTokens, float temperature = 0, long? seed = null) => new()
    {
        RequestId = id,
        Model = "tiny",
        PromptTokenIds = prompt,
        Sampling = new SamplingParameters { MaxTokens = maxTokens, Temperature = temperature, Seed = seed, IgnoreEndOfSequence = true },
    };

    public static int[] Prompt(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => random.Next(1, 256))];
    }

    /// <summary>Steps until no work is left; returns each request's tokens and last output.</summary>
    public static (Dictionary<string, List<int>> Tokens, Dictionary<string, RequestOutput> Last) Run(TorchEngine engine, int maxSteps = 10_000)
    {
        var tokens = new Dictionary<string, List<int>>();
        var last = new Dictionary<string, RequestOutput>();
        for (var step = 0; engine.HasWork; step++)
        {
            Assert.True(step < maxSteps, "the engine did not finish");
            foreach (var output in engine.ComputeStep().Outputs)
            {
                if (!tokens.TryGetValue(output.RequestId, out var list))
                    tokens[output.RequestId] = list = [];
                list.AddRange(output.NewTokenIds);
                last[output.RequestId] = output;
            }
        }
        return (tokens, last);
    }

    public void Dispose() => Weights.Dispose();
}
