using ControlPlane.Tokens;

namespace ControlPlane.Grains.Engines;

/// <summary>A request the runner has handed to its engine: where its tokens go and how many chunks it has sent.</summary>
internal sealed class TrackedRequest(ITokenSink sink, string gateway, long admittedAt)
{
    public ITokenSink Sink { get; } = sink;

    /// <summary>The silo address of the gateway that streams the request.</summary>
    public string Gateway { get; } = gateway;
    public long AdmittedAt { get; } = admittedAt;
    public int NextSequence { get; set; }

    /// <summary>Whether a token went out, so the request grain has been told it decodes here.</summary>
    public bool Decoding { get; set; }

    /// <summary>The last write of the request's phase, which the next one follows.</summary>
    public Task LastPhaseWrite { get; set; } = Task.CompletedTask;
}
