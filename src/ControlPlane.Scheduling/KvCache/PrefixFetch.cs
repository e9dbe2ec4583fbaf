namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// A planned peer fetch: blocks <see cref="FirstBlock"/> to <see cref="FirstBlock"/> + <see cref="BlockCount"/> of the
/// prompt from <see cref="SourceInstance"/>, with the times the planner weighed.
/// </summary>
public sealed record PrefixFetch(string SourceInstance, int FirstBlock, int BlockCount, TimeSpan FetchTime, TimeSpan RecomputeTime);
