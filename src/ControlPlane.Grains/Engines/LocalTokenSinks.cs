using System.Collections.Concurrent;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Token sinks that live in this process, by their observer id. When a gateway and an engine share a silo,
/// the runner hands a step's batch to the gateway object directly instead of sending an Orleans message;
/// across silos the observer reference is used as before. Same batching, same sequence numbers.
/// </summary>
public sealed class LocalTokenSinks
{
    private readonly ConcurrentDictionary<GrainId, ITokenSink> _sinks = new();

    public void Register(ITokenSink reference, ITokenSink target) => _sinks[((GrainReference)reference).GrainId] = target;

    public void Unregister(ITokenSink reference) => _sinks.TryRemove(((GrainReference)reference).GrainId, out _);

    /// <summary>The in-process sink behind <paramref name="sink"/>, or the reference itself.</summary>
    public ITokenSink Resolve(ITokenSink sink) =>
        sink is GrainReference reference && _sinks.TryGetValue(reference.GrainId, out var local) ? local : sink;
}
