using ControlPlane.KvCache;

namespace ControlPlane.Engine.Core.KvCache;

/// <summary>
/// The host-memory tier of one engine: named blocks the GPU pool reclaims are copied here (bounded, least recently used
/// dropped first), and come back on a later prefix hit instead of being recomputed. The copy is inclusive: a block
/// loaded back stays here too, so a second eviction costs no copy. Reads and writes go through the runner
/// (its <see cref="IKvHostStore"/>: pinned host memory on CUDA, block to slot with no managed copy; else
/// <see cref="IStepRunner.ReadBlocks"/>' arrays; nothing at all for a simulated runner, which only counts the blocks). Every block stored or dropped is a <see cref="KvEvent"/> of tier <see cref="KvTier.Host"/>.
/// </summary>
public sealed class HostKvTier : IKvLowerTier, IDisposable
{
    private readonly IKvHostStore? _store;
    private readonly IStepRunner _runner;
    private readonly Dictionary<ulong, int> _byHash = [];
    // Entries in arrays with the LRU order threaded through them, as in KvBlockPool: a simulator with many engines
    // holding millions of host blocks allocates nothing per block.
    private Entry[] _entries;
    private byte[]?[] _data;
    private int _count;
    private LruOrder _order = new();
    private readonly Stack<int> _free = new();
    private List<KvEvent> _events = [];

    public HostKvTier(IStepRunner runner, int capacityBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBlocks);
        _runner = runner;
        Capacity = capacityBlocks;
        _entries = new Entry[Math.Min(capacityBlocks, 256)];
        _data = new byte[]?[_entries.Length];
        _store = capacityBlocks > 0 ? runner.CreateHostStore(capacityBlocks) : null;
    }

    public void Dispose() => _store?.Dispose();

    public int Capacity { get; }
    public int Count => _byHash.Count;

    /// <summary>Blocks copied in from the GPU so far (those copied back are counted by the pool: <see cref="KvBlockPool.LoadedBlocks"/>).</summary>
    public long StoredBlocks { get; private set; }

    public bool Contains(ulong hash) => _byHash.ContainsKey(hash);

    public void Offer(int block, ulong hash, ulong parentHash)
    {
        if (Capacity == 0)
            return;
        if (_byHash.TryGetValue(hash, out var held))
        {
            Touch(held);
            return;
        }
        if (_byHash.Count == Capacity)
            Drop(_order.Oldest);
        var slot = _free.TryPop(out var s) ? s : _count++;
        if (slot == _entries.Length)
        {
            var size = (int)Math.Min(Capacity, 2L * _entries.Length);
            Array.Resize(ref _entries, size);
            Array.Resize(ref _data, size);
        }
        if (_store is not null)
            _store.Save(block, slot);
        else
        {
            var bytes = _runner.ReadBlocks([block]);
            _data[slot] = bytes.Length == 0 ? null : bytes;
        }
        _entries[slot] = new Entry { Hash = hash, Parent = parentHash };
        _byHash[hash] = slot;
        Append(slot);
        StoredBlocks++;
        _events.Add(new KvEvent(KvEventKind.Stored, hash, parentHash, KvTier.Host));
    }

    public bool TryLoad(ulong hash, int block, out ulong parentHash)
    {
        parentHash = 0;
        if (!_byHash.TryGetValue(hash, out var slot))
            return false;
        if (_store is not null)
            _store.Load(slot, block);
        else
            _runner.WriteBlocks([block], _data[slot] ?? []);
        parentHash = _entries[slot].Parent;
        Touch(slot);
        return true;
    }

    /// <summary>Every block held, as stored events: what an index rebuilds from.</summary>
    public IEnumerable<KvEvent> Holdings()
    {
        foreach (var slot in _byHash.Values)
            yield return new KvEvent(KvEventKind.Stored, _entries[slot].Hash, _entries[slot].Parent, KvTier.Host);
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

    private void Drop(int slot)
    {
        Unlink(slot);
        ref var e = ref _entries[slot];
        _byHash.Remove(e.Hash);
        _data[slot] = null;
        _free.Push(slot);
        _events.Add(new KvEvent(KvEventKind.Removed, e.Hash, e.Parent, KvTier.Host));
    }

    private void Touch(int slot)
    {
        if (slot == _order.Newest)
            return;
        Unlink(slot);
        Append(slot);
    }

    private void Append(int slot) => _order.Append(_entries, slot);

    private void Unlink(int slot) => _order.Unlink(_entries, slot);

    private struct Entry : ILruLinked
    {
        public ulong Hash;
        public ulong Parent;
        public int Previous { get; set; }
        public int Next { get; set; }
    }
}
