using ControlPlane.Engines;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core;

/// <summary>
/// The engine's half of live migration (Llumnix): stages copy a running request's full blocks while it keeps
/// decoding (they never change again), a suspend holds it out of the batch with its blocks, the last part carries
/// the rest and its resume state, and the source either releases it (the destination committed) or puts it back.
/// </summary>
public partial class EngineCore
{
    /// <summary>
    /// Where a request stands for a migration: running (in the batch, decoding), how many of its blocks are full and
    /// computed, how many blocks it holds, and how often it was preempted (a staged copy from before a preemption is stale).
    /// Null when the engine does not hold it.
    /// </summary>
    public MigrationProbe? Probe(string requestId)
    {
        if (!Scheduler.TryGet(requestId, out var request))
            return null;
        return new MigrationProbe(
            Running: Scheduler.IsRunning(requestId),
            Suspended: request.Suspended,
            Decoding: request.OutputTokenIds.Count > 0 && request.ComputedTokens == request.ContextTokens - 1,
            FullBlocks: request.ComputedTokens / Descriptor.KvBlockSize,
            HeldBlocks: request.BlockTable.Count,
            Preemptions: request.Preemptions);
    }

    /// <summary>
    /// A staged part: up to <paramref name="maxBlocks"/> full computed blocks from <paramref name="first"/> on, while the
    /// request keeps running. Never carries resume state. Null when no full block lies beyond <paramref name="first"/>.
    /// </summary>
    public KvPart? ExportStable(string requestId, int first, int maxBlocks, bool onDevice = false)
    {
        if (!Scheduler.TryGet(requestId, out var request))
            throw new KeyNotFoundException($"request '{requestId}' is not in this engine");
        var full = request.ComputedTokens / Descriptor.KvBlockSize;
        var count = Math.Min(maxBlocks, full - first);
        if (count <= 0)
            return null;
        return Export(request, first, count, resume: false, onDevice);
    }

    /// <summary>Holds a running request out of the batch, with its blocks, from the next step on (see <see cref="Scheduling.StepScheduler.Suspend"/>).</summary>
    public bool Suspend(string requestId) => Scheduler.Suspend(requestId);

    /// <summary>Puts a suspended request back in the batch: a migration that failed before its commit.</summary>
    public bool Unsuspend(string requestId) => Scheduler.Unsuspend(requestId);

    /// <summary>Requests suspended for a migration: they hold blocks but take no step.</summary>
    public int SuspendedRequests => Scheduler.Suspended;
}
