using System.Collections.Concurrent;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains.Tests;

/// <summary>A token sink that keeps every chunk it gets, and signals when a request's last chunk arrives.</summary>
public sealed class CollectingSink : ITokenSink
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<TokenChunk>>> _done = new();

    public ConcurrentDictionary<string, ConcurrentQueue<TokenChunk>> Chunks { get; } = new();
    public ConcurrentBag<int> BatchSizes { get; } = [];

    public Task OnTokensAsync(TokenBatch batch)
    {
        BatchSizes.Add(batch.Chunks.Count);
        foreach (var chunk in batch.Chunks)
        {
            var queue = Chunks.GetOrAdd(chunk.RequestId, _ => new ConcurrentQueue<TokenChunk>());
            queue.Enqueue(chunk);
            if (chunk.FinishReason != FinishReason.None)
                Completion(chunk.RequestId).TrySetResult([.. queue]);
        }
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<TokenChunk>> WaitAsync(string requestId) =>
        await Completion(requestId).Task.WaitAsync(TimeSpan.FromSeconds(10));

    private TaskCompletionSource<IReadOnlyList<TokenChunk>> Completion(string requestId) =>
        _done.GetOrAdd(requestId, _ => new TaskCompletionSource<IReadOnlyList<TokenChunk>>(TaskCreationOptions.RunContinuationsAsynchronously));
}
