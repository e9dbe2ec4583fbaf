using ControlPlane.Grains;
using ControlPlane.Grains.Requests;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Keeps a request grain informed off the token path: transitions go out in order, each after the one
/// before, without the client waiting on them. <see cref="DrainAsync"/> waits for all of them.
/// </summary>
public sealed class RequestTracker(IRequestGrain grain, TimeProvider time, OutageLog outage)
{
    private Task _last = Task.CompletedTask;

    public void Start(RequestSpec spec, string instanceId) => Post(() => grain.StartAsync(spec, instanceId));

    public void Advance(RequestPhase to, string? instanceId = null, RequestUsage? usage = null, FinishReason finish = FinishReason.None, string? error = null)
    {
        var transition = new RequestTransition { To = to, At = time.GetUtcNow(), InstanceId = instanceId, Usage = usage, FinishReason = finish, Error = error };
        Post(() => grain.AdvanceAsync(transition));
    }

    public Task DrainAsync() => _last;

    private void Post(Func<Task> update) => _last = Chain(_last, update);

    private async Task Chain(Task previous, Func<Task> update)
    {
        await previous.ConfigureAwait(false);
        try
        {
            await update().ConfigureAwait(false);
            outage.Succeeded();
        }
        catch (Exception ex)
        {
            outage.Failed(ex);
        }
    }
}
