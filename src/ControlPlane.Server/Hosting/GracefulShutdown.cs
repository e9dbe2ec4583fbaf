using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// What a gateway does on SIGTERM, before the web server and the silo stop: <c>/readyz</c> answers 503 at once (the
/// load balancer stops sending) and new requests get a 503 with <c>Retry-After</c>, answered rather than refused at
/// the socket; running streams go on for up to <see cref="GatewayConfig.ShutdownGrace"/>; any still running then ends
/// with an error event and <c>data: [DONE]</c> (and is stopped on its instance), never a reset connection.
/// </summary>
public sealed partial class GracefulShutdown(TokenRouter router, ControlPlaneConfig config, TimeProvider time, ILogger<GracefulShutdown> logger)
    : IHostedLifecycleService
{
    private volatile bool _stopping;

    /// <summary>Whether the gateway is shutting down: it takes no new request.</summary>
    public bool Stopping => _stopping;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        var grace = config.Gateway.ShutdownGrace;
        var started = time.GetTimestamp();
        ShuttingDown(logger, router.Running.Count, grace.TotalSeconds);
        while (router.Running.Count > 0 && time.GetElapsedTime(started) < grace && !cancellationToken.IsCancellationRequested)
            await Task.Delay(Poll, time, CancellationToken.None);
        var left = router.Running;
        if (left.Count == 0)
            return;
        CutAtGrace(logger, left.Count, grace.TotalSeconds);
        foreach (var running in left)
        {
            if (running.Stream.Progress() is not { } progress)
                continue;
            running.Stream.Accept(new TokenChunk
            {
                RequestId = running.Spec.RequestId,
                Sequence = progress.NextSequence,
                TokenIds = [],
                Text = "",
                FinishReason = FinishReason.Error,
                Error = $"the server is shutting down: the request ran past the {grace.TotalSeconds:0} s shutdown grace; retry it",
            });
            await running.CancelAsync();
        }
        // The streams write their last events and [DONE]; the web server waits for them as it stops.
        var flushed = time.GetTimestamp();
        while (router.Running.Count > 0 && time.GetElapsedTime(flushed) < FlushWait)
            await Task.Delay(Poll, time, CancellationToken.None);
    }

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan FlushWait = TimeSpan.FromSeconds(5);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 70, Level = LogLevel.Information, Message = "shutting down: {Running} requests running, up to {GraceSeconds} s for them to finish; new requests get 503")]
    private static partial void ShuttingDown(ILogger logger, int running, double graceSeconds);

    [LoggerMessage(EventId = 71, Level = LogLevel.Warning, Message = "shutdown grace of {GraceSeconds} s over: ending {Running} running requests with an error event")]
    private static partial void CutAtGrace(ILogger logger, int running, double graceSeconds);
}
