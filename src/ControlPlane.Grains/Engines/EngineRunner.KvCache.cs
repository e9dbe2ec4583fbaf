using System.Collections.Concurrent;
using ControlPlane.Engine.Core;
using ControlPlane.KvCache;

namespace ControlPlane.Grains.Engines;

public sealed partial class EngineRunner
{
    /// <summary>
    /// The engine's KV events in step order, and its whole holdings when asked (<see cref="RequestKvHoldings"/>), for the
    /// index publisher. Filled only while <see cref="PublishesKvEvents"/>, so nothing piles up where no one reads it.
    /// </summary>
    public ConcurrentQueue<KvFeedItem> KvFeed { get; } = new();

    public bool PublishesKvEvents { get; set; }

    /// <summary>Blocks in the engine's host-memory tier (read without the loop: a gauge may be a step behind); null without one.</summary>
    public int? HostTierBlocks => (_engine as EngineCore)?.HostTier?.Count;

    /// <summary>Blocks brought back from the host tier so far (read without the loop).</summary>
    public long HostLoadedBlocks => (_engine as EngineCore)?.Pool.LoadedBlocks ?? 0;

    /// <summary>Puts the engine's holdings (both tiers) into <see cref="KvFeed"/> at the next step boundary, in order with its events.</summary>
    public void RequestKvHoldings() => Order(() =>
    {
        if (_engine is EngineCore core)
            KvFeed.Enqueue(new KvFeedItem(true, core.KvHoldings()));
    });

    private void FeedKvEvents(IReadOnlyList<KvEvent> events)
    {
        if (PublishesKvEvents && events.Count > 0)
            KvFeed.Enqueue(new KvFeedItem(false, events));
    }

    private readonly HashSet<string> _expectedPrefixes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _fetching = new(StringComparer.Ordinal);

    /// <summary>
    /// Fetches a request's prefix blocks as its <see cref="ControlPlane.Requests.RequestSpec.PrefixFetch"/> orders (the host knows
    /// where the source is: this worker, or a peer over the KV data path); returns the blocks taken in. Null: no fetching.
    /// </summary>
    public Func<ControlPlane.Requests.RequestSpec, CancellationToken, Task<int>>? FetchPrefix { get; set; }

    /// <summary>Longest a request waits for its prefix before it is computed instead.</summary>
    public TimeSpan PrefixFetchTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Prefix fetches made, bytes taken in, fetches given up (failed or too slow).</summary>
    public long PrefixFetches => Interlocked.Read(ref _fetches);
    public long PrefixFetchedBytes { get; private set; }
    public long PrefixFetchFailures => Interlocked.Read(ref _fetchFailures);

    private long _fetches;
    private long _fetchFailures;

    /// <summary>The prefix blocks of <paramref name="tokens"/> this engine holds, from <paramref name="first"/> on, read out for a peer.</summary>
    public Task<ControlPlane.Transfer.KvPart> ExportPrefixAsync(string fetchId, IReadOnlyList<int> tokens, int first, int count, bool onDevice = false) => OnLoop(() =>
        _engine is EngineCore core ? core.ExportPrefix(fetchId, tokens, first, count, onDevice)
            : throw new InvalidOperationException($"instance '{Descriptor.InstanceId}' cannot export KV blocks"));

    /// <summary>
    /// Exports the prefix blocks a peer asked for part by part (<see cref="EngineCore.MaxPrefixPartBlocks"/> each) and
    /// hands each to <paramref name="send"/>, until the blocks asked for are sent or one is not held here. Returns the blocks sent.
    /// <paramref name="onDevice"/>, asked before each part: whether it keeps its blocks on the device (the receiver is in
    /// this process, or takes device handles); <paramref name="send"/> then owns that device data.
    /// </summary>
    public async Task<int> SendPrefixAsync(string fetchId, IReadOnlyList<int> tokens, int first, int count, Func<ControlPlane.Transfer.KvPart, Task> send,
        Func<bool>? onDevice = null)
    {
        var sent = 0;
        var partBlocks = (_engine as EngineCore)?.MaxPrefixPartBlocks ?? int.MaxValue;
        while (sent < count)
        {
            var asked = Math.Min(count - sent, partBlocks);
            var part = await ExportPrefixAsync(fetchId, tokens, first + sent, asked, onDevice?.Invoke() == true);
            if (part.Header.BlockCount > 0)
                await send(part);
            else
                part.DeviceData?.Dispose();
            sent += part.Header.BlockCount;
            if (part.Header.BlockCount < asked)
                break; // a block is not held here: the rest would not chain on
        }
        return sent;
    }

    /// <summary>Whether this engine waits for the prefix part named <paramref name="fetchId"/>.</summary>
    public bool ExpectsPrefix(string fetchId)
    {
        lock (_expectedPrefixes)
            return _expectedPrefixes.Contains(fetchId);
    }

    /// <summary>Takes a fetched prefix part into the engine's cache, between two steps.</summary>
    /// <remarks>
    /// A part that names its blocks on another worker's GPU is copied device to device first, off the loop; when this
    /// engine cannot reach that GPU it throws <see cref="ControlPlane.Transfer.KvDeviceUnusableException"/> having taken
    /// nothing in, and the sender sends the bytes.
    /// </remarks>
    public Task<int> ImportPrefixAsync(ControlPlane.Transfer.KvPart part)
    {
        if (part.DeviceHandle is { } handle && part.DeviceData is null)
            part = Opened(part, handle);
        var bytes = part.DeviceData?.Bytes ?? part.Payload.Length;
        return OnLoop(() =>
        {
            if (_engine is not EngineCore core)
            {
                part.DeviceData?.Dispose();
                throw new InvalidOperationException($"instance '{Descriptor.InstanceId}' cannot import KV blocks");
            }
            var blocks = core.ImportPrefix(part);
            PrefixFetchedBytes += bytes;
            return blocks;
        });
    }

    /// <summary>Registers the fetch id this engine will take a part for (see <see cref="ExpectsPrefix"/>), until the returned scope ends.</summary>
    public IDisposable ExpectPrefix(string fetchId)
    {
        lock (_expectedPrefixes)
            _expectedPrefixes.Add(fetchId);
        return new Expectation(this, fetchId);
    }

    /// <summary>
    /// Admission with a prefix fetch: the fetch runs off the loop, then the request is added as any other (a failed or
    /// slow fetch only means its prompt is computed). An abort in between is honoured when the fetch ends.
    /// </summary>
    private bool TryAdmitAfterFetch(ControlPlane.Requests.RequestSpec request, ControlPlane.Tokens.ITokenSink sink, long admittedAt)
    {
        if (request.PrefixFetch is null || FetchPrefix is not { } fetch)
            return false;
        Interlocked.Increment(ref _admitsInFlight);
        _fetching[request.RequestId] = false;
        _ = Task.Run(async () =>
        {
            var fetched = 0;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(PrefixFetchTimeout);
                fetched = await fetch(request, timeout.Token);
                Interlocked.Increment(ref _fetches);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _fetchFailures);
                Log.PrefixFetchFailed(_logger, ex, request.RequestId, request.PrefixFetch.SourceInstanceId);
            }
            Order(() =>
            {
                Interlocked.Decrement(ref _admitsInFlight);
                if (_fetching.TryRemove(request.RequestId, out var aborted) && !aborted)
                {
                    AddNow(request with { PrefixFetch = null }, _localSinks?.Resolve(sink) ?? sink, sink, admittedAt);
                    if (_tracked.TryGetValue(request.RequestId, out var tracked))
                        tracked.PeerFetchedTokens = fetched * Descriptor.KvBlockSize;
                }
            });
        });
        return true;
    }

    /// <summary>An abort of a request whose prefix is still on its way: it is dropped when the fetch ends.</summary>
    private bool AbortFetching(string requestId) => _fetching.TryUpdate(requestId, true, false);

    private sealed class Expectation(EngineRunner runner, string fetchId) : IDisposable
    {
        public void Dispose()
        {
            lock (runner._expectedPrefixes)
                runner._expectedPrefixes.Remove(fetchId);
        }
    }
}
