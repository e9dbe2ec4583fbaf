using ControlPlane.Requests;

namespace ControlPlane.Grains;

/// <summary>One request's lifecycle. Changes on phase transitions, never per token.</summary>
[Alias("ControlPlane.IRequestGrain")]
public interface IRequestGrain : IGrainWithStringKey
{
    [Alias("Start")]
    Task StartAsync(RequestSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Applies a transition; an illegal one (say, decoding after finished) throws and changes nothing.</summary>
    [Alias("Advance")]
    Task<RequestStatus> AdvanceAsync(RequestTransition transition, CancellationToken cancellationToken = default);

    [Alias("GetStatus")]
    Task<RequestStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}
