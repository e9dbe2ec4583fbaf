using ControlPlane.Requests;

namespace ControlPlane.Grains;

/// <summary>
/// One request's lifecycle. Changes on phase transitions, never per token; persisted when the request
/// starts, changes instance, or ends (the first-token transition to decoding stays in memory until then).
/// </summary>
[Alias("ControlPlane.IRequestGrain")]
public interface IRequestGrain : IGrainWithStringKey
{
    /// <summary>
    /// Records a new request: queued, or already prefilling on <paramref name="instanceId"/> when the
    /// gateway starts it after admission (one write instead of two).
    /// </summary>
    [Alias("Start")]
    Task StartAsync(RequestSpec spec, string? instanceId = null, CancellationToken cancellationToken = default);

    /// <summary>Applies a transition; an illegal one (say, decoding after finished) throws and changes nothing.</summary>
    [Alias("Advance")]
    Task<RequestStatus> AdvanceAsync(RequestTransition transition, CancellationToken cancellationToken = default);

    [Alias("GetStatus")]
    Task<RequestStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}
