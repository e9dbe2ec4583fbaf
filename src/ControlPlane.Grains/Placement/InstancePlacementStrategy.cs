namespace ControlPlane.Grains.Placement;

/// <summary>Places an instance grain on the silo of the pod its id names (see <see cref="ControlPlane.Instances.InstanceIds"/>).</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.InstancePlacement")]
public sealed class InstancePlacementStrategy : PlacementStrategy
{
    public static readonly InstancePlacementStrategy Instance = new();
}
