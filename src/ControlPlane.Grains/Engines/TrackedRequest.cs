using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Engines;

/// <summary>A request the runner has handed to its engine: where its tokens go and how many chunks it has sent.</summary>
internal sealed class TrackedRequest(ITokenSink sink, ITokenSink sinkReference, string gateway, long admittedAt, RequestSpec spec)
{
    public RequestSpec Spec { get; } = spec;

    public ITokenSink Sink { get; } = sink;

    /// <summary>The sink as the gateway gave it (a grain observer reference): what a migration hands to another silo.</summary>
    public ITokenSink SinkReference { get; } = sinkReference;

    /// <summary>The silo address of the gateway that streams the request.</summary>
    public string Gateway { get; } = gateway;
    public long AdmittedAt { get; } = admittedAt;
    public int NextSequence { get; set; }

    /// <summary>Prompt tokens whose blocks were fetched from a peer before it was added.</summary>
    public int PeerFetchedTokens { get; set; }

    /// <summary>Whether a token went out, so the request grain has been told it decodes here.</summary>
    public bool Decoding { get; set; }

    /// <summary>Whether a migration out of this instance is under way for it (one at a time).</summary>
    public bool Migrating { get; set; }

    /// <summary>When it arrived here by migration (a timestamp), or null: it does not move again within the cooldown without cause.</summary>
    public long? MigratedInAt { get; set; }

    /// <summary>The last write of the request's phase, which the next one follows.</summary>
    public Task LastPhaseWrite { get; set; } = Task.CompletedTask;
}
