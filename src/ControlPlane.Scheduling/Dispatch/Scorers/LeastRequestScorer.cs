using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Scorers;

/// <summary>Scores instances by how few requests they hold (running plus waiting): 1 for the emptiest.</summary>
public sealed class LeastRequestScorer : IDispatchScorer
{
    public const string PluginName = "least-request";

    public string Name => PluginName;

    public void Score(in DispatchRequest request, ReadOnlySpan<InstanceLoad> candidates, Span<double> scores)
    {
        var max = 0;
        foreach (var c in candidates)
            max = Math.Max(max, c.RunningRequests + c.WaitingRequests);
        for (var i = 0; i < candidates.Length; i++)
            scores[i] = max == 0 ? 1 : 1 - (double)(candidates[i].RunningRequests + candidates[i].WaitingRequests) / (max + 1);
    }
}
