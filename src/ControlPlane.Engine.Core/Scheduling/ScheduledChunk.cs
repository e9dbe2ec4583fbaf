using ControlPlane.Engine.Core.Requests;

namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>
/// One request's part of a step: <see cref="Count"/> tokens from position <see cref="Start"/> to compute
/// (a decode token or a prefill chunk). When the chunk reaches the end of the request's context the step
/// samples its next token; <see cref="Draw"/> is the request's uniform draw for it (NaN when greedy or not sampling).
/// </summary>
public readonly record struct ScheduledChunk(EngineRequest Request, int Start, int Count, bool Samples, double Draw)
{
    /// <summary>A single new token of a request that has output already: decoding, not prefilling.</summary>
    public bool IsDecode => Count == 1 && Request.OutputTokenIds.Count > 0;
}
