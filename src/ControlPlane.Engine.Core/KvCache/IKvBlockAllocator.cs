namespace ControlPlane.Engine.Core.KvCache;

/// <summary>
/// Hands out KV blocks by id to the step scheduler. Full blocks can be named by their chained hash so that
/// later requests with the same prefix share them; what a backend stores in a block is its own business.
/// </summary>
public interface IKvBlockAllocator
{
    int Total { get; }

    /// <summary>Blocks that can be handed out now: never used, or cached with no holder.</summary>
    int Available { get; }

    bool TryAllocate(out int block);

    /// <summary>Takes a reference to the block named <paramref name="hash"/>, if one holds it.</summary>
    bool TryShare(ulong hash, out int block);

    /// <summary>Brings the block named <paramref name="hash"/> back from a lower tier (host memory), held once; false when none holds it.</summary>
    bool TryLoad(ulong hash, out int block)
    {
        block = -1;
        return false;
    }

    /// <summary>Names a block now that it is full and computed.</summary>
    void Name(int block, ulong hash, ulong parentHash);

    void Release(int block);
}
