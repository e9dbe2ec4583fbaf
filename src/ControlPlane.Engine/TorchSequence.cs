using ControlPlane.Engine.Sampling;
using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine;

/// <summary>One request inside the TorchSharp engine: tokens, block table, prefill progress, output state.</summary>
internal sealed class TorchSequence(RequestSpec spec, Random random, long arrivalOrder, ITokenizer tokenizer)
{
    public RequestSpec Spec { get; } = spec;
    public Random Random { get; } = random;
    public long ArrivalOrder { get; } = arrivalOrder;
    public List<int> OutputTokenIds { get; } = [];
    public List<int> BlockTable { get; } = [];

    /// <summary>Chained hashes of the full blocks at the start of <see cref="BlockTable"/>.</summary>
    public List<ulong> BlockHashes { get; } = [];
    public StopStringMatcher Stops { get; } = new(spec.Sampling.StopStrings);
    public IncrementalDetokenizer Detokenizer { get; } = new(tokenizer);
    public int ComputedTokens { get; set; }
    public int CachedPromptTokens { get; set; }

    public int PromptTokens => Spec.PromptTokenIds.Count;
    public int ContextTokens => PromptTokens + OutputTokenIds.Count;

    public int TokenAt(int position) => position < PromptTokens ? Spec.PromptTokenIds[position] : OutputTokenIds[position - PromptTokens];

    public int[] Tokens(int start, int count)
    {
        var tokens = new int[count];
        for (var i = 0; i < count; i++)
            tokens[i] = TokenAt(start + i);
        return tokens;
    }
}
