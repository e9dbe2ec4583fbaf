using ControlPlane.Grains;
using ControlPlane.Requests;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// The gateway's last guard against a stream that waits forever. A lost silo is <see cref="SiloLossWatcher"/>'s; this
/// covers what membership cannot see: a request its instance dropped or never took in, a move whose notice was lost, a
/// batch of chunks lost on the way (the stream then waits for the gap). Each running request silent for
/// <see cref="GatewayConfig.StallAfter"/> is looked for on its instance (<see cref="IInstanceGrain.LocateAsync"/>), and
/// <see cref="StallCheck"/> judges the answer: a request waiting its turn is left alone, a move is followed, and one
/// found lost twice in a row resumes from the tokens the stream has (its instance, if it runs it still, stops it first).
/// </summary>
public sealed class StreamWatchdog(TokenRouter router, RequestExecutor executor, IGrainFactory grains, ControlPlaneConfig config, TimeProvider time,
    ILogger<StreamWatchdog> logger) : BackgroundService
{
    /// <summary>How many moves one check follows before it waits for the next period.</summary>
    private const int MaxHops = 3;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stallAfter = config.Gateway.StallAfter;
        if (stallAfter <= TimeSpan.Zero)
            return;
        using var timer = new PeriodicTimer(stallAfter / 2, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var running in router.Running)
                {
                    if (!running.Ended && running.Stream.Silence >= stallAfter && running.TryBeginCheck())
                        _ = CheckAsync(running, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task CheckAsync(RunningRequest running, CancellationToken cancellationToken)
    {
        try
        {
            for (var hop = 0; hop < MaxHops; hop++)
            {
                var at = running.InstanceId;
                var next = running.Stream.NextSequence;
                var where = await LocateAsync(at, running.Spec.RequestId, cancellationToken);
                if (running.Ended || running.InstanceId != at || cancellationToken.IsCancellationRequested)
                    return; // it ended, moved or resumed meanwhile: the next period looks again if need be
                switch (StallCheck.Judge(where, at, next, running.Stall))
                {
                    case StallVerdict.Moved:
                        running.Stall = null;
                        running.Relocated(where!.MovedTo!, "");
                        continue;
                    case StallVerdict.Waiting:
                        running.Stall = null;
                        running.Relocated(at, where!.Silo);
                        return;
                    case StallVerdict.Suspect:
                        running.Stall = new StallSuspicion(at, next);
                        return;
                    case StallVerdict.Lost:
                        running.Stall = null;
                        var finding = where switch
                        {
                            null => "did not answer twice",
                            { Held: true } => $"sent chunks up to {where.SentChunks} that never came (the stream is at {next})",
                            _ => "does not run it",
                        };
                        GatewayLog.StreamStalled(logger, running.Spec.RequestId, running.Stream.Silence, at, finding);
                        if (where is { Held: true })
                            await StopAsync(at, running.Spec.RequestId);
                        await executor.ResumeAsync(running, cancellationToken, ResumeCause.Stalled);
                        return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            GatewayLog.ResumeFailed(logger, running.Spec.RequestId, running.InstanceId, $"the check of its silent stream failed ({ex.Message})");
        }
        finally
        {
            running.EndCheck();
        }
    }

    /// <summary>The instance's answer, or null when it gives none (its silo unreachable, the call timed out).</summary>
    private async Task<RequestLocation?> LocateAsync(string instanceId, string requestId, CancellationToken cancellationToken)
    {
        try
        {
            return await grains.GetGrain<IInstanceGrain>(instanceId).LocateAsync(requestId, cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Stops the request where it runs but does not reach the gateway, so it frees its KV blocks; best effort.</summary>
    private async Task StopAsync(string instanceId, string requestId)
    {
        try
        {
            await grains.GetGrain<IInstanceGrain>(instanceId).AbortAsync(requestId);
        }
        catch (Exception ex)
        {
            GatewayLog.AbortFailed(logger, ex, requestId, instanceId);
        }
    }
}
