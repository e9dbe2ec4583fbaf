using System.Text.Json;
using ControlPlane.Grains;
using ControlPlane.Power;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>GET /admin/power</c>: every power domain's live status (draw against budget, level, caps in force, brakes), as its
/// grain last saw it: the configured ones (<c>ControlPlane:Power:Domains</c>) and the PowerBudgets' (what the operator
/// writes into each PowerBudget's status). <c>PUT /admin/power/domains</c>: the operator applies the PowerBudgets' domains,
/// the whole set at once; <c>GET /admin/power/domains</c>: that set as last applied.
/// </summary>
public static class PowerEndpoints
{
    /// <summary>The largest body <c>PUT /admin/power/domains</c> reads.</summary>
    public const int MaxBodyBytes = 1 << 20;

    public static async Task<IResult> List(ControlPlaneConfig config, IGrainFactory grains, CancellationToken cancellationToken) =>
        Results.Json(new { domains = await ReadAsync(config, grains, cancellationToken) });

    /// <summary>Every domain's status: the configured ones in their order, then the PowerBudgets' by name.</summary>
    public static async Task<List<PowerDomainStatus>> ReadAsync(ControlPlaneConfig config, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var statuses = new List<PowerDomainStatus>();
        foreach (var domain in config.Power.Domains)
            statuses.Add(await grains.GetGrain<IPowerDomainGrain>(domain.Name).GetStatusAsync(cancellationToken));
        foreach (var domain in await grains.GetGrain<IPowerDomainsGrain>(0).ListAsync(cancellationToken))
            statuses.Add(await grains.GetGrain<IPowerDomainGrain>(domain.Name).GetStatusAsync(cancellationToken));
        return statuses;
    }

    public static async Task<IResult> Applied(IGrainFactory grains, CancellationToken cancellationToken) =>
        Results.Json(new { domains = (await grains.GetGrain<IPowerDomainsGrain>(0).ListAsync(cancellationToken)).Select(Json) });

    /// <summary>
    /// <c>PUT /admin/power/domains</c> with <c>{"domains": [{"name", "budgetWatts", "nodes", "models", "periodMs",
    /// "minimumGpuWatts", "headroomPercent"}]}</c>: these domains run, each from its next period, and any other the set held
    /// before stops with its caps lifted. A bad domain is refused (400 naming its field) and the set is left as it was.
    /// </summary>
    public static async Task<IResult> Apply(HttpRequest request, ControlPlaneConfig config, IGrainFactory grains, CancellationToken cancellationToken)
    {
        JsonElement body;
        try
        {
            body = await CompletionEndpoint.ReadBodyAsync(request.HttpContext, MaxBodyBytes, cancellationToken);
        }
        catch (ApiErrorException ex)
        {
            return ex.Error.ToResult();
        }
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("domains", out var list) || list.ValueKind != JsonValueKind.Array)
            return ApiError.Invalid("domains", "The body must be an object with a 'domains' array.").ToResult();
        var specs = new List<PowerDomainSpec>();
        var configured = config.Power.Domains.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var path = $"domains[{i++}].";
            if (Parse(item, path, out var error) is not { } spec)
                return ApiError.Invalid(error.Field, error.Message).ToResult();
            if (spec.Validate(path) is [var invalid, ..])
                return ApiError.Invalid(invalid.Split(' ')[0], invalid + ".").ToResult();
            if (configured.Contains(spec.Name))
                return ApiError.Invalid(path + "name", $"'{spec.Name}' is a domain of this control plane's configuration (ControlPlane:Power:Domains); a PowerBudget may not take its name.").ToResult();
            if (!names.Add(spec.Name))
                return ApiError.Invalid(path + "name", $"'{spec.Name}' is given twice.").ToResult();
            specs.Add(spec);
        }
        await grains.GetGrain<IPowerDomainsGrain>(0).ApplyAsync(specs, cancellationToken);
        return Results.Json(new { domains = specs.Select(Json) });
    }

    private static object Json(PowerDomainSpec d) => new
    {
        name = d.Name, budgetWatts = d.BudgetWatts, nodes = d.Nodes, models = d.Models, periodMs = d.PeriodMs,
        minimumGpuWatts = d.MinimumCapWatts, headroomPercent = d.HeadroomPercent,
    };

    private static PowerDomainSpec? Parse(JsonElement item, string path, out (string Field, string Message) error)
    {
        error = default;
        if (item.ValueKind != JsonValueKind.Object)
        {
            error = (path.TrimEnd('.'), "Each domain must be an object.");
            return null;
        }
        string? name = null;
        double budget = 0, minimum = 0, headroom = 0;
        var period = 1000;
        IReadOnlyList<string> nodes = [], models = [];
        foreach (var field in item.EnumerateObject())
        {
            var key = path + field.Name;
            var v = field.Value;
            switch (field.Name)
            {
                case "name" when v.ValueKind == JsonValueKind.String:
                    name = v.GetString();
                    break;
                case "budgetWatts" when v.ValueKind == JsonValueKind.Number:
                    budget = v.GetDouble();
                    break;
                case "minimumGpuWatts" when v.ValueKind == JsonValueKind.Number:
                    minimum = v.GetDouble();
                    break;
                case "headroomPercent" when v.ValueKind == JsonValueKind.Number:
                    headroom = v.GetDouble();
                    break;
                case "periodMs" when v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var ms):
                    period = ms;
                    break;
                case "nodes" or "models" when v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String):
                    var names = v.EnumerateArray().Select(x => x.GetString()!).ToArray();
                    if (field.Name == "nodes")
                        nodes = names;
                    else
                        models = names;
                    break;
                case "name" or "budgetWatts" or "minimumGpuWatts" or "headroomPercent" or "periodMs" or "nodes" or "models":
                    error = (key, $"'{key}' has the wrong type.");
                    return null;
                default:
                    error = (key, $"'{key}' is not a field of a power domain (name, budgetWatts, nodes, models, periodMs, minimumGpuWatts, headroomPercent).");
                    return null;
            }
        }
        if (string.IsNullOrWhiteSpace(name))
        {
            error = (path + "name", $"'{path}name' must be a non-empty string.");
            return null;
        }
        return new PowerDomainSpec
        {
            Name = name, BudgetWatts = budget, Nodes = nodes, Models = models, PeriodMs = period, MinimumCapWatts = minimum, HeadroomPercent = headroom,
        };
    }
}
