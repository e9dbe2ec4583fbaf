using ControlPlane.Engine.Core.KvCache;
using ControlPlane.KvCache;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core;

public partial class EngineCore
{
    /// <summary>The host-memory tier under the GPU pool; null until <see cref="AddHostTier"/>.</summary>
    public HostKvTier? HostTier { get; private set; }

    /// <summary>
    /// The most blocks one exported prefix part holds (about 256 MiB of them): a long prefix goes as several parts, each
    /// a buffer the runtime can hold (a 32k-token Llama-3-8B prefix is 4 GiB) and the receiver can take in at once.
    /// </summary>
    public int MaxPrefixPartBlocks => Descriptor.KvBytesPerBlock > 0 ? (int)Math.Max(1, (256L << 20) / Descriptor.KvBytesPerBlock) : int.MaxValue;

    /// <summary>Gives the pool a host-memory tier of <paramref name="blocks"/> blocks: reclaimed blocks are copied there and come back on a hit.</summary>
    public void AddHostTier(int blocks)
    {
        if (HostTier is not null)
            throw new InvalidOperationException("the engine has a host tier already");
        HostTier = new HostKvTier(_runner, blocks);
        Pool.Lower = HostTier;
    }

    /// <summary>Every block this engine names, in either tier, as stored events: what a prefix index rebuilds from.</summary>
    public IReadOnlyList<KvEvent> KvHoldings() => [.. Pool.Holdings(), .. HostTier?.Holdings() ?? []];

    /// <summary>The KV events of both tiers since the last call.</summary>
    private IReadOnlyList<KvEvent> DrainKvEvents()
    {
        var gpu = Pool.DrainEvents();
        var host = HostTier?.DrainEvents() ?? [];
        return host.Count == 0 ? gpu : gpu.Count == 0 ? host : [.. gpu, .. host];
    }

    /// <summary>
    /// <see cref="ExportPrefix(string, IReadOnlyList{ulong}, IReadOnlyList{int}, int, int, ulong, bool)"/> for a prompt's
    /// tokens: its blocks named here, with this engine's hasher.
    /// </summary>
    public KvPart ExportPrefix(string fetchId, IReadOnlyList<int> tokens, int first, int count, bool onDevice = false)
    {
        var hashes = Hasher.HashAll(tokens as int[] ?? [.. tokens]);
        return ExportPrefix(fetchId, hashes, tokens, first, count, first == 0 ? Hasher.Seed : first <= hashes.Length ? hashes[first - 1] : 0, onDevice);
    }

    /// <summary>
    /// The leading run of <paramref name="hashes"/> from <paramref name="first"/> on that this engine holds (on the GPU
    /// or in host memory), at most <paramref name="count"/> blocks, copied out for a peer that would otherwise recompute
    /// them. <paramref name="parentHash"/> names the block before the first (the hasher's seed for block 0). The part's
    /// token ids are those of the blocks, so the importer names them itself; an empty part when the first is not held.
    /// <paramref name="onDevice"/>: the blocks stay gathered on the device when the backend can (for a peer in this
    /// process, or one of this host by a device handle); they are released at once either way, their copy queued first.
    /// </summary>
    public KvPart ExportPrefix(string fetchId, IReadOnlyList<ulong> hashes, IReadOnlyList<int> tokens, int first, int count, ulong parentHash, bool onDevice = false)
    {
        var size = Descriptor.KvBlockSize;
        var end = Math.Min(first + Math.Min(count, MaxPrefixPartBlocks), Math.Min(hashes.Count, tokens.Count / size));
        // Every block is held once while it is read (a block in host memory is loaded back first), so the run is read in
        // one call, in the backend's own layout for a run of blocks, and making room for one cannot reclaim another.
        var taken = new List<int>();
        for (var b = first; b < end; b++)
        {
            if (!Pool.TryShare(hashes[b], out var block) && !Pool.TryLoad(hashes[b], out block))
                break;
            taken.Add(block);
        }
        var device = onDevice && taken.Count > 0 ? _runner.ReadBlocksOnDevice(taken) : null;
        var data = device is null ? _runner.ReadBlocks(taken) : [];
        for (var i = taken.Count - 1; i >= 0; i--)
            Pool.Release(taken[i]);
        var held = taken.Count;
        var header = Header(fetchId, first, held, [.. tokens.Skip(first * size).Take(held * size)], device?.Bytes ?? data.Length) with { PrefixParentHash = parentHash };
        return new KvPart(header, data) { DeviceData = device };
    }

    /// <summary>
    /// Takes in prefix blocks a peer exported: each is written into a free block, named from its tokens (chained on the
    /// part's parent name) and left in the cache, so the request that needs them shares them at admission like any
    /// cached prefix. Blocks this engine holds already are skipped. Returns the blocks taken in.
    /// </summary>
    public int ImportPrefix(KvPart part)
    {
        try
        {
            return ImportPrefixBlocks(part);
        }
        finally
        {
            // As an import of a request's part: device data is freed now, written or not.
            part.DeviceData?.Dispose();
        }
    }

    private int ImportPrefixBlocks(KvPart part)
    {
        var header = part.Header;
        var layout = _runner.KvLayout;
        if (header.PrefixParentHash is not { } parent)
            throw new InvalidDataException($"KV part '{header.RequestId}' is not a prefix part");
        CheckFits(header, "KV prefix");
        var size = Descriptor.KvBlockSize;
        var bytes = part.DeviceData?.Bytes ?? part.Payload.Length;
        if (header.TokenIds.Count != header.BlockCount * size || bytes != header.BlockCount * layout.BytesPerBlock)
            throw new InvalidDataException($"KV prefix part holds {header.TokenIds.Count} tokens and {bytes} bytes, expected {header.BlockCount * size} and {header.BlockCount * layout.BytesPerBlock} for {header.BlockCount} blocks");
        var tokens = header.TokenIds as int[] ?? [.. header.TokenIds];
        // The payload is one run in the backend's layout: it goes into as many fresh blocks in one write. A block this
        // engine holds already is written too but stays unnamed (its name is taken) and goes straight back.
        var taken = new List<int>(header.BlockCount);
        for (var b = 0; b < header.BlockCount; b++)
        {
            if (!Pool.TryAllocate(out var block))
            {
                foreach (var t in taken)
                    Pool.Release(t);
                return 0; // no room: the prompt is computed instead
            }
            taken.Add(block);
        }
        if (part.DeviceData is { } device)
        {
            if (!_runner.WriteBlocksFromDevice(taken, device))
            {
                foreach (var t in taken)
                    Pool.Release(t);
                throw new InvalidDataException($"KV prefix part on device '{device.Device}' cannot be written into this engine's cache");
            }
        }
        else
        {
            _runner.WriteBlocks(taken, part.Payload.Span);
        }
        var imported = 0;
        for (var b = 0; b < header.BlockCount; b++)
        {
            var hash = KvBlockHasher.Chain(parent, tokens.AsSpan(b * size, size));
            if (!Pool.TryFind(hash, out _))
            {
                Pool.Name(taken[b], hash, parent);
                imported++;
            }
            parent = hash;
        }
        // Into the cache last block first, so that its head is the last part of the prefix to be reclaimed.
        for (var i = taken.Count - 1; i >= 0; i--)
            Pool.Release(taken[i]);
        return imported;
    }
}
