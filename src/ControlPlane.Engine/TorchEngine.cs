using ControlPlane.Engine.Core;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Engine.Model;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine;

/// <summary>
/// A real inference engine for Llama-family models in TorchSharp: the shared <see cref="EngineCore"/>
/// (paged KV cache with prefix sharing, continuous batching with chunked prefill, admission by free blocks,
/// recompute preemption, stop strings, KV export/import) over <see cref="TorchStepRunner"/>, which runs each
/// planned step on the device. Driven from one loop (see <see cref="ControlPlane.Engines.IEngine"/>).
/// </summary>
public sealed class TorchEngine : EngineCore
{
    public const string BackendName = TorchStepRunner.BackendName;

    public TorchEngine(string model, LlamaWeights weights, ITokenizer tokenizer, TorchEngineOptions? options = null, Random? random = null)
        : this(model, new TorchStepRunner(weights, options ?? new TorchEngineOptions()), tokenizer, options ?? new TorchEngineOptions(), random)
    {
    }

    private TorchEngine(string model, TorchStepRunner runner, ITokenizer tokenizer, TorchEngineOptions options, Random? random)
        : base(model, runner, runner.KvBlocks, new SchedulerOptions
        {
            KvBlockSize = options.KvBlockSize,
            MaxBatchedTokens = options.MaxBatchedTokens,
            MaxRunningRequests = options.MaxRunningRequests,
            MaxContextTokens = runner.MaxContextTokens,
        }, tokenizer, random: random)
    {
        Runner = runner;
    }

    public TorchStepRunner Runner { get; }

    /// <summary>How steps run: eager TorchSharp ops (and why), the engine's CUDA kernels, and decode graphs.</summary>
    public string Acceleration => Runner.Acceleration;

    /// <summary>Decode graphs captured so far, and the time their captures took.</summary>
    public (int Count, TimeSpan Time) GraphCaptures => Runner.GraphCaptures;

    /// <summary>Decode-graph steps so far, and the host's time in them before each graph was launched (the GPU waits meanwhile).</summary>
    public (int Steps, TimeSpan BeforeLaunch) GraphLaunchDelay => Runner.GraphLaunchDelay;

    /// <summary>Within <see cref="GraphLaunchDelay"/>: staging the inputs, queuing their copy to the device, launching the graph.</summary>
    public (TimeSpan Stage, TimeSpan Copy, TimeSpan Launch) GraphHostTime => Runner.GraphHostTime;

    /// <summary>Each decode graph's attention partition size (tokens), by batch bucket and block-table width.</summary>
    public IReadOnlyDictionary<(int Batch, int Blocks), int> DecodePartitionTokens => Runner.DecodePartitionTokens;

    /// <summary>Each decode product shape's measured algorithm (on by default; off with tuning GEMM_TUNE=0).</summary>
    public IReadOnlyList<Cuda.DecodeProducts.Choice> DecodeProductChoices => Runner.DecodeProductChoices;

    public LlamaForward Forward => Runner.Forward;
}
