namespace ControlPlane.Scheduling.Dispatch.Scorers;

/// <summary>
/// Scores instances by the share of the prompt they hold cached (precise prefix affinity, as llm-d's precise scorer and
/// Dynamo's KV router: from the engines' own KV events, not from a guess by string prefix). A block in host memory
/// counts <see cref="HostBlockValue"/> of one on the GPU: it saves its prefill, less the copy back. 0 everywhere when the
/// request has no block names or the view has no index.
/// </summary>
public sealed class PrefixAffinityScorer : IDispatchScorer
{
    public const string PluginName = "prefix-affinity";

    /// <summary>
    /// A 16-token Llama-3-8B block takes about 0.38 ms to prefill on an H200 and 0.08 ms to copy back from pinned host
    /// memory (2 MiB at 25 GB/s): a host hit saves about three quarters of what a GPU hit saves.
    /// </summary>
    public const double HostBlockValue = 0.75;

    public string Name => PluginName;

    public void Score(in DispatchRequest request, ReadOnlySpan<Instances.InstanceLoad> candidates, Span<double> scores)
    {
        if (request.Prefix is not { PromptBlocks: > 0 } match)
        {
            scores.Clear();
            return;
        }
        for (var i = 0; i < candidates.Length; i++)
        {
            var (blocks, host) = match.For(candidates[i].InstanceId);
            scores[i] = (blocks - host * (1 - HostBlockValue)) / match.PromptBlocks;
        }
    }
}
