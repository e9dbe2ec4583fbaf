using System.Collections.Concurrent;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Live migration's destination half (also a prefill/decode handoff's): it reserves room for a request, takes its parts
/// in as they come, and runs it from the part that carries its resume state (the commit). An import whose source falls
/// silent is dropped with what it took.
/// </summary>
public sealed partial class EngineRunner
{
    /// <summary>An incoming migration that stops hearing from its source this long is dropped with what it imported.</summary>
    public static readonly TimeSpan IncomingIdleTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, Incoming> _incoming = new(StringComparer.Ordinal);

    /// <summary>Requests expected by migration that have not committed yet.</summary>
    public int MigrationsIn => _incoming.Count;

    /// <summary>Whether an incoming migration of <paramref name="requestId"/> is expected here (any thread).</summary>
    public bool ExpectsImport(string requestId) => _incoming.ContainsKey(requestId);

    /// <summary>The destination's yes or no to a request of <paramref name="blocks"/> blocks: null when it expects it, else why not.</summary>
    public Task<string?> BeginIncomingAsync(RequestSpec request, ITokenSink sink, int blocks) => OnLoop<string?>(() =>
    {
        if (Health != InstanceHealth.Ready)
            return $"instance '{Descriptor.InstanceId}' is {Health.ToString().ToLowerInvariant()}";
        if (Role == InstanceRole.Prefill)
            return $"instance '{Descriptor.InstanceId}' is a prefill instance";
        if (request.Model != Descriptor.Model)
            return $"instance '{Descriptor.InstanceId}' serves '{Descriptor.Model}', not '{request.Model}'";
        if (_tracked.ContainsKey(request.RequestId) || _incoming.ContainsKey(request.RequestId))
            return $"request '{request.RequestId}' is already on instance '{Descriptor.InstanceId}'";
        var snapshot = _engine.Snapshot();
        var reserved = _incoming.Values.Sum(i => i.Blocks);
        var free = snapshot.TotalKvBlocks - snapshot.UsedKvBlocks - snapshot.WaitingKvBlocks - reserved;
        if (free < blocks)
            return $"instance '{Descriptor.InstanceId}' is full: {free} KV blocks free, the request needs {blocks}";
        _incoming[request.RequestId] = new Incoming(request, _localSinks?.Resolve(sink) ?? sink, sink, blocks) { LastHeard = _time.GetTimestamp() };
        return null;
    });

    /// <summary>
    /// Takes in one part of an incoming migration on the loop; the part with the resume state commits it: the request
    /// joins the batch and its tokens go to its gateway. Throws <see cref="MigrationRefusedException"/> with the reason.
    /// </summary>
    /// <remarks>
    /// A part that names its blocks on another worker's GPU (<see cref="KvPart.DeviceHandle"/>) is copied device to device
    /// first, on the caller's thread, off the loop; when this engine cannot reach that GPU it throws
    /// <see cref="KvDeviceUnusableException"/> having taken nothing in, and the sender sends the bytes.
    /// </remarks>
    public Task ImportAsync(KvPart part)
    {
        if (part.DeviceHandle is { } handle && part.DeviceData is null)
        {
            if (!_incoming.ContainsKey(part.Header.RequestId))
                return Task.FromException(new MigrationRefusedException($"instance '{Descriptor.InstanceId}' expects no migration of request '{part.Header.RequestId}'"));
            try
            {
                part = Opened(part, handle);
            }
            catch (InvalidDataException ex)
            {
                return Task.FromException(new MigrationRefusedException(ex.Message));
            }
        }
        return ImportOnLoopAsync(part);
    }

    /// <summary>The part with its blocks copied here from another worker's GPU (off the loop); throws as <see cref="ControlPlane.Engines.IEngine.OpenDeviceHandle"/>.</summary>
    private KvPart Opened(KvPart part, KvDeviceHandle handle) =>
        part with { DeviceData = _engine.OpenDeviceHandle(handle, part.Header.BlockCount), DeviceHandle = null };

    private Task ImportOnLoopAsync(KvPart part) => OnLoop(() =>
    {
        var id = part.Header.RequestId;
        if (!_incoming.TryGetValue(id, out var incoming))
        {
            part.DeviceData?.Dispose();
            throw new MigrationRefusedException($"instance '{Descriptor.InstanceId}' expects no migration of request '{id}'");
        }
        incoming.LastHeard = _time.GetTimestamp();
        try
        {
            _engine.ImportKv(incoming.Request, part);
        }
        catch (Exception ex) when (ex is ControlPlane.Engines.EngineRejectedException or InvalidDataException or ArgumentException)
        {
            _incoming.TryRemove(id, out _);
            _engine.Abort(id);
            throw new MigrationRefusedException(ex.Message);
        }
        if (part.Header.Resume is not { } resume)
            return true;
        _incoming.TryRemove(id, out _);
        var tracked = new TrackedRequest(incoming.Sink, incoming.Reference, incoming.Request.Gateway, _time.GetTimestamp(), incoming.Request)
        {
            Decoding = true,
            NextSequence = resume.NextOutputSequence,
            MigratedInAt = _time.GetTimestamp(),
        };
        _tracked[id] = tracked; // decoding already: its source records the move (see MigrateOutAsync)
        return true;
    });

    /// <summary>Calls off an incoming migration before its commit: what it imported is freed.</summary>
    public Task<bool> CancelIncomingAsync(string requestId) => OnLoop(() =>
    {
        if (!_incoming.TryRemove(requestId, out _))
            return false;
        _engine.Abort(requestId);
        return true;
    });

    /// <summary>Whether the engine runs the request (it was admitted here or a migration into here committed).</summary>
    public Task<bool> HoldsAsync(string requestId) => OnLoop(() => _tracked.ContainsKey(requestId));

    /// <summary>
    /// Where the request is, as this instance knows: run here (tracked, or admitted and fetching its prefix; an admission
    /// still in the loop's queue is taken in before this runs), moved from here lately, or neither.
    /// </summary>
    public Task<RequestLocation> LocateAsync(string requestId) => OnLoop(() =>
    {
        if (_tracked.TryGetValue(requestId, out var tracked))
            return new RequestLocation { Held = true, SentChunks = tracked.NextSequence };
        if (_fetching.ContainsKey(requestId))
            return new RequestLocation { Held = true }; // nothing sent yet: a resumed request fetches no prefix
        return MovedTo(requestId) is { } moved ? new RequestLocation { MovedTo = moved } : RequestLocation.Unknown;
    });

    /// <summary>Drops incoming migrations whose source fell silent, and old forwarding entries. The host calls it each period.</summary>
    public void Sweep()
    {
        var now = _time.GetTimestamp();
        foreach (var (id, moved) in _moved)
        {
            if (_time.GetElapsedTime(moved.At, now) > MovedMemory)
                _moved.TryRemove(id, out _);
        }
        if (_incoming.IsEmpty)
            return;
        Order(() =>
        {
            foreach (var (id, incoming) in _incoming)
            {
                if (_time.GetElapsedTime(incoming.LastHeard) <= IncomingIdleTimeout)
                    continue;
                _incoming.TryRemove(id, out _);
                _engine.Abort(id);
                Log.IncomingDropped(_logger, id, Descriptor.InstanceId);
            }
        });
    }

    private sealed class Incoming(RequestSpec request, ITokenSink sink, ITokenSink reference, int blocks)
    {
        public RequestSpec Request { get; } = request;
        public ITokenSink Sink { get; } = sink;
        public ITokenSink Reference { get; } = reference;
        public int Blocks { get; } = blocks;
        public long LastHeard { get; set; }
    }
}
