using ControlPlane.KvCache;

namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// The state of one index shard (what the shard grain runs): the shard's part of the prefix index, each instance's epoch
/// and last batch, and a bounded log of recent entries for replicas that catch up. A batch out of sequence is refused so
/// the instance resends its holdings; a replica behind the log gets the whole shard. Pure: the grain supplies the calls.
/// </summary>
public sealed class KvIndexShard(int maxLogEvents = 200_000)
{
    private readonly Dictionary<string, (long Epoch, long Sequence)> _instances = new(StringComparer.Ordinal);
    private readonly Queue<(long Version, KvIndexEntry Entry)> _log = new();
    private int _logEvents;

    public KvPrefixIndex Index { get; } = new();

    /// <summary>Drawn at activation: a replica holding another generation starts over.</summary>
    public Guid Generation { get; } = Guid.NewGuid();
    public long Version { get; private set; }

    /// <summary>The oldest version a replica may hold and still catch up from the log.</summary>
    private long LogStart => _log.Count == 0 ? Version : _log.Peek().Version - 1;

    public bool Publish(KvEventBatch batch)
    {
        if (!_instances.TryGetValue(batch.InstanceId, out var known) || known.Epoch != batch.Epoch || batch.Sequence != known.Sequence + 1)
            return false;
        _instances[batch.InstanceId] = (batch.Epoch, batch.Sequence);
        Index.Apply(batch.InstanceId, batch.Events);
        Append(new KvIndexEntry(batch.InstanceId, false, batch.Events));
        return true;
    }

    public void Resync(KvEventBatch holdings)
    {
        _instances[holdings.InstanceId] = (holdings.Epoch, holdings.Sequence);
        Index.Replace(holdings.InstanceId, holdings.Events);
        Append(new KvIndexEntry(holdings.InstanceId, true, holdings.Events));
    }

    public void Forget(string instance)
    {
        if (!_instances.Remove(instance))
            return;
        Index.Remove(instance);
        Append(new KvIndexEntry(instance, true, []));
    }

    public KvIndexChanges Changes(Guid generation, long version)
    {
        if (generation == Generation && version == Version)
            return new KvIndexChanges(Generation, Version, false, []);
        if (generation == Generation && version >= LogStart && version <= Version)
            return new KvIndexChanges(Generation, Version, false, [.. _log.Where(l => l.Version > version).Select(l => l.Entry)]);
        var entries = Index.Holdings().GroupBy(h => h.Instance, StringComparer.Ordinal)
            .Select(g => new KvIndexEntry(g.Key, true, [.. g.Select(h => h.Event)]));
        return new KvIndexChanges(Generation, Version, true, [.. entries]);
    }

    private void Append(KvIndexEntry entry)
    {
        Version++;
        _log.Enqueue((Version, entry));
        _logEvents += Math.Max(1, entry.Events.Count);
        while (_logEvents > maxLogEvents && _log.Count > 1)
            _logEvents -= Math.Max(1, _log.Dequeue().Entry.Events.Count);
    }
}
