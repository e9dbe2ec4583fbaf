namespace ControlPlane.Engine.Core;

/// <summary>
/// What a runner gives back for a step: a token for each chunk that samples (-1 for the others), and how long
/// the step takes: measured by a real backend, modelled by a simulated one (which must not read a clock: in
/// virtual time a clock read per step would cost more than the step).
/// </summary>
/// <paramref name="EnergyJoules"/>: the step's GPU energy when the runner models it (a simulated GPU with a power
/// model); null when it does not know (the engine core then estimates it from the measured draw, where it has one).
public sealed record StepRun(int[] Tokens, TimeSpan Duration, double? EnergyJoules = null);
