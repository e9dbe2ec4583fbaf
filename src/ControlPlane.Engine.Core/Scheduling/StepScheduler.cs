using ControlPlane.Engine.Core.KvCache;
using ControlPlane.Engine.Core.Output;
using ControlPlane.Engine.Core.Requests;
using ControlPlane.KvCache;

namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>
/// Plans every step of every backend, as vLLM v1's scheduler does over its KV cache manager: running
/// requests first (a decode token each, or their next prefill chunk), preempting the newest by recompute
/// when blocks run out; then waiting requests by class, priority and fair share between tenants
/// (<see cref="FairWaitingQueue"/>), which first take any cached blocks of their prefix, while the token budget,
/// the running limit and free blocks allow. A waiting request that finds no room may take the place of a running
/// request of a tenant served far more (<see cref="SchedulerOptions.FairnessPreemptMargin"/>).
/// </summary>
public sealed class StepScheduler(SchedulerOptions options, IKvBlockAllocator blocks, KvBlockHasher hasher)
{
    // A tenant returning from idle may start one margin behind the others: enough to take one place at once.
    private readonly FairWaitingQueue _waiting = new(options.FairnessPreemptMargin);
    private readonly List<EngineRequest> _running = [];
    private readonly Dictionary<string, EngineRequest> _byId = new(StringComparer.Ordinal);

    public SchedulerOptions Options { get; } = options;
    private IKvBlockAllocator Blocks { get; } = blocks;
    private KvBlockHasher Hasher { get; } = hasher;
    public int Running => _running.Count;

    /// <summary>Requests held out of the batch with their blocks (<see cref="Suspend"/>).</summary>
    public int Suspended { get; private set; }
    public int Waiting => _waiting.Count;

    /// <summary>Preemptions made for fairness: a running request gave way to a less-served tenant's.</summary>
    public long FairnessPreemptions { get; private set; }

    /// <summary>A tenant's counter of weighted service on this instance (<see cref="FairWaitingQueue"/>).</summary>
    public double TenantCounter(string tenant) => _waiting.CounterOf(tenant);
    public long Preemptions { get; private set; }
    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    /// <summary>Requests held of the batch class.</summary>
    public int BatchRequests { get; private set; }
    public int PriorityRequests => _byId.Count - BatchRequests;

    public bool Contains(string requestId) => _byId.ContainsKey(requestId);

    public bool TryGet(string requestId, out EngineRequest request) => _byId.TryGetValue(requestId, out request!);

    public IReadOnlyCollection<string> RequestIds => _byId.Keys;

    public int BlocksFor(int tokens) => (tokens + Options.KvBlockSize - 1) / Options.KvBlockSize;

    /// <summary>Queues a new request.</summary>
    public void Add(EngineRequest request)
    {
        _byId.Add(request.Id, request);
        Count(request, 1);
        _waiting.Add(request);
    }

    /// <summary>Adds a request whose blocks are already computed (imported): it decodes from the next step.</summary>
    public void AddRunning(EngineRequest request)
    {
        _byId.Add(request.Id, request);
        Count(request, 1);
        _running.Add(request);
    }

    /// <summary>
    /// Takes a running request out of the batch from the next step on, keeping its blocks and state: its keys
    /// and values stop changing, so its last blocks can be copied out. False unless it is running.
    /// </summary>
    public bool Suspend(string requestId)
    {
        if (!_byId.TryGetValue(requestId, out var request) || request.Suspended || !_running.Remove(request))
            return false;
        request.Suspended = true;
        Suspended++;
        return true;
    }

    /// <summary>Puts a suspended request back in the batch, where it left off.</summary>
    public bool Unsuspend(string requestId)
    {
        if (!_byId.TryGetValue(requestId, out var request) || !request.Suspended)
            return false;
        request.Suspended = false;
        Suspended--;
        _running.Add(request);
        return true;
    }

    /// <summary>Whether the request is in the running batch (not waiting, not suspended).</summary>
    public bool IsRunning(string requestId) =>
        _byId.TryGetValue(requestId, out var request) && !request.Suspended && request.BlockTable.Count > 0 && !_waiting.Contains(request);

    /// <summary>Blocks the waiting requests still need before their next token can be sampled.</summary>
    public int WaitingBlocks()
    {
        var total = 0;
        foreach (var r in _waiting)
            total += Math.Max(0, BlocksFor(r.ContextTokens + 1) - r.BlockTable.Count);
        return total;
    }

    public StepPlan Schedule()
    {
        GiveWayForFairness();
        var budget = Options.MaxBatchedTokens;
        var chunks = new List<ScheduledChunk>(_running.Count + 4);
        var preempted = false;
        for (var i = 0; i < _running.Count && budget > 0; i++)
        {
            var request = _running[i];
            var tokens = Math.Min(request.ContextTokens - request.ComputedTokens, budget);
            if (tokens <= 0)
                continue;
            if (!Reserve(request, request.ComputedTokens + tokens, ref preempted))
                break;
            chunks.Add(Chunk(request, tokens));
            budget -= tokens;
        }
        while (!preempted && budget > 0 && _waiting.Count > 0 && _running.Count < Options.MaxRunningRequests)
        {
            var request = _waiting.Next()!;
            if (request.BlockTable.Count == 0)
                SharePrefix(request);
            if (BlocksFor(request.ContextTokens + 1) - request.BlockTable.Count > Blocks.Available)
            {
                Release(request); // give back shared blocks; it retries next step
                request.CachedPromptTokens = request.LoadedPromptTokens = 0;
                break;
            }
            var tokens = Math.Min(request.ContextTokens - request.ComputedTokens, budget);
            Reserve(request, request.ComputedTokens + tokens, ref preempted);
            _waiting.Remove(request);
            _running.Add(request);
            chunks.Add(Chunk(request, tokens));
            budget -= tokens;
        }
        var loaded = _loadedThisStep;
        _loadedThisStep = 0;
        return new StepPlan(chunks) { LoadedBlocks = loaded };
    }

    private int _loadedThisStep;

    /// <summary>
    /// Before a step is planned: when the next waiting request would find no room (the running limit, or too few free
    /// blocks) and a running request's tenant, in the same class, has been served more than the margin beyond the
    /// waiting one's, the newest running request of the tenant most ahead goes back to waiting (recompute), so this
    /// step admits the less-served tenant. One a step, at most.
    /// </summary>
    private void GiveWayForFairness()
    {
        if (Options.FairnessPreemptMargin <= 0 || _waiting.Next() is not { } head)
            return;
        var room = _running.Count < Options.MaxRunningRequests && BlocksFor(head.ContextTokens + 1) <= Blocks.Available;
        if (room)
            return;
        var tenants = _running.Where(r => r.Spec.ServiceClass == head.Spec.ServiceClass && r.Spec.Priority <= head.Spec.Priority)
            .Select(r => r.Spec.Tenant).Distinct(StringComparer.Ordinal);
        if (_waiting.MostServedAbove(head.Spec.Tenant, Options.FairnessPreemptMargin, tenants) is not { } ahead)
            return;
        for (var i = _running.Count - 1; i >= 0; i--)
        {
            var victim = _running[i];
            if (string.Equals(victim.Spec.Tenant, ahead, StringComparison.Ordinal) && victim.Spec.ServiceClass == head.Spec.ServiceClass)
            {
                Preempt(victim);
                FairnessPreemptions++;
                return;
            }
        }
    }

    /// <summary>After the step ran: the chunk's tokens are computed, and the blocks they filled are named for sharing.</summary>
    public void Advance(ScheduledChunk chunk)
    {
        var request = chunk.Request;
        request.ComputedTokens = chunk.Start + chunk.Count;
        NameFullBlocks(request);
    }

    /// <summary>Names every full computed block of the request not named yet (hashes computed once per block).</summary>
    public void NameFullBlocks(EngineRequest request)
    {
        var full = request.ComputedTokens / Options.KvBlockSize;
        while (request.NamedBlocks < full)
        {
            var b = request.NamedBlocks++;
            var parent = b == 0 ? Hasher.Seed : HashOf(request, b - 1);
            Blocks.Name(request.BlockTable[b], HashOf(request, b), parent);
        }
    }

    /// <summary>Removes a request that finished or was aborted, and frees its blocks.</summary>
    public bool Remove(string requestId)
    {
        if (!_byId.Remove(requestId, out var request))
            return false;
        Count(request, -1);
        if (request.Suspended)
        {
            request.Suspended = false;
            Suspended--;
        }
        _waiting.Remove(request);
        _running.Remove(request);
        Release(request);
        return true;
    }

    private void Count(EngineRequest request, int delta)
    {
        if (request.Spec.ServiceClass == ControlPlane.Requests.ServiceClass.Batch)
            BatchRequests += delta;
    }

    private ScheduledChunk Chunk(EngineRequest request, int tokens)
    {
        // Service for the tenant's fair share: prompt tokens computed at the input weight, the rest (decode, or a
        // recompute of its output after a preemption) at the output weight.
        var input = Math.Clamp(request.PromptTokens - request.ComputedTokens, 0, tokens);
        _waiting.Charge(request, input, tokens - input);
        var samples = request.ComputedTokens + tokens == request.ContextTokens;
        var draw = samples && !OutputRules.IsGreedy(request.Spec.Sampling) ? request.Random.NextDouble() : double.NaN;
        return new ScheduledChunk(request, request.ComputedTokens, tokens, samples, draw);
    }

    /// <summary>Makes the block table cover <paramref name="tokens"/>; preempts the newest running request while blocks are short.</summary>
    private bool Reserve(EngineRequest request, int tokens, ref bool preempted)
    {
        while (request.BlockTable.Count < BlocksFor(tokens))
        {
            if (Blocks.TryAllocate(out var block))
            {
                request.BlockTable.Add(block);
                continue;
            }
            var victim = _running.Count > 0 ? _running[^1] : null;
            if (victim is null)
                return false;
            Preempt(victim);
            preempted = true;
            if (ReferenceEquals(victim, request))
                return false;
        }
        return true;
    }

    /// <summary>Takes the cached blocks of the request's longest cached prefix, leaving at least one token to compute (its logits give the next token).</summary>
    private void SharePrefix(EngineRequest request)
    {
        var shareable = (request.ContextTokens - 1) / Options.KvBlockSize;
        request.LoadedPromptTokens = 0;
        for (var b = 0; b < shareable; b++)
        {
            var hash = HashOf(request, b);
            if (Blocks.TryShare(hash, out var block))
            {
                request.BlockTable.Add(block);
                continue;
            }
            if (!Blocks.TryLoad(hash, out block))
                break;
            request.BlockTable.Add(block);
            request.LoadedPromptTokens += Options.KvBlockSize;
            _loadedThisStep++;
        }
        request.NamedBlocks = request.BlockTable.Count;
        request.ComputedTokens = request.BlockTable.Count * Options.KvBlockSize;
        request.CachedPromptTokens = Math.Min(request.ComputedTokens, request.PromptTokens);
    }

    /// <summary>Recompute preemption: the request gives back every block and waits to prefill its whole context again.</summary>
    private void Preempt(EngineRequest request)
    {
        _running.Remove(request);
        Release(request);
        request.CachedPromptTokens = request.LoadedPromptTokens = 0;
        request.Preemptions++;
        _waiting.Add(request);
        Preemptions++;
    }

    private void Release(EngineRequest request)
    {
        // Last block first, as vLLM frees them: the cache then reclaims a prefix's tail before its head, and a cached
        // head stays useful to every request that shares it.
        for (var i = request.BlockTable.Count - 1; i >= 0; i--)
            Blocks.Release(request.BlockTable[i]);
        request.BlockTable.Clear();
        request.NamedBlocks = 0;
        request.ComputedTokens = 0;
    }

    private ulong HashOf(EngineRequest request, int block)
    {
        var size = Options.KvBlockSize;
        Span<int> tokens = size <= 256 ? stackalloc int[size] : new int[size];
        while (request.BlockHashes.Count <= block)
        {
            var b = request.BlockHashes.Count;
            var previous = b == 0 ? Hasher.Seed : request.BlockHashes[b - 1];
            request.CopyTokens(b * size, tokens);
            request.BlockHashes.Add(KvBlockHasher.Chain(previous, tokens));
        }
        return request.BlockHashes[block];
    }
}
