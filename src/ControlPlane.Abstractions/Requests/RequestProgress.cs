namespace ControlPlane.Requests;

/// <summary>
/// What a request already produced on an instance that is gone: its output tokens and the sequence number of
/// its next chunk. An engine given a request with progress recomputes the keys and values of prompt and
/// output, then goes on from there; the stream continues with no chunk repeated or missing.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.RequestProgress")]
public sealed record RequestProgress
{
    [Id(0)] public required IReadOnlyList<int> OutputTokenIds { get; init; }
    [Id(1)] public required int NextSequence { get; init; }
}
