using ControlPlane.Power;

namespace ControlPlane.Grains;

/// <summary>One power domain (a <c>PowerBudget</c>): a control loop that reads its instances' draw and caps the least important work first.</summary>
[Alias("ControlPlane.IPowerDomainGrain")]
public interface IPowerDomainGrain : IGrainWithStringKey
{
    /// <summary>Starts (or keeps) the domain's loop; the grain reads its budget and models from the silo's configuration.</summary>
    [Alias("Ensure")]
    Task EnsureRunningAsync(CancellationToken cancellationToken = default);

    [Alias("GetStatus")]
    Task<PowerDomainStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}
