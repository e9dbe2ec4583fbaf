using ControlPlane.Requests;

namespace ControlPlane.Grains.Requests;

/// <summary>
/// The legal phase transitions of a request. Prefill may hand over to another instance (transferring) or
/// continue in place (decoding); a decoding request may migrate and come back to decoding on its new
/// instance; any live phase may end. Ended phases are final.
/// </summary>
public static class RequestLifecycle
{
    private static readonly Dictionary<RequestPhase, RequestPhase[]> Next = new()
    {
        [RequestPhase.Queued] = [RequestPhase.Prefilling, RequestPhase.Queued],
        [RequestPhase.Prefilling] = [RequestPhase.Decoding, RequestPhase.Transferring, RequestPhase.Queued],
        [RequestPhase.Transferring] = [RequestPhase.Decoding, RequestPhase.Queued],
        [RequestPhase.Decoding] = [RequestPhase.Migrating, RequestPhase.Queued],
        [RequestPhase.Migrating] = [RequestPhase.Decoding, RequestPhase.Queued],
    };

    public static bool IsEnded(RequestPhase phase) =>
        phase is RequestPhase.Finished or RequestPhase.Failed or RequestPhase.Cancelled;

    /// <summary>Whether <paramref name="from"/> may move to <paramref name="to"/>. Re-queueing (after a preemption or a lost instance) is legal from any live phase.</summary>
    public static bool CanMove(RequestPhase from, RequestPhase to)
    {
        if (IsEnded(from))
            return false;
        if (IsEnded(to))
            return true;
        return Next.TryGetValue(from, out var next) && next.Contains(to);
    }
}
