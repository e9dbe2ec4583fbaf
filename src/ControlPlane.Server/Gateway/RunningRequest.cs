using ControlPlane.Grains;
using ControlPlane.Requests;
using ControlPlane.Server.Metrics;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// A request admitted on an instance, from the gateway's side: its chunk stream, the metrics that follow each
/// chunk, and a cancel. The request grain hears of the start and a cancel from here; the instance, which sees
/// them, records decoding and the ending.
/// </summary>
public sealed class RunningRequest(
    RequestSpec spec, string instanceId, string silo, RequestTokenStream stream, RequestTracker tracker,
    TokenRouter router, IGrainFactory grains, GatewayMetrics metrics, TimeProvider time, long arrivedAt, ILogger logger)
{
    private TimeSpan? _firstToken;
    private Action<RequestUsage?>? _release;
    private bool _ended;

    public RequestSpec Spec { get; } = spec;

    /// <summary>The instance the request runs on; changes when it resumes elsewhere after a loss.</summary>
    public string InstanceId { get; private set; } = instanceId;

    /// <summary>The address of the silo that runs <see cref="InstanceId"/> (one incarnation of its pod).</summary>
    public string Silo { get; private set; } = silo;
    public RequestTracker Tracker { get; } = tracker;

    /// <summary>How many times the request resumed on another instance after losing one.</summary>
    public int Resumes { get; private set; }

    /// <summary>Whether the client stopped reading or the last chunk was seen.</summary>
    public bool Ended => _ended;

    /// <summary>A check of its silent stream found it seemingly lost (see <see cref="StallCheck"/>); null otherwise.</summary>
    public StallSuspicion? Stall { get; set; }

    private int _resuming;
    private int _checking;

    /// <summary>Claims the request for one resume at a time (a lost silo and a silent stream may both call for one); false when taken.</summary>
    public bool TryBeginResume() => Interlocked.Exchange(ref _resuming, 1) == 0;
    public void EndResume() => Volatile.Write(ref _resuming, 0);

    /// <summary>Claims the request for one stall check at a time; false when one is under way.</summary>
    public bool TryBeginCheck() => Interlocked.Exchange(ref _checking, 1) == 0;
    public void EndCheck() => Volatile.Write(ref _checking, 0);

    /// <summary>Records where the request runs as its instances say (a move the gateway did not hear of); counts nothing.</summary>
    public void Relocated(string instanceId, string silo)
    {
        InstanceId = instanceId;
        if (silo.Length > 0)
            Silo = silo;
    }

    /// <summary>Records that the request now runs on <paramref name="instanceId"/>, resumed there.</summary>
    public void MovedTo(string instanceId, string silo)
    {
        InstanceId = instanceId;
        Silo = silo;
        Resumes++;
    }
    /// <summary>A migration committed: cancels go to <paramref name="instanceId"/>, and a loss of <paramref name="silo"/> resumes the request.</summary>
    public void MigratedTo(string instanceId, string silo, bool handoff = false)
    {
        InstanceId = instanceId;
        if (silo.Length > 0)
            Silo = silo;
        if (handoff)
            metrics.HandedOff(Spec.Model);
        else
            metrics.Migrated(Spec.Model);
    }

    public RequestTokenStream Stream { get; } = stream;

    /// <summary>The tenant's <c>x-ratelimit-*</c> headers as of its admission.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RateLimitHeaders { get; init; } = [];

    /// <summary>Gives the tenant's limiter back the request's slot and unused tokens, once, at its end.</summary>
    public Action<RequestUsage?>? Release { get => _release; init => _release = value; }

    public RequestUsage? Usage { get; private set; }
    public TimeSpan EngineTime { get; private set; }

    /// <summary>Call for each chunk read from <see cref="Stream"/>, before writing it to the client.</summary>
    public void Observe(TokenChunk chunk)
    {
        if (_firstToken is null && chunk.TokenIds.Length > 0 && chunk.FinishReason != FinishReason.Error)
        {
            _firstToken = time.GetElapsedTime(arrivedAt);
            metrics.FirstToken(Spec.Model, _firstToken.Value, Spec.ServiceClass);
        }
        if (chunk.FinishReason == FinishReason.None)
            return;
        _ended = true;
        Usage = chunk.Usage ?? new RequestUsage(Spec.PromptTokenIds.Count, 0, 0);
        EngineTime = chunk.EngineTime;
        if (chunk.FinishReason is FinishReason.Stop or FinishReason.Length)
        {
            metrics.Completed(Spec.Model, time.GetElapsedTime(arrivedAt), _firstToken, Usage.CompletionTokens, Usage.PromptTokens, Usage.CachedPromptTokens, Spec.ServiceClass);
            if (Usage.EnergyJoules is { } joules)
                metrics.Energy(Spec.Model, joules, Usage.CompletionTokens);
            metrics.Outcome(Spec.Model, "finished");
        }
        else
        {
            metrics.Outcome(Spec.Model, "failed");
        }
    }

    /// <summary>The client went away: stop the request on its instance so it frees its KV blocks now.</summary>
    public async Task CancelAsync()
    {
        if (_ended)
            return;
        _ended = true;
        metrics.Outcome(Spec.Model, "cancelled");
        Tracker.Advance(RequestPhase.Cancelled, finish: FinishReason.Aborted);
        try
        {
            await grains.GetGrain<IInstanceGrain>(InstanceId).AbortAsync(Spec.RequestId);
        }
        catch (Exception ex)
        {
            GatewayLog.AbortFailed(logger, ex, Spec.RequestId, InstanceId);
        }
    }

    /// <summary>
    /// Releases the gateway's hold on the request. Its lifecycle updates land behind it (<see cref="RequestTracker.DrainAsync"/>):
    /// the answer never waits on the state store, which may be slow or down.
    /// </summary>
    public Task EndAsync()
    {
        _ended = true;
        Interlocked.Exchange(ref _release, null)?.Invoke(Usage);
        router.Close(Spec.RequestId);
        metrics.LeaveRequest();
        return Task.CompletedTask;
    }
}
