namespace ControlPlane.Engine.Core;

/// <summary>
/// What a runner gives back for a step: a token for each chunk that samples (-1 for the others), and the
/// step's modelled duration; null when the backend runs for real and the engine measures it.
/// </summary>
public sealed record StepRun(int[] Tokens, TimeSpan? ModelledDuration = null);
