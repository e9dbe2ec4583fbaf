using ControlPlane.Instances;
using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>
/// Admission by SLO: keeps instances where the request's predicted time to first token (its queue's prompts and its
/// own, at the instance's measured prefill rate: <see cref="InstanceLoad.PredictedTtft"/>) is within its class's
/// target. None left means the request is refused at once with 429 and a <c>Retry-After</c> from the queues, instead of
/// waiting longer than its class allows. An instance with no measured rate yet, or a class without a target, passes.
/// </summary>
public sealed class SloAdmissionFilter(SloAdmissionConfig targets) : IDispatchFilter
{
    public const string PluginName = "slo-admission";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.SloMiss;
    public SloAdmissionConfig Targets { get; } = targets;

    public bool Admits(in DispatchRequest request, InstanceLoad instance) =>
        Targets.For(request.ServiceClass) is not { } target || request.Resumed
        || instance.PredictedTtft(request.PromptTokens) is not { } predicted || predicted <= target;
}

/// <summary>
/// <c>ControlPlane:Dispatch:SloAdmission</c>: the longest predicted time to first token each class is admitted with
/// (zero: no limit). The batch class has none by default: it waits rather than being refused.
/// </summary>
public sealed record SloAdmissionConfig
{
    public TimeSpan Interactive { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Standard { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Batch { get; init; } = TimeSpan.Zero;

    public TimeSpan? For(ServiceClass serviceClass)
    {
        var target = serviceClass switch
        {
            ServiceClass.Interactive => Interactive,
            ServiceClass.Batch => Batch,
            _ => Standard,
        };
        return target > TimeSpan.Zero ? target : null;
    }
}
