namespace ControlPlane.Instances;

/// <summary>Which phase of work an instance serves.</summary>
[GenerateSerializer]
public enum InstanceRole
{
    Mixed,
    Prefill,
    Decode,
}
