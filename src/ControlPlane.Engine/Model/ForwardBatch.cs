namespace ControlPlane.Engine.Model;

/// <summary>The new tokens of one engine step, for every sequence in it, and where their keys and values go.</summary>
public sealed record ForwardBatch(long[] TokenIds, long[] Positions, long[] Slots, IReadOnlyList<SequenceSlice> Sequences);
