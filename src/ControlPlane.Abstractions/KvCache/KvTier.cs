namespace ControlPlane.KvCache;

/// <summary>Where an instance holds a KV block: in GPU memory, ready to attend to, or in its host-memory tier, a copy away.</summary>
[GenerateSerializer]
public enum KvTier
{
    Gpu,
    Host,
}
