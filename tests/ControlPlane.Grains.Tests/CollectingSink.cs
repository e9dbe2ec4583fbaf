using System.Collections.Concurrent;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Tests;

/// <summary>
/// A token sink that keeps every chunk it gets and signals when a request's chunks are complete: the last
/// one and all before it. One-way deliveries may arrive out of order, as the gateway's streams allow for.
/// </summary>
public sealed class CollectingSink : ITokenSink
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<TokenChunk>>> _done = new();

    public ConcurrentDictionary<string, ConcurrentQueue<TokenChunk>> Chunks { get; } = new();
    public ConcurrentBag<int> BatchSizes { get; } = [];

    public ConcurrentQueue<RequestMove> Moves { get; } = new();

    public Task OnMovedAsync(RequestMove move)
    {
        Moves.Enqueue(move);
        return Task.CompletedTask;
    }

    public Task OnTokensAsync(TokenBatch batch)
    {
        BatchSizes.Add(batch.Chunks.Count);
        foreach (var chunk in batch.Chunks)
        {
            var queue = Chunks.GetOrAdd(chunk.RequestId, _ => new ConcurrentQueue<TokenChunk>());
            queue.Enqueue(chunk);
            var all = queue.OrderBy(c => c.Sequence).ToArray();
            if (all[^1].FinishReason != FinishReason.None && all.Length == all[^1].Sequence + 1)
                Completion(chunk.RequestId).TrySetResult(all);
        }
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<TokenChunk>> WaitAsync(string requestId) =>
        await Completion(requestId).Task.WaitAsync(TimeSpan.FromSeconds(10));

    private TaskCompletionSource<IReadOnlyList<TokenChunk>> Completion(string requestId) =>
        _done.GetOrAdd(requestId, _ => new TaskCompletionSource<IReadOnlyList<TokenChunk>>(TaskCreationOptions.RunContinuationsAsynchronously));
}
