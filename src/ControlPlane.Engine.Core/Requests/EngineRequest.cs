using ControlPlane.Engine.Core.Output;
using ControlPlane.Requests;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core.Requests;

/// <summary>
/// One request inside an engine: its spec and output, its block table, how far its keys and values are
/// computed, its text and stop-string state and its random stream. <see cref="ToResumeState"/> is the part
/// that travels when the request moves to another engine.
/// </summary>
public sealed class EngineRequest(RequestSpec spec, long arrivalOrder, RequestRandom random, ITokenTextDecoder text)
{
    public RequestSpec Spec { get; } = spec;
    public long ArrivalOrder { get; } = arrivalOrder;
    public RequestRandom Random { get; } = random;
    public ITokenTextDecoder Text { get; } = text;
    public StopStringMatcher Stops { get; } = new(spec.Sampling.StopStrings);
    public List<int> OutputTokenIds { get; } = [];
    public List<int> BlockTable { get; } = [];

    /// <summary>Chained hashes of the full blocks of the request's tokens so far (a function of the tokens alone).</summary>
    public List<ulong> BlockHashes { get; } = [];

    /// <summary>Blocks at the start of <see cref="BlockTable"/> already named in the pool (or shared from it).</summary>
    public int NamedBlocks { get; set; }

    /// <summary>Tokens whose keys and values are in the cache (prefill progress, then every decoded token).</summary>
    public int ComputedTokens { get; set; }
    public int CachedPromptTokens { get; set; }

    /// <summary>Of <see cref="CachedPromptTokens"/>, those brought back from the host tier rather than found on the GPU.</summary>
    public int LoadedPromptTokens { get; set; }
    public int NextOutputSequence { get; set; }

    /// <summary>How many times the request lost its blocks to recompute preemption (a staged copy of them is then stale).</summary>
    public int Preemptions { get; set; }

    /// <summary>GPU energy attributed to the request so far, J: each step's energy shared by the tokens it computed.</summary>
    public double EnergyJoules { get; set; }

    /// <summary>Held out of the batch with its blocks, while its last blocks move to another engine.</summary>
    public bool Suspended { get; set; }

    public int PromptTokens => Spec.PromptTokenIds.Count;

    /// <summary>Tokens that must be in the cache before the next token can be sampled (prompt plus output so far).</summary>
    public int ContextTokens => PromptTokens + OutputTokenIds.Count;
    public string Id => Spec.RequestId;

    public int TokenAt(int position) => position < PromptTokens ? Spec.PromptTokenIds[position] : OutputTokenIds[position - PromptTokens];

    public int[] Tokens(int start, int count)
    {
        var tokens = new int[count];
        CopyTokens(start, tokens);
        return tokens;
    }

    /// <summary>Fills <paramref name="destination"/> with the tokens from <paramref name="start"/> on.</summary>
    public void CopyTokens(int start, Span<int> destination)
    {
        for (var i = 0; i < destination.Length; i++)
            destination[i] = TokenAt(start + i);
    }

    public ResumeState ToResumeState() => new()
    {
        OutputTokenIds = OutputTokenIds.ToArray(),
        ComputedTokens = ComputedTokens,
        CachedPromptTokens = CachedPromptTokens,
        RandomSeed = Random.Seed,
        RandomDraws = Random.Draws,
        NextOutputSequence = NextOutputSequence,
    };
}
