namespace ControlPlane.Instances;

/// <summary>Whether an instance takes new work.</summary>
[GenerateSerializer]
public enum InstanceHealth
{
    Starting,
    Ready,
    Draining,
    Failed,
}
