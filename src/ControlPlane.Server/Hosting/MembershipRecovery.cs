namespace ControlPlane.Server.Hosting;

/// <summary>
/// Redis mode: when Redis comes back without the membership table (restarted with no persistence, flushed), Orleans
/// does not re-create it: every silo's heartbeat fails from then on, and a silo told to stop waits on a table that is
/// not there. This looks every few seconds, from start to the very end of the process; on finding the table gone it
/// re-creates it and puts this silo's own row back, as every silo does for itself, so membership recovers and a
/// shutdown completes.
/// </summary>
public sealed partial class MembershipRecovery(IMembershipTable table, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, TimeProvider time,
    ILogger<MembershipRecovery> logger) : IHostedService, IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(3);
    private readonly CancellationTokenSource _end = new();
    private DateTime _started;
    private Task? _loop;

    /// <summary>How many times the table was found gone and re-created by this silo.</summary>
    public int Recoveries { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = time.GetUtcNow().UtcDateTime;
        lifetime.ApplicationStarted.Register(() => _loop = RunAsync(_end.Token));
        // Past the silo's own stop: a stop that waits on the table is what this must still serve.
        lifetime.ApplicationStopped.Register(_end.Cancel);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _end.Dispose();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Period, time, cancellationToken);
                await CheckAsync();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Redis still down, or another silo re-created it first: the next look tries again.
                CheckFailed(logger, ex);
            }
        }
    }

    /// <summary>One look: the table is readable, or it is re-created with this silo's row.</summary>
    public async Task CheckAsync()
    {
        MembershipTableData data;
        try
        {
            data = await table.ReadAllAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex.Message.Contains("version is missing", StringComparison.OrdinalIgnoreCase))
        {
            TableGone(logger, silo.SiloAddress.ToString());
            await table.InitializeMembershipTableAsync(true, CancellationToken.None);
            data = await table.ReadAllAsync(CancellationToken.None);
            Recoveries++;
        }
        if (data.Members.Any(m => m.Item1.SiloAddress.Equals(silo.SiloAddress)))
            return;
        if (Recoveries == 0)
            return; // not ours to add: the silo is still joining, or was declared dead by the others
        var now = time.GetUtcNow().UtcDateTime;
        var entry = new MembershipEntry
        {
            SiloAddress = silo.SiloAddress,
            SiloName = silo.Name,
            HostName = silo.DnsHostName,
            Status = SiloStatus.Active,
            ProxyPort = silo.GatewayAddress?.Endpoint.Port ?? 0,
            StartTime = _started,
            IAmAliveTime = now,
            SuspectTimes = [],
        };
        if (await table.InsertRowAsync(entry, data.Version.Next(), CancellationToken.None))
            RowRestored(logger, silo.SiloAddress.ToString());
    }

    [LoggerMessage(EventId = 90, Level = LogLevel.Warning, Message = "the membership table is gone from Redis (it came back empty?): silo {Silo} re-creates it")]
    private static partial void TableGone(ILogger logger, string silo);

    [LoggerMessage(EventId = 91, Level = LogLevel.Information, Message = "silo {Silo} put its row back in the re-created membership table")]
    private static partial void RowRestored(ILogger logger, string silo);

    [LoggerMessage(EventId = 92, Level = LogLevel.Debug, Message = "membership check failed; retrying")]
    private static partial void CheckFailed(ILogger logger, Exception exception);
}
