using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Simulation.Engine;

/// <summary>One request inside the simulated engine: its tokens, how far prefill got, the blocks it holds.</summary>
internal sealed class SimulatedSequence(RequestSpec spec, Random random, long arrivalOrder)
{
    public RequestSpec Spec { get; } = spec;
    public Random Random { get; } = random;
    public long ArrivalOrder { get; } = arrivalOrder;
    public List<int> OutputTokenIds { get; } = [];
    public StopStringMatcher Stops { get; } = new(spec.Sampling.StopStrings);

    /// <summary>Tokens whose keys and values are in the cache (prefill progress, then every decoded token).</summary>
    public int ComputedTokens { get; set; }
    public int HeldBlocks { get; set; }
    public int CachedPromptTokens { get; set; }

    public int PromptTokens => Spec.PromptTokenIds.Count;

    /// <summary>Tokens that must be in the cache before the next token can be sampled (prompt plus output so far).</summary>
    public int ContextTokens => PromptTokens + OutputTokenIds.Count;
    public bool InPrefill => ComputedTokens < ContextTokens;

    public int BlocksFor(int tokens, int blockSize) => (tokens + blockSize - 1) / blockSize;

    public int TokenAt(int position) => position < PromptTokens ? Spec.PromptTokenIds[position] : OutputTokenIds[position - PromptTokens];
}
