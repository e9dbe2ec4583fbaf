using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.KvCache;
using ControlPlane.Engine.Model;
using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine;

/// <summary>
/// A real inference engine for Llama-family models in TorchSharp: paged KV cache with prefix sharing,
/// continuous batching with chunked prefill, admission by free blocks, recompute preemption, sampling with
/// stop strings, and KV export/import. Driven from one loop (see <see cref="IEngine"/>).
/// </summary>
public sealed partial class TorchEngine : IEngine
{
    public const string BackendName = "torchsharp";
    private readonly LlamaForward _forward;
    private readonly RotaryEmbedding _rope;
    private readonly PagedKvCache _cache;
    private readonly DecodeGraphs? _graphs;
    private readonly KvBlockPool _pool;
    private readonly ITokenizer _tokenizer;
    private readonly TorchEngineOptions _options;
    private readonly Random _random;
    private readonly SortedSet<TorchSequence> _waiting = new(Comparer<TorchSequence>.Create(Order));
    private readonly List<TorchSequence> _running = [];
    private readonly Dictionary<string, TorchSequence> _byId = new(StringComparer.Ordinal);
    private long _arrivals;
    private long _preemptions;

    public TorchEngine(string model, LlamaWeights weights, ITokenizer tokenizer, TorchEngineOptions? options = null, Random? random = null)
    {
        _options = options ?? new TorchEngineOptions();
        _tokenizer = tokenizer;
        _random = random ?? new Random();
        var c = weights.Config;
        var maxContext = Math.Min(_options.MaxContextTokens, c.MaxPositionEmbeddings);
        _rope = new RotaryEmbedding(c, maxContext, weights.Device, weights.DType);
        var reason = "kernels off";
        var kernels = _options.CudaKernels ? CudaKernels.TryCreate(c, _options.KvBlockSize, weights.DType, weights.Device, out reason) : null;
        Acceleration = kernels is null ? $"eager ({reason})" : "kernels";
        _forward = new LlamaForward(weights, _rope, kernels);
        var blocks = _options.KvBlocks ?? PagedKvCache.BlocksFor(_options.KvCacheBytes, c.Layers, _options.KvBlockSize, c.KvHeads, c.HeadDim, (int)weights.Embeddings.ElementSize);
        // Decode graphs pad their batches with rows that write to one extra block, which the pool never hands out.
        var graphs = kernels is not null && _options.CudaGraphs;
        _cache = new PagedKvCache(c.Layers, blocks + (graphs ? 1 : 0), _options.KvBlockSize, c.KvHeads, c.HeadDim, weights.DType, weights.Device);
        _pool = new KvBlockPool(blocks);
        if (graphs)
        {
            try
            {
                _graphs = new DecodeGraphs(_forward, _cache, kernels!, blocks, _options.MaxRunningRequests, maxContext);
                if (_options.CaptureGraphsAtStart)
                    _graphs.CaptureAll();
                Acceleration = "kernels, decode graphs";
            }
            catch (Exception e) when (e is CudaException or EntryPointNotFoundException or DllNotFoundException)
            {
                Acceleration = $"kernels (no decode graphs: {e.Message})";
            }
        }
        Descriptor = new EngineDescriptor { Model = model, Backend = BackendName, KvBlockSize = _options.KvBlockSize, TotalKvBlocks = blocks, MaxContextTokens = maxContext };
    }

    public EngineDescriptor Descriptor { get; }

    /// <summary>How steps run: eager TorchSharp ops (and why), the engine's CUDA kernels, and decode graphs.</summary>
    public string Acceleration { get; }

    /// <summary>Decode graphs captured so far, and the time their captures took.</summary>
    public (int Count, TimeSpan Time) GraphCaptures => _graphs is null ? (0, TimeSpan.Zero) : (_graphs.Captured, _graphs.CaptureTime);
    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;
    public LlamaForward Forward => _forward;
    public KvBlockPool Pool => _pool;
    private int BlockSize => _options.KvBlockSize;

    public void Add(RequestSpec request)
    {
        if (_byId.ContainsKey(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already in this engine");
        if (request.PromptTokenIds.Count == 0)
            throw new EngineRejectedException("the prompt is empty");
        if (request.PromptTokenIds.Count + request.Sampling.MaxTokens > Descriptor.MaxContextTokens)
            throw new EngineRejectedException($"prompt ({request.PromptTokenIds.Count}) plus max tokens ({request.Sampling.MaxTokens}) exceed the context of {Descriptor.MaxContextTokens}");
        if (BlocksFor(request.PromptTokenIds.Count + 1) > _pool.Total)
            throw new EngineRejectedException($"a prompt of {request.PromptTokenIds.Count} tokens needs more KV blocks than this engine has ({_pool.Total})");
        var vocabulary = _forward.Weights.Config.VocabularySize;
        if (request.PromptTokenIds.Any(t => t < 0 || t >= vocabulary))
            throw new EngineRejectedException($"the prompt holds token ids outside the vocabulary of {vocabulary}");
        var sequence = new TorchSequence(request, RandomFor(request), _arrivals++, _tokenizer);
        _byId.Add(request.RequestId, sequence);
        _waiting.Add(sequence);
    }

    public ValueTask<EngineStepResult> StepAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = ComputeStep();
        return ValueTask.FromResult(result with { Duration = System.Diagnostics.Stopwatch.GetElapsedTime(started) });
    }

    public bool Abort(string requestId)
    {
        if (!_byId.Remove(requestId, out var sequence))
            return DropImport(requestId);
        _waiting.Remove(sequence);
        _running.Remove(sequence);
        ReleaseBlocks(sequence);
        return true;
    }

    public EngineSnapshot Snapshot()
    {
        var waitingBlocks = 0;
        foreach (var s in _waiting)
            waitingBlocks += Math.Max(0, BlocksFor(s.ContextTokens + 1) - s.BlockTable.Count);
        return new EngineSnapshot
        {
            RunningRequests = _running.Count,
            WaitingRequests = _waiting.Count,
            UsedKvBlocks = _pool.Used,
            TotalKvBlocks = _pool.Total,
            WaitingKvBlocks = waitingBlocks,
            PreemptionCount = _preemptions,
        };
    }

    public void Dispose()
    {
        foreach (var id in _byId.Keys.ToArray())
            Abort(id);
        _graphs?.Dispose();
        _cache.Dispose();
        _rope.Dispose();
    }

    private int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    private Random RandomFor(RequestSpec request) => OutputRules.RandomFor(request, _random);

    private void ReleaseBlocks(TorchSequence sequence)
    {
        foreach (var block in sequence.BlockTable)
            _pool.Release(block);
        sequence.BlockTable.Clear();
        sequence.BlockHashes.Clear();
        sequence.ComputedTokens = 0;
    }

    private static int Order(TorchSequence? x, TorchSequence? y) =>
        ReferenceEquals(x, y) ? 0 : OutputRules.CompareWaiting(x!.Spec, x.ArrivalOrder, y!.Spec, y.ArrivalOrder);
}
