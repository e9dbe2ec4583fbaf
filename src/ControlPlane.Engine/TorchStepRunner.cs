using ControlPlane.Engine.Core;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.KvCache;
using ControlPlane.Engine.Model;

namespace ControlPlane.Engine;

/// <summary>
/// Runs the engine core's planned steps on the device: one forward pass over every chunk (decode-only steps
/// as a CUDA graph replay when graphs are on), then sampling for the chunks that sample, with one small
/// read-back a step. Owns the paged KV cache's memory; the core owns which block is whose.
/// </summary>
public sealed partial class TorchStepRunner : IStepRunner
{
    public const string BackendName = "torchsharp";
    private readonly RotaryEmbedding _rope;
    private readonly PagedKvCache _cache;
    private readonly KvBlockCopier _copier;
    private readonly DecodeGraphs? _graphs;
    private readonly int _blockSize;
    private readonly StepLog? _stepLog;
    private readonly TorchSharp.torch.Device _device;

    public TorchStepRunner(LlamaWeights weights, TorchEngineOptions options)
    {
        _blockSize = options.KvBlockSize;
        _stepLog = StepLog.Open(options.StepLogPath);
        _device = weights.Device;
        var c = weights.Config;
        MaxContextTokens = Math.Min(options.MaxContextTokens, c.MaxPositionEmbeddings);
        _rope = new RotaryEmbedding(c, MaxContextTokens, weights.Device, weights.DType);
        var reason = "kernels off";
        var kernels = options.CudaKernels ? CudaKernels.TryCreate(c, options.KvBlockSize, weights.DType, weights.Device, out reason,
            Tuning(options)) : null;
        Acceleration = kernels is null ? $"eager ({reason})"
            : "kernels" + (kernels.HasPrefill ? ", prefill kernel" : "") + (kernels.HasTensorCoreDecode ? ", tensor-core decode attention" : "");
        Forward = new LlamaForward(weights, _rope, kernels);
        KvBlocks = options.KvBlocks ?? PagedKvCache.BlocksFor(options.KvCacheBytes, c.Layers, options.KvBlockSize, c.KvHeads, c.HeadDim, (int)weights.Embeddings.ElementSize);
        // Decode graphs pad their batches with rows that write to one extra block, which the pool never hands out.
        var graphs = kernels is not null && options.CudaGraphs;
        _cache = new PagedKvCache(c.Layers, KvBlocks + (graphs ? 1 : 0), options.KvBlockSize, c.KvHeads, c.HeadDim, weights.DType, weights.Device);
        _copier = new KvBlockCopier(_cache);
        KvLayout = new KvDataLayout($"paged/l{c.Layers}/kvh{c.KvHeads}/d{c.HeadDim}/layer-major,k-then-v", weights.DType.ToString(), _cache.BytesPerBlock);
        if (graphs)
        {
            try
            {
                _graphs = new DecodeGraphs(Forward, _cache, kernels!, KvBlocks, options.MaxRunningRequests, MaxContextTokens, options.DecodeProductsCache);
                if (options.CaptureGraphsAtStart)
                    _graphs.CaptureAll();
                Acceleration += ", decode graphs" + _graphs.ProductsNote;
            }
            catch (Exception e) when (e is CudaException or EntryPointNotFoundException or DllNotFoundException)
            {
                Acceleration += $" (no decode graphs: {e.Message})";
            }
        }
    }

    /// <summary>Kernel constants: the experiment's (<see cref="TorchEngineOptions.KernelTuning"/>), and the kernels an option turns off (none by default).</summary>
    private static Dictionary<string, int>? Tuning(TorchEngineOptions options)
    {
        var tuning = new Dictionary<string, int>(options.KernelTuning ?? new Dictionary<string, int>());
        if (!options.PrefillKernel)
            tuning["PREFILL"] = 0;
        if (!options.TensorCoreDecode)
            tuning["DECODE_TC"] = 0;
        if (!options.MeasureDecodeProducts)
            tuning["GEMM_TUNE"] = 0;
        return tuning.Count == 0 ? null : tuning;
    }

    public string Backend => BackendName;
    public KvDataLayout KvLayout { get; }

    /// <summary>Blocks the pool may hand out (the graphs' scratch block is not one of them).</summary>
    public int KvBlocks { get; }
    public int MaxContextTokens { get; }
    public string Acceleration { get; }
    public LlamaForward Forward { get; }
    public (int Count, TimeSpan Time) GraphCaptures => _graphs is null ? (0, TimeSpan.Zero) : (_graphs.Captured, _graphs.CaptureTime);

    /// <summary>
    /// Decode-graph steps run so far, and the host's time in them from the step's start until its graph was launched:
    /// time in which the GPU, done with the previous step (whose tokens were read back), waits for the host.
    /// </summary>
    public (int Steps, TimeSpan BeforeLaunch) GraphLaunchDelay => (_graphSteps, System.Diagnostics.Stopwatch.GetElapsedTime(0, _beforeLaunchTicks));

    /// <summary>Within <see cref="GraphLaunchDelay"/>: staging the inputs, queuing their copy, launching the graph.</summary>
    public (TimeSpan Stage, TimeSpan Copy, TimeSpan Launch) GraphHostTime => _graphs?.HostTime ?? default;

    private int _graphSteps;
    private long _beforeLaunchTicks;

    /// <summary>Each decode graph's attention partition size (tokens), by batch bucket and block-table width.</summary>
    public IReadOnlyDictionary<(int Batch, int Blocks), int> DecodePartitionTokens => _graphs?.PartitionTokens ?? new Dictionary<(int Batch, int Blocks), int>();

    /// <summary>Each decode product shape's measured algorithm (on by default; off with tuning GEMM_TUNE=0), in the order measured.</summary>
    public IReadOnlyList<DecodeProducts.Choice> DecodeProductChoices => _graphs?.ProductChoices ?? [];

    public StepRun Run(StepPlan plan)
    {
        _copier.Flush(); // blocks brought back from the host tier while this step was planned
        var chunks = plan.Chunks;
        var decodesOnly = true;
        var samples = false;
        var widest = 0;
        foreach (var c in chunks)
        {
            decodesOnly &= c.Count == 1 && c.Start > 0;
            samples |= c.Samples;
            widest = Math.Max(widest, c.Request.BlockTable.Count);
        }
        var startedAt = _stepLog is null ? default : DateTimeOffset.UtcNow;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var graph = _graphs is not null && decodesOnly && _graphs.Fits(chunks.Count, widest);
        var tokens = graph ? RunGraph(chunks, started) : RunEager(chunks);
        // A step that samples nothing (prompt chunks that are not a prompt's last) reads nothing back: wait for the
        // device, so that the step's time is its own and not charged to the next one.
        if (!samples && _device.type == TorchSharp.DeviceType.CUDA)
            TorchSharp.torch.cuda.synchronize(_device);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        _stepLog?.Write(chunks, graph, elapsed, startedAt);
        return new StepRun(tokens, elapsed);
    }

    public ValueTask PaceAsync(TimeSpan duration, TimeSpan computed, bool idle, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public void Dispose()
    {
        _graphs?.Dispose();
        _cache.Dispose();
        _rope.Dispose();
    }

    private int[] RunEager(IReadOnlyList<ScheduledChunk> chunks)
    {
        var total = chunks.Sum(c => c.Count);
        var tokens = new long[total];
        var positions = new long[total];
        var slots = new long[total];
        var slices = new List<SequenceSlice>(chunks.Count);
        var row = 0;
        foreach (var chunk in chunks)
        {
            var request = chunk.Request;
            var context = chunk.Start + chunk.Count;
            var contextSlots = new long[context];
            for (var p = 0; p < context; p++)
                contextSlots[p] = Slot(request.BlockTable, p);
            for (var j = 0; j < chunk.Count; j++)
            {
                tokens[row + j] = request.TokenAt(chunk.Start + j);
                positions[row + j] = chunk.Start + j;
                slots[row + j] = contextSlots[chunk.Start + j];
            }
            slices.Add(new SequenceSlice(row, chunk.Count, context, contextSlots, chunk.Samples));
            row += chunk.Count;
        }
        using var logits = Forward.Run(new ForwardBatch(tokens, positions, slots, slices), _cache);
        // The forward pass gives logits only for the chunks that sample, in plan order.
        var logitRow = 0;
        return Sample(chunks, [.. chunks.Select(c => c.Samples ? logitRow++ : -1)], logits);
    }

    /// <summary>A step of single new tokens (decodes) as one CUDA graph replay: no per-token slot lists, one input copy.</summary>
    private int[] RunGraph(IReadOnlyList<ScheduledChunk> chunks, long started)
    {
        var n = chunks.Count;
        var tokens = new long[n];
        var positions = new long[n];
        var slots = new long[n];
        var lengths = new long[n];
        var rowOf = new int[n];
        var tables = new List<int>[n];
        for (var i = 0; i < n; i++)
        {
            var chunk = chunks[i];
            var position = chunk.Start;
            tokens[i] = chunk.Request.TokenAt(position);
            positions[i] = position;
            slots[i] = Slot(chunk.Request.BlockTable, position);
            lengths[i] = position + 1;
            tables[i] = chunk.Request.BlockTable;
            rowOf[i] = chunk.Samples ? i : -1; // the graph gives every row's logits
        }
        using var hidden = _graphs!.Run(tokens, positions, slots, lengths, tables);
        _beforeLaunchTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        _graphSteps++;
        using var logits = Forward.Logits(hidden);
        return Sample(chunks, rowOf, logits);
    }

    private long Slot(List<int> table, int position) => (long)table[position / _blockSize] * _blockSize + position % _blockSize;
}
