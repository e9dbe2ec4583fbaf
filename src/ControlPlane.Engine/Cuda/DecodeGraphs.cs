using ControlPlane.Engine.KvCache;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Decode-only steps replayed as CUDA graphs, one per (batch bucket, block-table width): the step's hundreds
/// of kernel launches become one graph launch, which removes the host's per-op cost. A graph reads its
/// inputs (tokens, positions, slots, lengths, block tables) from one static device buffer that each step
/// overwrites with a single copy; rows beyond the real batch point at a scratch block outside the pool.
/// Graphs are captured on first use, or all at start (<see cref="CaptureAll"/>, as the worker does on a GPU), in one
/// private memory pool.
/// </summary>
public sealed unsafe class DecodeGraphs : IDisposable
{
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];
    private readonly LlamaForward _forward;
    private readonly PagedKvCache _cache;
    private readonly CudaKernels _kernels;
    private readonly int _scratchBlock;
    private readonly int _maxBatch;
    private readonly int _maxBlocks;
    private readonly sbyte _device;
    private readonly IntPtr _stream;
    private readonly TorchCudaApi.CudaStream _captureStream;
    private readonly Dictionary<(int Batch, int Blocks), Graph> _graphs = [];
    private readonly DecodePartitionTuner? _tuner;
    private readonly DecodeProducts? _products;
    private readonly string? _productsUnavailable;
    private TorchCudaApi.MemoryPoolId _pool;

    /// <summary>
    /// Page-locked host memory for a step's inputs, as large as the largest graph's (made at start, so that no step pays
    /// for it): steps are staged here and copied without waiting. One for all graphs: a step's copy is done before the
    /// next is staged, as every step ends with its tokens read back.
    /// </summary>
    private readonly Tensor _staging;

    /// <summary>
    /// Graphs for <paramref name="forward"/>; padding rows write and read <paramref name="scratchBlock"/>, a cache block no
    /// request owns. Where the kernels measure products, <paramref name="productsCachePath"/> (if any) keeps their choices
    /// across starts (<see cref="DecodeProductsCache"/>).
    /// </summary>
    public DecodeGraphs(LlamaForward forward, PagedKvCache cache, CudaKernels kernels, int scratchBlock, int maxBatch, int maxContextTokens,
        string? productsCachePath = null)
    {
        TorchCudaApi.Probe();
        _forward = forward;
        _cache = cache;
        _kernels = kernels;
        _scratchBlock = scratchBlock;
        _maxBatch = BatchBuckets.FirstOrDefault(b => b >= maxBatch, BatchBuckets[^1]);
        _maxBlocks = (int)Math.Min(1 << 20, NextPowerOfTwo((maxContextTokens + cache.BlockSize - 1) / cache.BlockSize));
        _device = (sbyte)Math.Max(0, (int)forward.Weights.Device.index);
        // A blocking stream: it orders itself with the legacy default stream the rest of the engine uses.
        CudaApi.Check(CudaApi.cuStreamCreate(out _stream, 0), "cuStreamCreate");
        _captureStream = TorchCudaApi.GetStreamFromExternal(_stream, _device);
        using (var pageable = empty([_maxBatch * (4L + Math.Max(4, _maxBlocks))], ScalarType.Int64, CPU)) // graphs are at least 4 blocks wide
            _staging = pageable.pin_memory();
        if (kernels.TunesPartitions)
            _tuner = new DecodePartitionTuner(kernels, cache, scratchBlock, forward.Weights.Config.Heads, forward.Weights.DType, forward.Weights.Device);
        // Without cuBLASLt the graphs still run, on libtorch's products: the reason is kept for the engine to report.
        if (kernels.TunesProducts && (_products = DecodeProducts.TryCreate(forward.Weights.DType, forward.Weights.Device, out var reason, productsCachePath)) is null)
            _productsUnavailable = reason;
    }

    /// <summary>
    /// What the products are, for the engine's acceleration line: measured at capture (with how the choices file served),
    /// libtorch's because cuBLASLt could not be opened (and why), or empty where the kernels do not measure them.
    /// </summary>
    public string ProductsNote => _products is { } products ? ", measured products" + (products.CacheNote is { } note ? $" ({note})" : "")
        : _productsUnavailable is { } why ? $" (libtorch's products: {why})" : "";

    /// <summary>What each product shape measured at capture and which algorithm it took (empty unless the kernels tune products).</summary>
    public IReadOnlyList<DecodeProducts.Choice> ProductChoices => _products?.Choices ?? [];

    public int Captured => _graphs.Count;

    /// <summary>Each captured graph's attention partition size (tokens): measured at capture where the kernels tune it.</summary>
    public IReadOnlyDictionary<(int Batch, int Blocks), int> PartitionTokens => _graphs.ToDictionary(g => g.Key, g => g.Value.PartitionTokens);

    /// <summary>Time spent capturing graphs so far (with the partition sizes' measurement).</summary>
    public TimeSpan CaptureTime { get; private set; }

    /// <summary>
    /// Captures every graph a step can need (each batch bucket up to the largest batch, each block-table width up
    /// to the longest context), so that serving never stalls on a capture.
    /// </summary>
    public void CaptureAll()
    {
        for (var blocks = 4; blocks <= _maxBlocks; blocks *= 2)
        {
            foreach (var bucket in BatchBuckets.Where(b => b <= _maxBatch))
            {
                if (!_graphs.ContainsKey((bucket, blocks)))
                    _graphs.Add((bucket, blocks), Capture(bucket, blocks, Stage(bucket, blocks, [], [], [], [], [])));
            }
        }
    }

    /// <summary>Whether a decode step of <paramref name="batch"/> sequences holding up to <paramref name="blocks"/> blocks has a graph.</summary>
    public bool Fits(int batch, int blocks) => batch <= _maxBatch && blocks <= _maxBlocks;

    /// <summary>
    /// Runs one decode step: row i decodes <paramref name="tokens"/>[i] at <paramref name="positions"/>[i], writing
    /// its KV to <paramref name="slots"/>[i], attending over <paramref name="lengths"/>[i] tokens through
    /// <paramref name="tables"/>[i]. Returns the final-normed hidden states [batch, hidden]: a view of the graph's
    /// output, valid until the next step.
    /// </summary>
    public Tensor Run(long[] tokens, long[] positions, long[] slots, long[] lengths, IReadOnlyList<List<int>> tables)
    {
        var batch = tokens.Length;
        var bucket = BatchBuckets.First(b => b >= batch);
        var widest = tables.Max(t => t.Count);
        var blocks = (int)Math.Max(4, NextPowerOfTwo(widest));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!_graphs.TryGetValue((bucket, blocks), out var graph))
        {
            graph = Capture(bucket, blocks, Stage(bucket, blocks, tokens, positions, slots, lengths, tables));
            _graphs.Add((bucket, blocks), graph);
        }
        else
        {
            // Staged straight into pinned host memory and copied without waiting: the copy and the graph are queued
            // back to back.
            var length = graph.Inputs.numel();
            Stage(bucket, blocks, _scratchBlock, _cache.BlockSize, tokens, positions, slots, lengths, tables, new Span<long>((void*)TorchCudaApi.DataPointer(_staging), (int)length));
            var staged = System.Diagnostics.Stopwatch.GetTimestamp();
            // The driver's copy on the stream the graph replays on, where that is the default one (libtorch's copy_
            // of a pinned tensor costs 15-60 us of host time a step on the H200's host, mostly its own bookkeeping).
            if (_kernels.DriverCopy && TorchCudaApi.GetCurrentStream(_device).Id == 0)
                CudaApi.CopyToDevice(_kernels.Context, TorchCudaApi.DataPointer(graph.Inputs), TorchCudaApi.DataPointer(_staging), length * sizeof(long));
            else
            {
                using var part = _staging.narrow(0, 0, length);
                graph.Inputs.copy_(part, true);
            }
            var copied = System.Diagnostics.Stopwatch.GetTimestamp();
            _stageTicks += staged - started;
            _copyTicks += copied - staged;
            started = copied;
        }
        TorchCudaApi.GraphReplay(graph.Handle);
        _launchTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
        return graph.Output.narrow(0, 0, batch);
    }

    private long _stageTicks, _copyTicks, _launchTicks;

    /// <summary>
    /// The host's time in <see cref="Run"/> so far (the GPU waits through it): staging a step's inputs, queuing their copy
    /// to the device, and launching the graph (with the capture, where a step met a graph not yet captured).
    /// </summary>
    public (TimeSpan Stage, TimeSpan Copy, TimeSpan Launch) HostTime =>
        (System.Diagnostics.Stopwatch.GetElapsedTime(0, _stageTicks), System.Diagnostics.Stopwatch.GetElapsedTime(0, _copyTicks),
         System.Diagnostics.Stopwatch.GetElapsedTime(0, _launchTicks));

    /// <summary>
    /// A graph's input buffer: tokens, positions, slots and lengths [bucket] each, then block tables [bucket, blocks];
    /// rows past the real ones decode token 0 into the scratch block.
    /// </summary>
    private long[] Stage(int bucket, int blocks, long[] tokens, long[] positions, long[] slots, long[] lengths, IReadOnlyList<List<int>> tables)
    {
        var host = new long[bucket * (4 + blocks)];
        Stage(bucket, blocks, _scratchBlock, _cache.BlockSize, tokens, positions, slots, lengths, tables, host);
        return host;
    }

    /// <summary>
    /// Writes a step's inputs into <paramref name="host"/> as a graph reads them (see the overload above); static, so the
    /// engine benchmark's <c>stage-tiering</c> times this very loop without a GPU.
    /// </summary>
    internal static void Stage(int bucket, int blocks, int scratchBlock, int blockSize, long[] tokens, long[] positions, long[] slots, long[] lengths,
        IReadOnlyList<List<int>> tables, Span<long> host)
    {
        var scratchSlot = (long)scratchBlock * blockSize;
        for (var i = 0; i < bucket; i++)
        {
            var real = i < tokens.Length;
            host[i] = real ? tokens[i] : 0;
            host[bucket + i] = real ? positions[i] : 0;
            host[2 * bucket + i] = real ? slots[i] : scratchSlot;
            host[3 * bucket + i] = real ? lengths[i] : 1;
            var row = 4 * bucket + i * blocks;
            var table = real ? tables[i] : [];
            for (var j = 0; j < blocks; j++)
                host[row + j] = j < table.Count ? table[j] : scratchBlock;
        }
    }

    private Graph Capture(int batch, int blocks, long[] host)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return CaptureNow(batch, blocks, host);
        }
        finally
        {
            CaptureTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
    }

    private Graph CaptureNow(int batch, int blocks, long[] host)
    {
        var inputs = tensor(host, device: _forward.Weights.Device);
        var partitionTokens = _tuner?.Choose(batch, blocks) ?? _kernels.PartitionTokens(batch, blocks * _cache.BlockSize);
        _products?.Prepare(batch, _forward.Weights);
        var decode = new DecodeInputs(
            inputs.narrow(0, 0, batch), inputs.narrow(0, batch, batch), inputs.narrow(0, 2 * batch, batch), inputs.narrow(0, 3 * batch, batch),
            inputs.narrow(0, 4 * batch, batch * blocks).view(batch, blocks), partitionTokens,
            (blocks * _cache.BlockSize + partitionTokens - 1) / partitionTokens);
        cuda.synchronize();
        var previous = TorchCudaApi.GetCurrentStream(_device);
        TorchCudaApi.SetCurrentStream(_captureStream);
        _kernels.Stream = _stream;
        _kernels.Products = _products;
        var handle = System.Runtime.InteropServices.NativeMemory.AllocZeroed(TorchCudaApi.GraphObjectBytes);
        try
        {
            // A warm-up on the capture stream first, as torch.cuda.graph does: libraries set up their
            // per-stream state (cuBLAS workspaces) outside the capture.
            _forward.RunDecode(decode, _cache).Dispose();
            cuda.synchronize();
            unsafe
            {
                TorchCudaApi.GraphConstruct((IntPtr)handle, 0);
                TorchCudaApi.GraphCaptureBegin((IntPtr)handle, _pool.First, _pool.Second, TorchCudaApi.CaptureModeThreadLocal);
                Tensor output;
                try
                {
                    output = _forward.RunDecode(decode, _cache);
                }
                finally
                {
                    TorchCudaApi.GraphCaptureEnd((IntPtr)handle);
                }
                if (_pool == default)
                    _pool = TorchCudaApi.GraphPool((IntPtr)handle);
                return new Graph((IntPtr)handle, inputs, decode, output);
            }
        }
        catch
        {
            unsafe
            {
                System.Runtime.InteropServices.NativeMemory.Free(handle);
            }
            throw;
        }
        finally
        {
            TorchCudaApi.SetCurrentStream(previous);
            _kernels.Stream = IntPtr.Zero;
            _kernels.Products = null;
        }
    }

    private static long NextPowerOfTwo(long n)
    {
        var p = 1L;
        while (p < n)
            p <<= 1;
        return p;
    }

    public void Dispose()
    {
        foreach (var graph in _graphs.Values)
            graph.Dispose();
        _graphs.Clear();
        _products?.Dispose(); // after the graphs: their products write through its workspace
        _staging.Dispose();
    }

    private sealed class Graph(IntPtr handle, Tensor inputs, DecodeInputs decode, Tensor output) : IDisposable
    {
        public IntPtr Handle { get; } = handle;
        public int PartitionTokens => decode.PartitionTokens;
        public Tensor Inputs { get; } = inputs;
        public Tensor Output { get; } = output;

        public void Dispose()
        {
            Output.Dispose();
            foreach (var view in new[] { decode.Tokens, decode.Positions, decode.Slots, decode.Lengths, decode.Tables })
                view.Dispose();
            Inputs.Dispose();
            TorchCudaApi.GraphDestruct(Handle);
            unsafe
            {
                System.Runtime.InteropServices.NativeMemory.Free((void*)Handle);
            }
        }
    }
}

/// <summary>A decode step's inputs on the device; every row decodes one token.</summary>
public sealed record DecodeInputs(Tensor Tokens, Tensor Positions, Tensor Slots, Tensor Lengths, Tensor Tables, int PartitionTokens, int Partitions);
