using ControlPlane.Instances;
using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Dispatch.Scorers;

/// <summary>
/// Keeps batch work apart from the classes above it: a batch request scores 1 on instances holding no
/// interactive or standard request, and a request of those classes scores 1 on instances holding no batch
/// request (0 elsewhere). Instances then serve one kind, so a power controller can cap the batch ones
/// without touching latency-critical work (POLCA).
/// </summary>
public sealed class ClassAffinityScorer : IDispatchScorer
{
    public const string PluginName = "class-affinity";

    public string Name => PluginName;

    public void Score(in DispatchRequest request, ReadOnlySpan<InstanceLoad> candidates, Span<double> scores)
    {
        var batch = request.ServiceClass == ServiceClass.Batch;
        for (var i = 0; i < candidates.Length; i++)
            scores[i] = (batch ? candidates[i].PriorityRequests : candidates[i].BatchRequests) == 0 ? 1 : 0;
    }
}
