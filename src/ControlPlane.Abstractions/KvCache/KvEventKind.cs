namespace ControlPlane.KvCache;

/// <summary>What happened to a named KV block.</summary>
[GenerateSerializer]
public enum KvEventKind
{
    /// <summary>A full block was computed (or imported) and can now be shared by its hash.</summary>
    Stored,

    /// <summary>A cached block was reclaimed for other data: its hash no longer names anything here.</summary>
    Removed,
}
