using System.Collections.Concurrent;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// What live migration and the prefill/decode handoff share on the source: parts taken on the device and copied to host
/// memory off the loop, the commit (asking the destination when its answer is lost), the bookkeeping after it (where the
/// request went, the gateway told), the rollback before it, and orders run on the engine's loop.
/// </summary>
public sealed partial class EngineRunner
{
    /// <summary>How long a source remembers where a request went, to pass on a cancel that reaches it late.</summary>
    public static readonly TimeSpan MovedMemory = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, (string InstanceId, long At)> _moved = new(StringComparer.Ordinal);

    /// <summary>The instance a request moved to from here, within <see cref="MovedMemory"/>.</summary>
    public string? MovedTo(string requestId) => _moved.TryGetValue(requestId, out var moved) ? moved.InstanceId : null;

    /// <summary>
    /// After the commit: the source forgets the request (remembering where it went, to pass on a late cancel), records
    /// the move after its earlier phases on the same chain, and tells the gateway where the request runs now.
    /// </summary>
    private async Task CompleteMoveAsync(string id, IMigrationTarget target, string silo, bool handoff)
    {
        var tracked = await OnLoop(() =>
        {
            _moved[id] = (target.InstanceId, _time.GetTimestamp());
            _tracked.Remove(id, out var t);
            _engine.Abort(id);
            if (t is not null)
                WritePhase(t, id, RequestPhase.Decoding, target.InstanceId);
            return t;
        });
        if (tracked is null)
        {
            // Cancelled by its client while the last part was on its way: the destination must not run it alone.
            await BestEffort(() => target.AbortAsync(id));
            return;
        }
        try
        {
            _ = tracked.Sink.OnMovedAsync(new RequestMove(id, target.InstanceId, silo, handoff));
        }
        catch (Exception ex)
        {
            Log.DeliveryFailed(_logger, ex, Descriptor.InstanceId);
        }
    }

    /// <summary>A move that failed before its commit: the request goes on here where it stopped; the destination (if one said yes) drops what it took.</summary>
    private async Task RollBackMoveAsync(string id, IMigrationTarget? target)
    {
        try
        {
            await OnLoop(() =>
            {
                _engine.Unsuspend(id);
                if (_tracked.TryGetValue(id, out var t))
                {
                    t.Migrating = false;
                    if (t.Decoding)
                        WritePhase(t, id, RequestPhase.Decoding, Descriptor.InstanceId);
                }
                return true;
            });
        }
        catch (ObjectDisposedException)
        {
            // The source stopped meanwhile: its requests are resumed by their gateways.
        }
        if (target is not null)
            await BestEffort(() => target.CancelAsync(id));
    }

    /// <summary>
    /// Parts are taken on the device (a gather between two steps: cheap for the loop); for a peer that takes no device
    /// parts the copy to host memory runs here, off the loop, so the source's other requests do not wait for it.
    /// </summary>
    private static async Task<KvPart> ForTargetAsync(KvPart part, IMigrationTarget target)
    {
        if (target.CopiesDeviceParts || part.DeviceData is not { } device)
            return part;
        try
        {
            var payload = await Task.Run(device.ToArray);
            return new KvPart(part.Header, payload);
        }
        finally
        {
            device.Dispose();
        }
    }

    /// <summary>
    /// Sends the last part; when its answer is lost (the destination may have taken it in before), asks whether the
    /// destination runs the request: it then does, and the move committed, on the silo its destination named at the start
    /// (the gateway must know it: a loss of that silo resumes the request).
    /// </summary>
    private static async Task<string> CommitAsync(IMigrationTarget target, KvPart last, string requestId, CancellationToken token, CancellationToken abandoned)
    {
        try
        {
            return await target.CommitAsync(last, token);
        }
        catch (Exception ex) when (ex is not MigrationRefusedException && !abandoned.IsCancellationRequested)
        {
            if (!await HoldsAsync(target, requestId))
                throw;
            return target.Silo;
        }
    }

    private static async Task<bool> HoldsAsync(IMigrationTarget target, string requestId)
    {
        try
        {
            return await target.HoldsAsync(requestId, CancellationToken.None);
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static async Task BestEffort(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception)
        {
            // The destination is gone or unreachable: it drops a stale import on its own.
        }
    }

    private Task<T> OnLoop<T>(Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_stop.IsCancellationRequested)
        {
            done.SetException(new ObjectDisposedException(nameof(EngineRunner), $"instance '{Descriptor.InstanceId}' has stopped"));
            return done.Task;
        }
        Order(() =>
        {
            try
            {
                done.SetResult(action());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        });
        return done.Task;
    }

    private sealed class MigrationEndedException(string message) : Exception(message);
}
