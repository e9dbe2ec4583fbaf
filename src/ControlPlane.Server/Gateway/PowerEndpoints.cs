using ControlPlane.Grains;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>GET /admin/power</c>: every configured power domain's live status (draw against budget, level, caps in
/// force, brakes), as its grain last saw it. Read only; what the operator writes into a PowerBudget's status.
/// </summary>
public static class PowerEndpoints
{
    public static async Task<IResult> List(ControlPlaneConfig config, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var statuses = new List<ControlPlane.Power.PowerDomainStatus>();
        foreach (var domain in config.Power.Domains)
            statuses.Add(await grains.GetGrain<IPowerDomainGrain>(domain.Name).GetStatusAsync(cancellationToken));
        return Results.Json(new { domains = statuses });
    }
}
