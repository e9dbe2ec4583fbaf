namespace ControlPlane.Engine.Core.KvCache;

/// <summary>
/// A tier below the GPU's block pool (host memory): the pool offers it each named block it reclaims, before the block
/// is reused, and asks it for a block its own cache lacks.
/// </summary>
public interface IKvLowerTier
{
    /// <summary>Takes a copy of <paramref name="block"/>'s keys and values, named <paramref name="hash"/>, if it wants it.</summary>
    void Offer(int block, ulong hash, ulong parentHash);

    /// <summary>Whether the tier holds the block named <paramref name="hash"/>.</summary>
    bool Contains(ulong hash);

    /// <summary>Writes the copy named <paramref name="hash"/> into <paramref name="block"/>; false when it no longer holds it.</summary>
    bool TryLoad(ulong hash, int block, out ulong parentHash);
}
