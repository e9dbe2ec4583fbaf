using ControlPlane.Tokens;

namespace ControlPlane.Grains.Engines;

/// <summary>A request the runner has handed to its engine: where its tokens go and how many chunks it has sent.</summary>
internal sealed class TrackedRequest(ITokenSink sink, long admittedAt)
{
    public ITokenSink Sink { get; } = sink;
    public long AdmittedAt { get; } = admittedAt;
    public int NextSequence { get; set; }
}
