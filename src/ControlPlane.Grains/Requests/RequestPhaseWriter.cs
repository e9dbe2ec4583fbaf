using ControlPlane.Requests;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Requests;

/// <summary>
/// Writes the phases an instance sees (decoding at the first token, the ending) to request grains, off the
/// token path: each request's writes go out in order, each after the one before, and nothing waits for them.
/// </summary>
public sealed class RequestPhaseWriter(IGrainFactory grains, TimeProvider time, ILogger logger)
{
    private readonly OutageLog _outage = new(logger, "recording request phases (the request state store)", time);

    /// <summary>Posts a transition after <paramref name="previous"/> (the request's last write); returns the new last write.</summary>
    public Task Post(Task previous, string requestId, RequestPhase to, string? instanceId = null, RequestUsage? usage = null,
        FinishReason finish = FinishReason.None, string? error = null)
    {
        var transition = new RequestTransition { To = to, At = time.GetUtcNow(), InstanceId = instanceId, Usage = usage, FinishReason = finish, Error = error };
        return Chain(previous, requestId, transition);
    }

    private async Task Chain(Task previous, string requestId, RequestTransition transition)
    {
        await previous.ConfigureAwait(false);
        try
        {
            await grains.GetGrain<IRequestGrain>(requestId).AdvanceAsync(transition).ConfigureAwait(false);
            _outage.Succeeded();
        }
        catch (Exception ex)
        {
            // The request itself is unaffected: its tokens do not wait on this.
            _outage.Failed(ex);
        }
    }
}
