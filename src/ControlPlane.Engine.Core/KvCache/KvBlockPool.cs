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
    private const int None = LruOrder.None;
    // Everything about a block in one 32-byte entry (one cache line touched per block), and the cache's LRU
    // order as a doubly linked list threaded through the entries: no allocation per block, so a simulator with
    // hundreds of engines churning millions of blocks stays fast and leaves the garbage collector idle.
    // Entries exist only for blocks handed out at least once (the array grows by doubling): an engine that never
    // fills its cache, as most of a thousand simulated ones do not, costs memory for what it used.
    private Block[] _blocks;
    private readonly Stack<int> _free = new();
    private int _fresh;
    private readonly Dictionary<ulong, int> _byHash = [];
    private LruOrder _order = new();
    private List<KvEvent> _events = [];

    public KvBlockPool(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        Total = blocks;
        _blocks = new Block[Math.Min(blocks, 256)];
    }

    public int Total { get; }
    public int Available => Total - _fresh + _free.Count + Cached;
    public int Used => Total - Available;

    /// <summary>Named blocks no request holds: the prefix cache.</summary>
    public int Cached { get; private set; }

    public bool TryAllocate(out int block)
    {
        if (_free.TryPop(out block) || TryFresh(out block))
        {
            _blocks[block].References = 1;
            return true;
        }
        if (_order.Oldest != None)
        {
            block = _order.Oldest;
            Unlink(block);
            ref var b = ref _blocks[block];
            _byHash.Remove(b.Hash);
            Lower?.Offer(block, b.Hash, b.Parent);
            _events.Add(new KvEvent(KvEventKind.Removed, b.Hash, b.Parent));
            b.Named = false;
            b.References = 1;
            return true;
        }
        block = -1;
        return false;
    }

    public bool TryShare(ulong hash, out int block)
    {
        if (!_byHash.TryGetValue(hash, out block))
            return false;
        if (_blocks[block].References++ == 0)
            Unlink(block);
        return true;
    }

    /// <summary>
    /// Brings the block named <paramref name="hash"/> back from the lower tier into a block of this pool, named and held
    /// once, as <see cref="TryShare"/> would have given it. False when no lower tier holds it or no block is free.
    /// </summary>
    public bool TryLoad(ulong hash, out int block)
    {
        block = -1;
        if (Lower is not { } lower || !lower.Contains(hash) || !TryAllocate(out block))
            return false;
        // Making room may have pushed the very copy out of a full lower tier: then the block goes back unused.
        if (!lower.TryLoad(hash, block, out var parent))
        {
            Release(block);
            block = -1;
            return false;
        }
        Name(block, hash, parent);
        LoadedBlocks++;
        return true;
    }

    /// <summary>The tier reclaimed named blocks are offered to, and missing ones looked up in; null: none.</summary>
    public IKvLowerTier? Lower { get; set; }

    /// <summary>Blocks brought back from <see cref="Lower"/> so far.</summary>
    public long LoadedBlocks { get; private set; }

    /// <summary>Every named block (held or cached) as a stored event: what an index rebuilds from.</summary>
    public IEnumerable<KvEvent> Holdings()
    {
        foreach (var (hash, block) in _byHash)
            yield return new KvEvent(KvEventKind.Stored, hash, _blocks[block].Parent);
    }

    /// <summary>The block named <paramref name="hash"/>, if this pool holds it (held or cached); takes no reference.</summary>
    public bool TryFind(ulong hash, out int block) => _byHash.TryGetValue(hash, out block);

    /// <summary>Names a block now that it is full; if another block already has the name, this one stays unnamed.</summary>
    public void Name(int block, ulong hash, ulong parentHash)
    {
        ref var b = ref _blocks[block];
        if (b.Named || !_byHash.TryAdd(hash, block))
            return;
        b.Named = true;
        b.Hash = hash;
        b.Parent = parentHash;
        _events.Add(new KvEvent(KvEventKind.Stored, hash, parentHash));
    }

    public void Release(int block)
    {
        ref var b = ref _blocks[block];
        if (b.References <= 0)
            throw new InvalidOperationException($"KV block {block} released more often than taken");
        if (--b.References > 0)
            return;
        if (b.Named)
            Append(block);
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

    private bool TryFresh(out int block)
    {
        block = -1;
        if (_fresh == Total)
            return false;
        if (_fresh == _blocks.Length)
            Array.Resize(ref _blocks, (int)Math.Min(Total, 2L * _blocks.Length));
        block = _fresh++;
        return true;
    }

    private void Append(int block)
    {
        _order.Append(_blocks, block);
        Cached++;
    }

    private void Unlink(int block)
    {
        _order.Unlink(_blocks, block);
        Cached--;
    }

    private struct Block : ILruLinked
    {
        public ulong Hash;
        public ulong Parent;
        public int References;
        public int Previous { get; set; }
        public int Next { get; set; }
        public bool Named;
    }
}
