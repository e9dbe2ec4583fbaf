namespace ControlPlane.Transfer;

/// <summary>
/// A destination's yes to an incoming migration: where to stream the request's KV parts (its worker's KV endpoint)
/// and the silo that will run it. The destination expects the parts until they stop coming for a while.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.MigrationTicket")]
public sealed record MigrationTicket
{
    [Id(0)] public string Host { get; init; } = "";
    [Id(1)] public int Port { get; init; }
    [Id(2)] public string Silo { get; init; } = "";

    /// <summary>Why the destination cannot take the request; null when it expects it.</summary>
    [Id(3)] public string? Refusal { get; init; }

    /// <summary>
    /// The destination worker's host (<see cref="KvHost.BootId"/>): parts are offered as device handles only to a worker
    /// on the sender's host (empty: not known, so offered once).
    /// </summary>
    [Id(4)] public string HostId { get; init; } = "";

    public static MigrationTicket Refused(string reason) => new() { Refusal = reason };
}
