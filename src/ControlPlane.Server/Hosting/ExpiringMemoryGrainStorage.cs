using System.Globalization;
using Orleans.Storage;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// The embedded mode's request-state store: in memory like Orleans' memory storage, but bounded, as Redis is by its
/// TTL. A record expires <paramref name="ttl"/> after its last write, and past <paramref name="maxEntries"/> the
/// records written longest ago go first, so a process that serves requests for days keeps a bounded store
/// (Orleans' memory storage keeps every request's state forever: about 1.7 KB each).
/// </summary>
public sealed class ExpiringMemoryGrainStorage(IGrainStorageSerializer serializer, TimeProvider time, TimeSpan ttl, int maxEntries) : IGrainStorage
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _byWrite = new();
    private long _etag;

    public int Count
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    private sealed record Entry(BinaryData Data, string ETag, DateTimeOffset ExpiresAt, LinkedListNode<string> Node);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = Key(stateName, grainId);
        lock (_lock)
        {
            Expire();
            if (_entries.TryGetValue(key, out var entry))
            {
                grainState.State = serializer.Deserialize<T>(entry.Data);
                grainState.ETag = entry.ETag;
                grainState.RecordExists = true;
                return Task.CompletedTask;
            }
        }
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = Key(stateName, grainId);
        var data = serializer.Serialize(grainState.State);
        lock (_lock)
        {
            Expire();
            _entries.TryGetValue(key, out var current);
            if (current?.ETag != grainState.ETag)
                throw new InconsistentStateException($"etag mismatch for {key}", current?.ETag ?? "none", grainState.ETag ?? "none");
            if (current is not null)
                _byWrite.Remove(current.Node);
            var etag = (++_etag).ToString(CultureInfo.InvariantCulture);
            _entries[key] = new Entry(data, etag, time.GetUtcNow() + ttl, _byWrite.AddLast(key));
            grainState.ETag = etag;
            grainState.RecordExists = true;
            while (_entries.Count > maxEntries && _byWrite.First is { } oldest)
            {
                _entries.Remove(oldest.Value);
                _byWrite.RemoveFirst();
            }
        }
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = Key(stateName, grainId);
        lock (_lock)
        {
            if (_entries.Remove(key, out var entry))
                _byWrite.Remove(entry.Node);
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    /// <summary>Drops expired records from the oldest write on (the list is in write order, so expiry order too).</summary>
    private void Expire()
    {
        var now = time.GetUtcNow();
        while (_byWrite.First is { } oldest && _entries.TryGetValue(oldest.Value, out var entry) && entry.ExpiresAt <= now)
        {
            _entries.Remove(oldest.Value);
            _byWrite.RemoveFirst();
        }
    }

    private static string Key(string stateName, GrainId grainId) => $"{grainId}/{stateName}";
}
