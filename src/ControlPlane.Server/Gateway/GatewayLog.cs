namespace ControlPlane.Server.Gateway;

/// <summary>The gateway's log messages.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(2, LogLevel.Error, "Request {RequestId} failed in the gateway")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(3, LogLevel.Warning, "Aborting request {RequestId} on instance {InstanceId} failed")]
    public static partial void AbortFailed(ILogger logger, Exception exception, string requestId, string instanceId);

    [LoggerMessage(4, LogLevel.Information, "Admitting request {RequestId} on instance {InstanceId} failed; trying another")]
    public static partial void AdmitFailed(ILogger logger, Exception exception, string requestId, string instanceId);

    [LoggerMessage(5, LogLevel.Warning, "Silo {Silo} (pod {Pod}) left the cluster: resuming {Count} request(s) that ran there")]
    public static partial void SiloLost(ILogger logger, string silo, string pod, int count);

    [LoggerMessage(6, LogLevel.Warning, "Request {RequestId} could not resume after instance {InstanceId} was lost: {Reason}")]
    public static partial void ResumeFailed(ILogger logger, string requestId, string instanceId, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Telling the scheduler of {Model} how many requests this gateway holds failed")]
    public static partial void HeldReportFailed(ILogger logger, Exception exception, string model);

    [LoggerMessage(8, LogLevel.Warning, "Request {RequestId} took in no chunk for {Silence} and instance {InstanceId} {Finding}: resuming it")]
    public static partial void StreamStalled(ILogger logger, string requestId, TimeSpan silence, string instanceId, string finding);

    [LoggerMessage(9, LogLevel.Warning, "Telling the scheduler of {Model} the latencies this gateway observed failed; it plans without them until the next report")]
    public static partial void LatencyReportFailed(ILogger logger, Exception exception, string model);
}
