namespace ControlPlane.Engine.Core;

/// <summary>
/// What a runner gives back for a step: a token for each chunk that samples (-1 for the others), and how long
/// the step takes: measured by a real backend, modelled by a simulated one (which must not read a clock: in
/// virtual time a clock read per step would cost more than the step).
/// </summary>
public sealed record StepRun(int[] Tokens, TimeSpan Duration);
