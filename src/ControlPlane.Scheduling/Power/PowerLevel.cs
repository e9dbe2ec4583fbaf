namespace ControlPlane.Scheduling.Power;

/// <summary>How far a power domain is capped, least to most: each level caps more instances, in priority order.</summary>
public enum PowerLevel
{
    Uncapped,

    /// <summary>Instances whose most important work is batch are capped.</summary>
    BatchCapped,

    /// <summary>Batch and standard instances are capped.</summary>
    StandardCapped,

    /// <summary>Every instance is capped, interactive ones too.</summary>
    AllCapped,

    /// <summary>The budget is being exceeded: every instance at the brake cap until draw falls.</summary>
    Brake,
}
