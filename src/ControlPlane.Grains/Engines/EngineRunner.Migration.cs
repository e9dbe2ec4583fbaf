using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Live migration (Llumnix), the source's half (the destination's: EngineRunner.MigrationIn.cs; what both moves share:
/// EngineRunner.Moves.cs). The source moves a decoding request in stages: its full blocks are
/// copied while it keeps decoding (each stage one export between two steps, the bytes sent off the loop), until few
/// are left; then it is suspended, its last blocks and resume state go in one part, and once the destination has
/// taken that part in (the commit) the source frees it. Any failure before the commit puts it back in the source's
/// batch where it stopped; the destination drops what it imported. The destination reserves room at the start and
/// runs the request from the commit on, numbering its chunks after the source's.
/// </summary>
public sealed partial class EngineRunner
{
    public MigrationConfig Migration { get; init; } = new();

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
                // The last part is a few blocks: for a destination that takes no device parts it goes to host memory here,
                // between two steps, while the device is idle; off the loop the copy would wait behind the source's next
                // step, inside the stop. A device handle waits for the gather alone.
                return _engine.ExportKv(id, new KvBlockRange(sent, -1), onDevice: target.DeviceParts);
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
}
