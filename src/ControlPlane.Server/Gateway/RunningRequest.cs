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
    RequestSpec spec, string instanceId, RequestTokenStream stream, RequestTracker tracker,
    TokenRouter router, IGrainFactory grains, GatewayMetrics metrics, TimeProvider time, long arrivedAt, ILogger logger)
{
    private TimeSpan? _firstToken;
    private bool _ended;

    public RequestSpec Spec { get; } = spec;
    public string InstanceId { get; } = instanceId;
    public RequestTokenStream Stream { get; } = stream;
    public RequestUsage? Usage { get; private set; }
    public TimeSpan EngineTime { get; private set; }

    /// <summary>Call for each chunk read from <see cref="Stream"/>, before writing it to the client.</summary>
    public void Observe(TokenChunk chunk)
    {
        if (_firstToken is null && chunk.TokenIds.Length > 0 && chunk.FinishReason != FinishReason.Error)
        {
            _firstToken = time.GetElapsedTime(arrivedAt);
            metrics.FirstToken(Spec.Model, _firstToken.Value);
        }
        if (chunk.FinishReason == FinishReason.None)
            return;
        _ended = true;
        Usage = chunk.Usage ?? new RequestUsage(Spec.PromptTokenIds.Count, 0, 0);
        EngineTime = chunk.EngineTime;
        if (chunk.FinishReason is FinishReason.Stop or FinishReason.Length)
        {
            metrics.Completed(Spec.Model, time.GetElapsedTime(arrivedAt), _firstToken, Usage.CompletionTokens);
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
        tracker.Advance(RequestPhase.Cancelled, finish: FinishReason.Aborted);
        try
        {
            await grains.GetGrain<IInstanceGrain>(InstanceId).AbortAsync(Spec.RequestId);
        }
        catch (Exception ex)
        {
            GatewayLog.AbortFailed(logger, ex, Spec.RequestId, InstanceId);
        }
    }

    /// <summary>Releases the gateway's hold on the request; waits for its lifecycle updates to land.</summary>
    public async Task EndAsync()
    {
        router.Close(Spec.RequestId);
        metrics.LeaveRequest();
        await tracker.DrainAsync();
    }
}
