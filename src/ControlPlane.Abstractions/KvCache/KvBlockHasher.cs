using System.Text;

namespace ControlPlane.KvCache;

/// <summary>
/// Names full KV blocks by a chained hash: FNV-1a over the previous block's hash and this block's tokens.
/// The chain starts from a seed made of the model and the block size, so equal names on two instances mean
/// equal keys and values, and names of different models or block sizes never meet in a cluster-wide index.
/// </summary>
public sealed class KvBlockHasher
{
    private const ulong Offset = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    public KvBlockHasher(string model, int blockSize)
    {
        BlockSize = blockSize;
        var h = Offset;
        foreach (var b in Encoding.UTF8.GetBytes(model))
            h = (h ^ b) * Prime;
        Seed = (h ^ (uint)blockSize) * Prime;
    }

    public int BlockSize { get; }

    /// <summary>The "previous hash" of a request's first block.</summary>
    public ulong Seed { get; }

    public static ulong Chain(ulong previous, ReadOnlySpan<int> tokens)
    {
        var h = (Offset ^ previous) * Prime;
        foreach (var t in tokens)
            h = (h ^ (uint)t) * Prime;
        return h;
    }

    /// <summary>The chained hashes of every full block of <paramref name="tokens"/>.</summary>
    public ulong[] HashAll(ReadOnlySpan<int> tokens)
    {
        var hashes = new ulong[tokens.Length / BlockSize];
        var previous = Seed;
        for (var b = 0; b < hashes.Length; b++)
            previous = hashes[b] = Chain(previous, tokens.Slice(b * BlockSize, BlockSize));
        return hashes;
    }
}
