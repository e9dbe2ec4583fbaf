namespace ControlPlane.Engine.KvCache;

/// <summary>
/// Hands out KV blocks. A full block is named by a chained hash of its tokens (the hash of the block before
/// it and its own tokens), so requests with the same prefix share blocks by reference count. A block whose
/// count drops to zero keeps its contents as a cache entry and is reused least-recently-used first; blocks
/// never named go back to the free list.
/// </summary>
public sealed class KvBlockPool
{
    private readonly int[] _references;
    private readonly ulong?[] _hashOf;
    private readonly Stack<int> _free = new();
    private readonly LinkedList<int> _cached = new();
    private readonly Dictionary<int, LinkedListNode<int>> _cachedNodes = [];
    private readonly Dictionary<ulong, int> _byHash = [];

    public KvBlockPool(int blocks)
    {
        _references = new int[blocks];
        _hashOf = new ulong?[blocks];
        for (var b = blocks - 1; b >= 0; b--)
            _free.Push(b);
    }

    public int Total => _references.Length;

    /// <summary>Blocks that can be handed out now: never used, or cached with no holder.</summary>
    public int Available => _free.Count + _cached.Count;
    public int Used => Total - Available;

    public bool TryAllocate(out int block)
    {
        if (_free.TryPop(out block))
        {
            _references[block] = 1;
            return true;
        }
        if (_cached.First is { } lru)
        {
            block = lru.Value;
            _cached.RemoveFirst();
            _cachedNodes.Remove(block);
            _byHash.Remove(_hashOf[block]!.Value);
            _hashOf[block] = null;
            _references[block] = 1;
            return true;
        }
        block = -1;
        return false;
    }

    /// <summary>Takes a reference to the block named <paramref name="hash"/>, if one holds it.</summary>
    public bool TryShare(ulong hash, out int block)
    {
        if (!_byHash.TryGetValue(hash, out block))
            return false;
        if (_references[block]++ == 0)
        {
            _cached.Remove(_cachedNodes[block]);
            _cachedNodes.Remove(block);
        }
        return true;
    }

    /// <summary>Names a block now that it is full; if another block already has the name, this one stays unnamed.</summary>
    public void Name(int block, ulong hash)
    {
        if (_hashOf[block] is not null || _byHash.ContainsKey(hash))
            return;
        _hashOf[block] = hash;
        _byHash[hash] = block;
    }

    public void Release(int block)
    {
        if (_references[block] <= 0)
            throw new InvalidOperationException($"KV block {block} released more often than taken");
        if (--_references[block] > 0)
            return;
        if (_hashOf[block] is not null)
            _cachedNodes[block] = _cached.AddLast(block);
        else
            _free.Push(block);
    }

    /// <summary>The chained hash of a full block: FNV-1a over the previous block's hash and this block's tokens.</summary>
    public static ulong ChainHash(ulong previous, ReadOnlySpan<int> tokens)
    {
        var h = 14695981039346656037UL ^ previous;
        h *= 1099511628211UL;
        foreach (var t in tokens)
        {
            h ^= (uint)t;
            h *= 1099511628211UL;
        }
        return h;
    }
}
