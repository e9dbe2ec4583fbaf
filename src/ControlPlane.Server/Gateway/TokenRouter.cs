using System.Collections.Concurrent;
using ControlPlane.Grains.Engines;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// This gateway's token sink: one grain observer for the whole gateway, which hands each chunk of an
/// incoming batch to the stream of its request. Chunks of requests it no longer knows are dropped. It also
/// knows where each running request runs, so a lost silo's requests can be resumed elsewhere.
/// </summary>
public sealed class TokenRouter(LocalTokenSinks localSinks, TimeProvider time) : ITokenSink
{
    private readonly ConcurrentDictionary<string, RequestTokenStream> _streams = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RunningRequest> _running = new(StringComparer.Ordinal);
    private ITokenSink? _reference;

    /// <summary>The observer reference engines send to; created once the silo runs.</summary>
    public ITokenSink Reference => _reference ?? throw new InvalidOperationException("the token router is not attached to the cluster yet");

    /// <summary>Creates the observer reference, and lets engines in this process deliver to this router directly.</summary>
    public void Attach(IGrainFactory grains)
    {
        if (_reference is not null)
            return;
        _reference = grains.CreateObjectReference<ITokenSink>(this);
        localSinks.Register(_reference, this);
    }

    public RequestTokenStream Open(string requestId)
    {
        var stream = new RequestTokenStream(requestId, time);
        return _streams.TryAdd(requestId, stream) ? stream : throw new InvalidOperationException($"request '{requestId}' is already streaming");
    }

    public void Close(string requestId)
    {
        _streams.TryRemove(requestId, out _);
        _running.TryRemove(requestId, out _);
    }

    /// <summary>Remembers a request admitted on an instance, until <see cref="Close"/>.</summary>
    public void Track(RunningRequest running)
    {
        if (_streams.ContainsKey(running.Spec.RequestId))
            _running[running.Spec.RequestId] = running;
    }

    /// <summary>Every running request this gateway serves.</summary>
    public IReadOnlyList<RunningRequest> Running => [.. _running.Values];

    /// <summary>The running requests whose instance runs on the silo at <paramref name="silo"/>.</summary>
    public IReadOnlyList<RunningRequest> RunningOn(string silo) =>
        [.. _running.Values.Where(r => r.Silo == silo)];

    public Task OnMovedAsync(RequestMove move)
    {
        if (_running.TryGetValue(move.RequestId, out var running))
            running.MigratedTo(move.InstanceId, move.Silo, move.Handoff);
        return Task.CompletedTask;
    }

    public Task OnTokensAsync(TokenBatch batch)
    {
        foreach (var chunk in batch.Chunks)
        {
            if (_streams.TryGetValue(chunk.RequestId, out var stream))
                stream.Accept(chunk);
        }
        return Task.CompletedTask;
    }
}
