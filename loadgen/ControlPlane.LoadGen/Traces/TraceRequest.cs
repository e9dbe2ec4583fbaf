namespace ControlPlane.LoadGen.Traces;

/// <summary>One request of a trace: when it arrives (from the trace's start), how long its prompt and answer are.</summary>
public sealed record TraceRequest(double ArrivalMs, int InputTokens, int OutputTokens, IReadOnlyList<int>? HashIds = null);
