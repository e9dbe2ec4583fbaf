using System.Threading.Channels;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Prefill/decode disaggregation, the prefill instance's half (Splitwise, DistServe), on the staged copy that live
/// migration uses. A request admitted with <see cref="RequestSpec.HandoffTo"/> prefills here; once it runs, its decode
/// instance is asked to expect it, and after each step the blocks its prefill chunks filled are exported between steps
/// and sent off the loop, so the copy overlaps the prefill. The step that samples its first token delivers that token
/// from here (time to first token owes nothing to the handoff); the request is then suspended, its last blocks and
/// resume state go in one part, and the decode instance runs it from its commit on. A decode instance that refuses,
/// dies or fails a part leaves the request decoding here; one whose prefill instance dies is resumed by its gateway.
/// </summary>
public sealed partial class EngineRunner
{
    private readonly Dictionary<string, Handoff> _handoffs = new(StringComparer.Ordinal);
    private int _handoffsOut;

    /// <summary>Where a request goes from here by name: this process's engines in memory, others over the KV data path.</summary>
    public Func<string, IMigrationTarget>? Targets { get; set; }

    /// <summary>
    /// Decode instances a handoff tries in turn (<c>Disaggregation:HandoffAttempts</c>): when the one it has refuses the
    /// request or cannot be reached before any part went, <see cref="RedirectHandoff"/> names another.
    /// </summary>
    public int HandoffAttempts { get; init; } = 1;

    /// <summary>Another decode instance for a split request, skipping those named (the dispatcher's pick); null: none.</summary>
    public Func<RequestSpec, IReadOnlyList<string>, CancellationToken, Task<string?>>? RedirectHandoff { get; set; }

    /// <summary>Split requests whose handoff from here has not ended (any thread).</summary>
    public int HandoffsOut => Volatile.Read(ref _handoffsOut);

    /// <summary>On the loop, at admission: a split request will go to its decode instance once it runs.</summary>
    private void PlanHandoff(RequestSpec request, TrackedRequest tracked)
    {
        if (request.HandoffTo is not { } to || to == Descriptor.InstanceId || Targets is null)
            return;
        _handoffs[request.RequestId] = new Handoff(to);
        tracked.Migrating = true; // not a migration candidate while its handoff is under way
        Interlocked.Increment(ref _handoffsOut);
    }

    /// <summary>Whether the request's first token is to be followed by its handoff (its phase goes to transferring, not decoding).</summary>
    private bool HandsOff(string requestId) => _handoffs.TryGetValue(requestId, out var h) && h.State != HandoffState.Ended;

    /// <summary>On the loop, after each step: every handoff takes its next step.</summary>
    private void AdvanceHandoffs()
    {
        if (_handoffs.Count == 0)
            return;
        foreach (var (id, handoff) in _handoffs.ToArray())
            AdvanceHandoff(id, handoff);
    }

    private void AdvanceHandoff(string id, Handoff handoff)
    {
        if (handoff.State is HandoffState.Ended or HandoffState.Committing)
            return;
        if (!_tracked.TryGetValue(id, out var tracked) || _engine.Probe(id) is not { } probe)
        {
            // Finished at its first token, cancelled, or failed: nothing to hand over.
            EndHandoff(id, handoff);
            return;
        }
        if (handoff.State == HandoffState.Waiting)
        {
            // The decode instance reserves room only once the prompt runs here, not while it queues.
            if (!probe.Running && probe.FullBlocks == 0)
                return;
            handoff.State = HandoffState.Beginning;
            handoff.Sender = Task.Run(() => HandOffAsync(id, tracked, handoff));
        }
        if (handoff.State == HandoffState.Beginning)
        {
            // Its first token came before the decode instance answered (a prompt in one chunk): it waits here, suspended,
            // rather than decode on the prefill instance; a refusal puts it back in the batch.
            if (probe.Decoding && !probe.Suspended && _engine.Suspend(id))
                handoff.SuspendedAt = _time.GetTimestamp();
            return;
        }
        // Staging: the blocks its prefill chunks filled go out now, a part of at most StageBlocks each.
        while (probe.FullBlocks > handoff.Exported)
        {
            var part = _engine.ExportStable(id, handoff.Exported, Migration.StageBlocks, onDevice: true);
            if (part is null)
                break;
            handoff.Exported += part.Header.BlockCount;
            handoff.Parts.Writer.TryWrite(part);
        }
        if (!probe.Decoding)
            return;
        // Its first token went out: it takes no step here; the rest and its resume state go in one part.
        if (!probe.Suspended)
        {
            if (!_engine.Suspend(id))
                return;
            handoff.SuspendedAt = _time.GetTimestamp();
        }
        var last = _engine.ExportKv(id, new KvBlockRange(handoff.Exported, -1), onDevice: handoff.Target?.DeviceParts == true);
        handoff.State = HandoffState.Committing;
        handoff.Parts.Writer.TryWrite(last);
        handoff.Parts.Writer.TryComplete();
        WritePhase(tracked, id, RequestPhase.Transferring, Descriptor.InstanceId);
    }

    private void EndHandoff(string id, Handoff handoff)
    {
        if (!_handoffs.Remove(id))
            return;
        handoff.State = HandoffState.Ended;
        handoff.Parts.Writer.TryComplete();
        Interlocked.Decrement(ref _handoffsOut);
        if (_tracked.TryGetValue(id, out var tracked))
            tracked.Migrating = false;
        if (handoff.Sender is null)
            Drop(handoff);
    }

    /// <summary>Off the loop: begins at the decode instance, sends the parts the loop exports, commits the last one.</summary>
    private async Task HandOffAsync(string id, TrackedRequest tracked, Handoff handoff)
    {
        var started = _time.GetTimestamp();
        long bytes = 0;
        int blocks = 0, stages = 0;
        var spec = tracked.Spec with { HandoffTo = null };
        IMigrationTarget? target = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(Migration.Timeout);
        try
        {
            target = await BeginHandoffAsync(id, spec, tracked, handoff, timeout.Token);
            await OnLoop(() =>
            {
                if (handoff.State != HandoffState.Beginning)
                    throw new MigrationEndedException("the request ended before its decode instance answered");
                handoff.Target = target;
                handoff.State = HandoffState.Staging;
                AdvanceHandoff(id, handoff);
                return true;
            });
            await foreach (var part in handoff.Parts.Reader.ReadAllAsync(timeout.Token))
            {
                blocks += part.Header.BlockCount;
                bytes += part.Header.PayloadBytes;
                if (part.Header.Resume is null)
                {
                    await target.SendAsync(await ForTargetAsync(part, target), timeout.Token);
                    stages++;
                    continue;
                }
                var silo = await CommitAsync(target, part, id, timeout.Token, _stop.Token);
                var stop = _time.GetElapsedTime(handoff.SuspendedAt);
                await OnLoop(() =>
                {
                    EndHandoff(id, handoff);
                    return true;
                });
                await CompleteMoveAsync(id, target, silo, handoff: true);
                MigrationMetrics.Record(Descriptor.Model, MigrationReason.Handoff, new MigrationResult
                {
                    Outcome = MigrationOutcome.Committed, RequestId = id, Bytes = bytes, Blocks = blocks, Stages = stages, Stop = stop,
                    Duration = _time.GetElapsedTime(started),
                });
                return;
            }
            throw new MigrationEndedException("the request ended before its handoff");
        }
        catch (Exception ex)
        {
            var outcome = ex switch
            {
                MigrationRefusedException => MigrationOutcome.Refused,
                MigrationEndedException => MigrationOutcome.Ended,
                OperationCanceledException when _stop.IsCancellationRequested => MigrationOutcome.Ended,
                _ => MigrationOutcome.Failed,
            };
            try
            {
                await OnLoop(() =>
                {
                    EndHandoff(id, handoff);
                    return true;
                });
            }
            catch (ObjectDisposedException)
            {
                // The runner stopped: its requests are resumed by their gateways.
            }
            Drop(handoff);
            // The request decodes here, where it was prefilled (or goes on prefilling and decodes here).
            await RollBackMoveAsync(id, target);
            if (outcome == MigrationOutcome.Failed)
                Log.MigrationFailed(_logger, ex, id, Descriptor.InstanceId, handoff.To);
            MigrationMetrics.Record(Descriptor.Model, MigrationReason.Handoff, new MigrationResult
            {
                Outcome = outcome, RequestId = id, Bytes = bytes, Blocks = blocks, Stages = stages, Duration = _time.GetElapsedTime(started), Error = ex.Message,
            });
        }
        finally
        {
            if (target is not null)
                await target.DisposeAsync();
        }
    }

    /// <summary>
    /// Asks the decode instance to expect the request; one that refuses or cannot be reached is told to drop it, and another
    /// is asked, named by <see cref="RedirectHandoff"/> among those not tried, up to <see cref="HandoffAttempts"/> in all.
    /// Returns the one that said yes; throws the last refusal when none did.
    /// </summary>
    private async Task<IMigrationTarget> BeginHandoffAsync(string id, RequestSpec spec, TrackedRequest tracked, Handoff handoff, CancellationToken cancellationToken)
    {
        var blocks = (spec.PromptTokenIds.Count + Descriptor.KvBlockSize) / Descriptor.KvBlockSize + 1;
        var tried = new List<string> { Descriptor.InstanceId };
        for (var attempt = 1; ; attempt++)
        {
            var target = Targets!(handoff.To);
            try
            {
                await target.BeginAsync(spec, tracked.SinkReference, blocks, cancellationToken);
                return target;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && attempt < HandoffAttempts && RedirectHandoff is not null)
            {
                tried.Add(handoff.To);
                await BestEffort(() => target.CancelAsync(id));
                await target.DisposeAsync();
                var next = await PickAnotherAsync(spec, tried, cancellationToken);
                if (handoff.State != HandoffState.Beginning)
                    throw new MigrationEndedException("the request ended before a decode instance took it");
                if (next is null)
                    throw;
                Log.HandoffRedirected(_logger, id, tried[^1], next, ex.Message);
                handoff.To = next;
            }
            catch
            {
                await target.DisposeAsync();
                throw;
            }
        }
    }

    private async Task<string?> PickAnotherAsync(RequestSpec spec, IReadOnlyList<string> tried, CancellationToken cancellationToken)
    {
        try
        {
            return await RedirectHandoff!(spec, tried, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return null; // no dispatcher to ask: the request decodes here
        }
    }

    /// <summary>Frees the device copies of parts that will not be sent.</summary>
    private static void Drop(Handoff handoff)
    {
        while (handoff.Parts.Reader.TryRead(out var part))
            part.DeviceData?.Dispose();
    }

    private enum HandoffState
    {
        /// <summary>Queued here: nothing asked of the decode instance yet.</summary>
        Waiting,
        /// <summary>The decode instance is being asked to expect it.</summary>
        Beginning,
        /// <summary>Prefilling here; its filled blocks go out after each step.</summary>
        Staging,
        /// <summary>Suspended after its first token; the last part is on its way.</summary>
        Committing,
        Ended,
    }

    private sealed class Handoff(string to)
    {
        /// <summary>The decode instance asked now (another after a refusal, see <see cref="HandoffAttempts"/>).</summary>
        public string To { get; set; } = to;
        public HandoffState State { get; set; }
        /// <summary>The decode instance, once it said yes: whether it takes parts on the device decides the last part's export.</summary>
        public IMigrationTarget? Target { get; set; }
        public int Exported { get; set; }
        public long SuspendedAt { get; set; }
        public Task? Sender { get; set; }

        /// <summary>Parts exported on the loop, in order, for the sender; the last one carries the resume state.</summary>
        public Channel<KvPart> Parts { get; } = Channel.CreateUnbounded<KvPart>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }
}
