using ControlPlane.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Engines;

public sealed partial class EngineRunner
{
    private void AddNow(RequestSpec request, ITokenSink sink, ITokenSink reference, long admittedAt)
    {
        if (request.Progress is not null && !MakeRoomForResume(request.RequestId))
            return;
        // A resumed request's chunks are numbered after those its gateway has: an early refusal (an error chunk) must
        // reach it, not be dropped as one seen before.
        var tracked = new TrackedRequest(sink, reference, request.Gateway, admittedAt, request) { NextSequence = request.Progress?.NextSequence ?? 0 };
        _tracked[request.RequestId] = tracked;
        try
        {
            _engine.Add(request);
            PlanHandoff(request, tracked);
        }
        catch (EngineRejectedException ex)
        {
            Finish(request.RequestId, FinishReason.Error, ex.Message);
        }
    }

    /// <summary>
    /// A gateway resumes a request here after losing the instance it ran on; that instance may have been moving it here
    /// when its silo died. An import still under way is dropped (its source is gone; the resume recomputes what it
    /// carried), and one that committed already runs the request: it goes on, and the resume adds nothing (false).
    /// </summary>
    private bool MakeRoomForResume(string requestId)
    {
        if (_incoming.TryRemove(requestId, out _))
        {
            _engine.Abort(requestId);
            Log.IncomingSuperseded(_logger, requestId, Descriptor.InstanceId);
            return true;
        }
        if (!_tracked.ContainsKey(requestId))
            return true;
        Log.ResumedAlreadyHere(_logger, requestId, Descriptor.InstanceId);
        return false;
    }

    private bool AbortNow(string requestId)
    {
        if (_handoffs.TryGetValue(requestId, out var handoff))
            EndHandoff(requestId, handoff);
        var known = _engine.Abort(requestId);
        return _tracked.Remove(requestId) || known || AbortFetching(requestId);
    }

    /// <summary>Stops every request streamed by a gateway that is gone; nothing is sent, nobody would read it.</summary>
    private void AbortOrphansNow(string gateway)
    {
        var orphans = _tracked.Where(t => t.Value.Gateway == gateway).Select(t => t.Key).ToArray();
        foreach (var id in orphans)
            AbortNow(id);
        if (orphans.Length > 0)
            Log.OrphansAborted(_logger, orphans.Length, Descriptor.InstanceId, gateway);
    }

    private void Deliver(EngineStepResult step)
    {
        foreach (var output in step.Outputs)
        {
            if (!_tracked.TryGetValue(output.RequestId, out var tracked))
                continue; // aborted while the step ran
            var chunk = new TokenChunk
            {
                RequestId = output.RequestId,
                // The engine numbers a request's outputs, and goes on numbering after a move to another engine.
                Sequence = output.Sequence,
                TokenIds = [.. output.NewTokenIds],
                Text = output.TextDelta,
                FinishReason = output.FinishReason,
                Usage = output.Finished ? new RequestUsage(output.PromptTokens, output.CompletionTokens, output.CachedPromptTokens) { EnergyJoules = output.EnergyJoules } : null,
                EngineTime = output.Finished ? _time.GetElapsedTime(tracked.AdmittedAt) : TimeSpan.Zero,
            };
            tracked.NextSequence = output.Sequence + 1;
            if (!tracked.Decoding && output.NewTokenIds.Count > 0)
            {
                tracked.Decoding = true;
                if (tracked.MigratedInAt is null)
                    EngineMetrics.RecordPrompt(Descriptor.InstanceId, output, tracked.PeerFetchedTokens);
                // A request handed off after its first token records transferring, then decoding on its decode instance.
                if (output.Finished || !HandsOff(output.RequestId))
                    WritePhase(tracked, output.RequestId, RequestPhase.Decoding, Descriptor.InstanceId);
            }
            if (output.Finished)
            {
                _tracked.Remove(output.RequestId);
                WritePhase(tracked, output.RequestId, output.FinishReason is FinishReason.Stop or FinishReason.Length ? RequestPhase.Finished : RequestPhase.Failed,
                    usage: chunk.Usage, finish: output.FinishReason);
            }
            Enqueue(tracked.Sink, chunk);
        }
        Flush();
        AdvanceHandoffs();
    }

    /// <summary>Ends a request the engine will not finish itself (rejected, failed, shut down).</summary>
    private void Finish(string requestId, FinishReason reason, string error)
    {
        if (!_tracked.Remove(requestId, out var tracked))
            return;
        if (_handoffs.TryGetValue(requestId, out var handoff))
            EndHandoff(requestId, handoff);
        WritePhase(tracked, requestId, RequestPhase.Failed, finish: reason, error: error);
        Enqueue(tracked.Sink, new TokenChunk
        {
            RequestId = requestId,
            Sequence = tracked.NextSequence++,
            TokenIds = [],
            Text = "",
            FinishReason = reason,
            Error = error,
            EngineTime = _time.GetElapsedTime(tracked.AdmittedAt),
        });
    }

    /// <summary>The instance records what it sees; the gateway records only the start and a cancel.</summary>
    private void WritePhase(TrackedRequest tracked, string requestId, RequestPhase to, string? instanceId = null, RequestUsage? usage = null,
        FinishReason finish = FinishReason.None, string? error = null)
    {
        if (_phases is not null)
            tracked.LastPhaseWrite = _phases.Post(tracked.LastPhaseWrite, requestId, to, instanceId, usage, finish, error);
    }

    private void Enqueue(ITokenSink sink, TokenChunk chunk)
    {
        if (!_outbox.TryGetValue(sink, out var chunks))
            _outbox[sink] = chunks = [];
        chunks.Add(chunk);
    }

    /// <summary>One call per destination gateway per step; the sink is one-way, so a slow gateway never stalls the engine.</summary>
    private void Flush()
    {
        foreach (var (sink, chunks) in _outbox)
        {
            if (chunks.Count == 0)
                continue;
            var batch = new TokenBatch(Descriptor.InstanceId, chunks.ToArray());
            chunks.Clear();
            try
            {
                _ = sink.OnTokensAsync(batch);
            }
            catch (Exception ex)
            {
                Log.DeliveryFailed(_logger, ex, Descriptor.InstanceId);
            }
        }
    }

    private void PublishLoad()
    {
        var snapshot = _engine.Snapshot();
        var inFlight = Volatile.Read(ref _admitsInFlight);
        _active = _tracked.Count + inFlight;
        var now = _time.GetUtcNow();
        _load = new InstanceLoad
        {
            InstanceId = Descriptor.InstanceId,
            Role = Role,
            Health = Health,
            RunningRequests = snapshot.RunningRequests,
            WaitingRequests = snapshot.WaitingRequests + inFlight,
            UsedKvBlocks = snapshot.UsedKvBlocks,
            TotalKvBlocks = snapshot.TotalKvBlocks,
            WaitingKvBlocks = snapshot.WaitingKvBlocks,
            BatchRequests = snapshot.BatchRequests,
            PriorityRequests = snapshot.PriorityRequests,
            KvBlockSize = Descriptor.KvBlockSize,
            PrefillTokensPerSecond = snapshot.PrefillTokensPerSecond,
            KvBytesPerBlock = _engine.Descriptor.KvBytesPerBlock,
            ReportedAt = now,
            MeasuredAt = now,
        };
    }
}
