using Orleans.Placement;

namespace ControlPlane.Grains.Placement;

/// <summary>Marks a grain class whose key is an instance id: it lives on the silo that runs the engine.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class InstancePlacementAttribute() : PlacementAttribute(InstancePlacementStrategy.Instance);
