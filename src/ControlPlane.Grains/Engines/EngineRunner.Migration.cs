using System.Collections.Concurrent;
using ControlPlane.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Live migration (Llumnix), both halves. The source moves a decoding request in stages: its full blocks are
/// copied while it keeps decoding (each stage one export between two steps, the bytes sent off the loop), until few
/// are left; then it is suspended, its last blocks and resume state go in one part, and once the destination has
/// taken that part in (the commit) the source frees it. Any failure before the commit puts it back in the source's
/// batch where it stopped; the destination drops what it imported. The destination reserves room at the start and
/// runs the request from the commit on, numbering its chunks after the source's.
/// </summary>
public sealed partial class EngineRunner
{
    /// <summary>An incoming migration that stops hearing from its source this long is dropped with what it imported.</summary>
    public static readonly TimeSpan IncomingIdleTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a source remembers where a request went, to pass on a cancel that reaches it late.</summary>
    public static readonly TimeSpan MovedMemory = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Incoming> _incoming = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string InstanceId, long At)> _moved = new(StringComparer.Ordinal);

    public MigrationConfig Migration { get; init; } = new();

    /// <summary>Requests expected by migration that have not committed yet.</summary>
    public int MigrationsIn => _incoming.Count;

    /// <summary>Whether an incoming migration of <paramref name="requestId"/> is expected here (any thread).</summary>
    public bool ExpectsImport(string requestId) => _incoming.ContainsKey(requestId);

    /// <summary>The instance a request moved to from here, within <see cref="MovedMemory"/>.</summary>
    public string? MovedTo(string requestId) => _moved.TryGetValue(requestId, out var moved) ? moved.InstanceId : null;

    /// <summary>
    /// Moves one decoding request (<paramref name="requestId"/>, or the one this instance gives up most easily) to
    /// <paramref name="target"/>. Returns when it committed there or went on here.
    /// </summary>
    public async Task<MigrationResult> MigrateOutAsync(IMigrationTarget target, MigrationReason reason, string? requestId, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var pick = await OnLoop(() => PickForMigration(requestId, reason));
        if (pick is null)
            return MigrationResult.Nothing;
        var id = pick.Spec.RequestId;
        long bytes = 0;
        int blocks = 0, stages = 0;
        var suspendedAt = 0L;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Migration.Timeout);
        try
        {
            await target.BeginAsync(pick.Spec, pick.SinkReference, pick.Blocks + 1, timeout.Token);
            var sent = 0;
            for (var round = 0; round < Migration.MaxRounds; round++)
            {
                // A round copies the full blocks written so far, a part of at most StageBlocks between two steps each.
                var upTo = (await OnLoop(() => CheckMigrating(id, pick.Preemptions))).FullBlocks;
                if (upTo - sent <= Migration.StopBlocks)
                    break;
                while (sent < upTo)
                {
                    var from = sent;
                    var part = await OnLoop(() =>
                    {
                        CheckMigrating(id, pick.Preemptions);
                        return _engine.ExportStable(id, from, Math.Min(Migration.StageBlocks, upTo - from), onDevice: true);
                    });
                    if (part is null)
                        break;
                    await target.SendAsync(await ForTargetAsync(part, target), timeout.Token);
                    sent += part.Header.BlockCount;
                    blocks += part.Header.BlockCount;
                    bytes += part.Header.PayloadBytes;
                    stages++;
                }
            }
            var last = await OnLoop(() =>
            {
                CheckMigrating(id, pick.Preemptions);
                suspendedAt = _time.GetTimestamp();
                if (!_engine.Suspend(id))
                    throw new MigrationEndedException("the request left the running batch");
                // The last part is a few blocks: to another process it goes to host memory here, between two steps, while
                // the device is idle; off the loop the copy would wait behind the source's next step, inside the stop.
                return _engine.ExportKv(id, new KvBlockRange(sent, -1), onDevice: target.SameProcess);
            });
            blocks += last.Header.BlockCount;
            bytes += last.Header.PayloadBytes;
            var silo = await CommitAsync(target, last, id, timeout.Token, cancellationToken);
            var stop = _time.GetElapsedTime(suspendedAt);
            await CompleteMoveAsync(id, target, silo, handoff: false);
            var result = new MigrationResult
            {
                Outcome = MigrationOutcome.Committed, RequestId = id, Bytes = bytes, Blocks = blocks, Stages = stages, Stop = stop,
                Duration = _time.GetElapsedTime(started),
            };
            MigrationMetrics.Record(Descriptor.Model, reason, result);
            return result;
        }
        catch (Exception ex)
        {
            var outcome = ex switch
            {
                MigrationRefusedException => MigrationOutcome.Refused,
                MigrationEndedException => MigrationOutcome.Ended,
                _ => MigrationOutcome.Failed,
            };
            await RollBackMoveAsync(id, target);
            if (outcome == MigrationOutcome.Failed)
                Log.MigrationFailed(_logger, ex, id, Descriptor.InstanceId, target.InstanceId);
            var result = new MigrationResult
            {
                Outcome = outcome, RequestId = id, Bytes = bytes, Blocks = blocks, Stages = stages, Duration = _time.GetElapsedTime(started),
                Error = ex.Message,
            };
            MigrationMetrics.Record(Descriptor.Model, reason, result);
            return result;
        }
    }

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
    public Task ImportAsync(KvPart part) => OnLoop(() =>
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

    /// <summary>
    /// After the commit: the source forgets the request (remembering where it went, to pass on a late cancel), records
    /// the move after its earlier phases on the same chain, and tells the gateway where the request runs now.
    /// </summary>
    private async Task CompleteMoveAsync(string id, IMigrationTarget target, string silo, bool handoff)
    {
        var tracked = await OnLoop(() =>
        {
            _moved[id] = (target.InstanceId, _time.GetTimestamp());
            _tracked.Remove(id, out var t);
            _engine.Abort(id);
            if (t is not null)
                WritePhase(t, id, RequestPhase.Decoding, target.InstanceId);
            return t;
        });
        if (tracked is null)
        {
            // Cancelled by its client while the last part was on its way: the destination must not run it alone.
            await BestEffort(() => target.AbortAsync(id));
            return;
        }
        try
        {
            _ = tracked.Sink.OnMovedAsync(new RequestMove(id, target.InstanceId, silo, handoff));
        }
        catch (Exception ex)
        {
            Log.DeliveryFailed(_logger, ex, Descriptor.InstanceId);
        }
    }

    /// <summary>A move that failed before its commit: the request goes on here where it stopped; the destination drops what it took.</summary>
    private async Task RollBackMoveAsync(string id, IMigrationTarget target)
    {
        try
        {
            await OnLoop(() =>
            {
                _engine.Unsuspend(id);
                if (_tracked.TryGetValue(id, out var t))
                {
                    t.Migrating = false;
                    if (t.Decoding)
                        WritePhase(t, id, RequestPhase.Decoding, Descriptor.InstanceId);
                }
                return true;
            });
        }
        catch (ObjectDisposedException)
        {
            // The source stopped meanwhile: its requests are resumed by their gateways.
        }
        await BestEffort(() => target.CancelAsync(id));
    }

    private sealed record Pick(RequestSpec Spec, ITokenSink SinkReference, int Blocks, int Preemptions);

    /// <summary>The request to move (the one named, or by <see cref="MigrationCandidates.Pick"/>): decoding and not moving already.</summary>
    private Pick? PickForMigration(string? requestId, MigrationReason reason)
    {
        var now = _time.GetTimestamp();
        var candidates = new List<MigrationCandidate>();
        var probes = new Dictionary<string, MigrationProbe>(StringComparer.Ordinal);
        foreach (var (id, tracked) in _tracked)
        {
            if (requestId is not null && id != requestId)
                continue;
            if (tracked.Migrating || _engine.Probe(id) is not { Running: true, Decoding: true } probe)
                continue;
            probes[id] = probe;
            var lately = requestId is null && tracked.MigratedInAt is { } arrived && _time.GetElapsedTime(arrived, now) < Migration.Cooldown;
            candidates.Add(new MigrationCandidate(id, tracked.Spec.ServiceClass, tracked.Spec.Priority, probe.HeldBlocks, lately));
        }
        if (MigrationCandidates.Pick(candidates, reason) is not { } chosen)
            return null;
        var picked = _tracked[chosen.RequestId];
        picked.Migrating = true;
        WritePhase(picked, chosen.RequestId, RequestPhase.Migrating, Descriptor.InstanceId);
        return new Pick(picked.Spec, picked.SinkReference, chosen.Blocks, probes[chosen.RequestId].Preemptions);
    }

    /// <summary>Throws <see cref="MigrationEndedException"/> unless the request is still here, running or suspended, with the same blocks.</summary>
    private MigrationProbe CheckMigrating(string requestId, int preemptions)
    {
        if (!_tracked.ContainsKey(requestId) || _engine.Probe(requestId) is not { } probe)
            throw new MigrationEndedException("the request ended");
        if (probe.Preemptions != preemptions || !(probe.Running || probe.Suspended))
            throw new MigrationEndedException("the request was preempted");
        return probe;
    }

    /// <summary>
    /// Parts are taken on the device (a gather between two steps: cheap for the loop); for a peer in another process
    /// the copy to host memory runs here, off the loop, so the source's other requests do not wait for it.
    /// </summary>
    private static async Task<KvPart> ForTargetAsync(KvPart part, IMigrationTarget target)
    {
        if (target.SameProcess || part.DeviceData is not { } device)
            return part;
        try
        {
            var payload = await Task.Run(device.ToArray);
            return new KvPart(part.Header, payload);
        }
        finally
        {
            device.Dispose();
        }
    }

    /// <summary>
    /// Sends the last part; when its answer is lost (the destination may have taken it in before), asks whether the
    /// destination runs the request: it then does, and the move committed (the silo is then not known: empty).
    /// </summary>
    private static async Task<string> CommitAsync(IMigrationTarget target, KvPart last, string requestId, CancellationToken token, CancellationToken abandoned)
    {
        try
        {
            return await target.CommitAsync(last, token);
        }
        catch (Exception ex) when (ex is not MigrationRefusedException && !abandoned.IsCancellationRequested)
        {
            if (!await HoldsAsync(target, requestId))
                throw;
            return "";
        }
    }

    private static async Task<bool> HoldsAsync(IMigrationTarget target, string requestId)
    {
        try
        {
            return await target.HoldsAsync(requestId, CancellationToken.None);
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static async Task BestEffort(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception)
        {
            // The destination is gone or unreachable: it drops a stale import on its own.
        }
    }

    private Task<T> OnLoop<T>(Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_stop.IsCancellationRequested)
        {
            done.SetException(new ObjectDisposedException(nameof(EngineRunner), $"instance '{Descriptor.InstanceId}' has stopped"));
            return done.Task;
        }
        Order(() =>
        {
            try
            {
                done.SetResult(action());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        });
        return done.Task;
    }

    private sealed class Incoming(RequestSpec request, ITokenSink sink, ITokenSink reference, int blocks)
    {
        public RequestSpec Request { get; } = request;
        public ITokenSink Sink { get; } = sink;
        public ITokenSink Reference { get; } = reference;
        public int Blocks { get; } = blocks;
        public long LastHeard { get; set; }
    }

    private sealed class MigrationEndedException(string message) : Exception(message);
}
