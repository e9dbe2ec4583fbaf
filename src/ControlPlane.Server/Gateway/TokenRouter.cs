using System.Collections.Concurrent;
using ControlPlane.Grains.Engines;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// This gateway's token sink: one grain observer for the whole gateway, which hands each chunk of an
/// incoming batch to the stream of its request. Chunks of requests it no longer knows are dropped.
/// </summary>
public sealed class TokenRouter(LocalTokenSinks localSinks) : ITokenSink
{
    private readonly ConcurrentDictionary<string, RequestTokenStream> _streams = new(StringComparer.Ordinal);
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
        var stream = new RequestTokenStream(requestId);
        return _streams.TryAdd(requestId, stream) ? stream : throw new InvalidOperationException($"request '{requestId}' is already streaming");
    }

    public void Close(string requestId) => _streams.TryRemove(requestId, out _);

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
