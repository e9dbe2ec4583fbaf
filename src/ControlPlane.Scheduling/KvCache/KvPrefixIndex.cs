using ControlPlane.KvCache;

namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// Which instance holds which KV block, and in which tier, from the engines' <see cref="KvEvent"/>s: the cluster-wide
/// prefix index. Block names are chained hashes, so a block names its whole prefix and a prompt's longest cached prefix
/// on an instance is its leading run of blocks that instance holds. Pure and single-threaded: the index shard grains
/// keep one each for their share of the names, every dispatcher a replica, and the simulator one for its cluster.
/// </summary>
public sealed class KvPrefixIndex
{
    private const byte OnGpu = 1;
    private const byte OnHost = 2;
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly Dictionary<Holding, byte> _holdings = [];
    private readonly Dictionary<ulong, int> _holders = [];

    /// <summary>(instance, block) pairs held, in either tier.</summary>
    public int Count => _holdings.Count;

    /// <summary>Distinct blocks held anywhere.</summary>
    public int Blocks => _holders.Count;

    /// <summary>Applies one instance's events, oldest first.</summary>
    public void Apply(string instance, IEnumerable<KvEvent> events)
    {
        var id = Intern(instance);
        foreach (var e in events)
        {
            var bit = e.Tier == KvTier.Host ? OnHost : OnGpu;
            var key = new Holding(e.BlockHash, id);
            _holdings.TryGetValue(key, out var tiers);
            var next = e.Kind == KvEventKind.Stored ? (byte)(tiers | bit) : (byte)(tiers & ~bit);
            if (next == tiers)
                continue;
            if (next == 0)
            {
                _holdings.Remove(key);
                if (--_holders[e.BlockHash] == 0)
                    _holders.Remove(e.BlockHash);
            }
            else
            {
                _holdings[key] = next;
                if (tiers == 0)
                    _holders[e.BlockHash] = _holders.GetValueOrDefault(e.BlockHash) + 1;
            }
        }
    }

    /// <summary>
    /// Forgets what the instance held (of the blocks in <paramref name="scope"/>, or all) and takes its current holdings
    /// instead: a rebuild, or a resync after lost events.
    /// </summary>
    public void Replace(string instance, IEnumerable<KvEvent> holdings, Func<ulong, bool>? scope = null)
    {
        Remove(instance, scope);
        Apply(instance, holdings);
    }

    /// <summary>Forgets an instance (gone, or about to send its whole state), or only its blocks in <paramref name="scope"/>.</summary>
    public void Remove(string instance, Func<ulong, bool>? scope = null)
    {
        if (_ids.TryGetValue(instance, out var id))
            RemoveWhere(k => k.Instance == id && (scope is null || scope(k.Hash)));
    }

    /// <summary>Forgets every holding of a block in <paramref name="scope"/> (a replica about to take a shard whole).</summary>
    public void RemoveBlocks(Func<ulong, bool> scope) => RemoveWhere(k => scope(k.Hash));

    /// <summary>Every holding as (instance, stored event by tier): what a shard sends a replica that must start over.</summary>
    public IEnumerable<(string Instance, KvEvent Event)> Holdings()
    {
        foreach (var (key, tiers) in _holdings)
        {
            if ((tiers & OnGpu) != 0)
                yield return (_names[key.Instance], new KvEvent(KvEventKind.Stored, key.Hash, 0));
            if ((tiers & OnHost) != 0)
                yield return (_names[key.Instance], new KvEvent(KvEventKind.Stored, key.Hash, 0, KvTier.Host));
        }
    }

    private void RemoveWhere(Func<Holding, bool> predicate)
    {
        foreach (var key in _holdings.Keys.Where(predicate).ToArray())
        {
            _holdings.Remove(key);
            if (--_holders[key.Hash] == 0)
                _holders.Remove(key.Hash);
        }
    }

    /// <summary>The tiers in which <paramref name="instance"/> holds the block, if any.</summary>
    public (bool Gpu, bool Host) Holds(string instance, ulong hash) =>
        _ids.TryGetValue(instance, out var id) && _holdings.TryGetValue(new Holding(hash, id), out var t)
            ? ((t & OnGpu) != 0, (t & OnHost) != 0)
            : (false, false);

    /// <summary>
    /// Every instance's longest cached prefix of a prompt named by <paramref name="hashes"/>: its leading run of held
    /// blocks and how many of those are only in host memory. Costs one lookup per instance for the first block, then
    /// one per instance still matching.
    /// </summary>
    public PrefixMatch Match(ReadOnlySpan<ulong> hashes)
    {
        var match = new PrefixMatch(hashes.Length);
        if (hashes.Length == 0 || !_holders.ContainsKey(hashes[0]))
            return match;
        var alive = new List<(int Id, int Host)>();
        for (var id = 0; id < _names.Count; id++)
        {
            if (_holdings.TryGetValue(new Holding(hashes[0], id), out var t))
                alive.Add((id, (t & OnGpu) != 0 ? 0 : 1));
        }
        var b = 1;
        for (; b < hashes.Length && alive.Count > 0; b++)
        {
            var hash = hashes[b];
            if (!_holders.ContainsKey(hash))
                break;
            var kept = 0;
            for (var i = 0; i < alive.Count; i++)
            {
                var (id, host) = alive[i];
                if (_holdings.TryGetValue(new Holding(hash, id), out var t))
                    alive[kept++] = (id, host + ((t & OnGpu) != 0 ? 0 : 1));
                else
                    match.Add(_names[id], b, host);
            }
            alive.RemoveRange(kept, alive.Count - kept);
        }
        foreach (var (id, host) in alive)
            match.Add(_names[id], b, host);
        return match;
    }

    private int Intern(string instance)
    {
        if (_ids.TryGetValue(instance, out var id))
            return id;
        id = _names.Count;
        _names.Add(instance);
        _ids[instance] = id;
        return id;
    }

    private readonly record struct Holding(ulong Hash, int Instance);
}
