using static TorchSharp.torch;

namespace ControlPlane.Engine.KvCache;

/// <summary>
/// The KV cache's memory: per layer one key and one value tensor of <c>blocks × block_size</c> slots, each
/// slot holding one token's keys or values for every KV head. Slot <c>b·block_size + i</c> is token i of block b.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    public PagedKvCache(int layers, int blocks, int blockSize, int kvHeads, int headDim, ScalarType dtype, Device device)
    {
        Blocks = blocks;
        BlockSize = blockSize;
        KvHeads = kvHeads;
        HeadDim = headDim;
        DType = dtype;
        Keys = [.. Enumerable.Range(0, layers).Select(_ => zeros([blocks * (long)blockSize, kvHeads, headDim], dtype, device))];
        Values = [.. Enumerable.Range(0, layers).Select(_ => zeros([blocks * (long)blockSize, kvHeads, headDim], dtype, device))];
    }

    public int Blocks { get; }
    public int BlockSize { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public ScalarType DType { get; }
    public IReadOnlyList<Tensor> Keys { get; }
    public IReadOnlyList<Tensor> Values { get; }

    /// <summary>Bytes one block takes across all layers, keys and values.</summary>
    public long BytesPerBlock => 2L * Keys.Count * BlockSize * KvHeads * HeadDim * Keys[0].ElementSize;

    /// <summary>How many blocks fit in <paramref name="bytes"/> for a model of this shape.</summary>
    public static int BlocksFor(long bytes, int layers, int blockSize, int kvHeads, int headDim, int elementSize) =>
        (int)Math.Max(0, bytes / (2L * layers * blockSize * kvHeads * headDim * elementSize));

    public void Dispose()
    {
        foreach (var t in Keys.Concat(Values))
            t.Dispose();
    }
}
