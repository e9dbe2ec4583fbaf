using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Scorers;

/// <summary>
/// Scores instances by virtual KV usage (Llumnix): blocks in use plus the blocks queued requests and this
/// request will need, over capacity. 1 is empty, 0 is full or beyond.
/// </summary>
public sealed class KvUsageScorer : IDispatchScorer
{
    public const string PluginName = "least-kv-usage";

    public string Name => PluginName;

    public void Score(in DispatchRequest request, ReadOnlySpan<InstanceLoad> candidates, Span<double> scores)
    {
        for (var i = 0; i < candidates.Length; i++)
        {
            var c = candidates[i];
            var own = request.PromptBlocks(c.KvBlockSize);
            var virtualUsage = c.TotalKvBlocks <= 0 ? 1 : (double)(c.UsedKvBlocks + c.WaitingKvBlocks + own) / c.TotalKvBlocks;
            scores[i] = 1 - Math.Min(1, virtualUsage);
        }
    }
}
