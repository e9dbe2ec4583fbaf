namespace ControlPlane.Server.Configuration;

/// <summary>How silos find each other and where grain state lives.</summary>
public enum ClusterMode
{
    /// <summary>One process: localhost clustering, in-memory state. The default.</summary>
    Embedded,

    /// <summary>Redis clustering and Redis grain storage: several silos, state that survives a restart.</summary>
    Redis,
}
