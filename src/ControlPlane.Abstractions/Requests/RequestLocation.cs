namespace ControlPlane.Requests;

/// <summary>
/// An instance's answer to "where is this request?": it runs here (queued, prefilling, decoding or fetching its
/// prefix) and has sent chunks up to <see cref="SentChunks"/>; or it moved from here lately to <see cref="MovedTo"/>;
/// or neither (finished, aborted, or never here). <see cref="Silo"/> is the answering instance's silo.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestLocation")]
public sealed record RequestLocation
{
    [Id(0)] public bool Held { get; init; }

    /// <summary>How many chunks of the request this instance has sent (the next chunk's sequence number), when held.</summary>
    [Id(1)] public int SentChunks { get; init; }

    [Id(2)] public string? MovedTo { get; init; }
    [Id(3)] public string Silo { get; init; } = "";

    public static readonly RequestLocation Unknown = new();
}
