using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>A profile's choice: an index into the instances it was given, or a refusal.</summary>
public readonly record struct DispatchOutcome(int Index, DispatchRefusal Refusal)
{
    public bool Succeeded => Index >= 0;

    public static DispatchOutcome Chose(int index) => new(index, DispatchRefusal.None);

    public static DispatchOutcome Refused(DispatchRefusal refusal) => new(-1, refusal);
}
