using ControlPlane.KvCache;

namespace ControlPlane.Engine.Core.KvCache;

/// <summary>
/// Hands out KV blocks. A full block is named by its chained hash, so requests with the same prefix share
/// blocks by reference count. A named block whose count drops to zero keeps its contents as a cache entry
/// and is reclaimed least-recently-used first; blocks never named go back to the free list. Every naming and
/// every reclaim of a named block is recorded as a <see cref="KvEvent"/> until <see cref="DrainEvents"/>.
/// </summary>
public sealed class KvBlockPool : IKvBlockAllocator
{
    private readonly int[] _references;
    private readonly ulong?[] _hashOf;
    private readonly ulong[] _parentOf;
    private readonly Stack<int> _free = new();
    private readonly LinkedList<int> _cached = new();
    private readonly Dictionary<int, LinkedListNode<int>> _cachedNodes = [];
    private readonly Dictionary<ulong, int> _byHash = [];
    private List<KvEvent> _events = [];

    public KvBlockPool(int blocks)
    {
        _references = new int[blocks];
        _hashOf = new ulong?[blocks];
        _parentOf = new ulong[blocks];
        for (var b = blocks - 1; b >= 0; b--)
            _free.Push(b);
    }

    public int Total => _references.Length;
    public int Available => _free.Count + _cached.Count;
    public int Used => Total - Available;

    /// <summary>Named blocks no request holds: the prefix cache.</summary>
    public int Cached => _cached.Count;

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
            var hash = _hashOf[block]!.Value;
            _byHash.Remove(hash);
            _events.Add(new KvEvent(KvEventKind.Removed, hash, _parentOf[block]));
            _hashOf[block] = null;
            _references[block] = 1;
            return true;
        }
        block = -1;
        return false;
    }

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
    public void Name(int block, ulong hash, ulong parentHash)
    {
        if (_hashOf[block] is not null || _byHash.ContainsKey(hash))
            return;
        _hashOf[block] = hash;
        _parentOf[block] = parentHash;
        _byHash[hash] = block;
        _events.Add(new KvEvent(KvEventKind.Stored, hash, parentHash));
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

    /// <summary>The events recorded since the last call, oldest first.</summary>
    public IReadOnlyList<KvEvent> DrainEvents()
    {
        if (_events.Count == 0)
            return [];
        var events = _events;
        _events = [];
        return events;
    }
}
