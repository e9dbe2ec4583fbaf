namespace ControlPlane.Server.Gateway;

/// <summary>The gateway's log messages.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Warning, "Updating the lifecycle of request {RequestId} failed")]
    public static partial void TrackingFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(2, LogLevel.Error, "Request {RequestId} failed in the gateway")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(3, LogLevel.Warning, "Aborting request {RequestId} on instance {InstanceId} failed")]
    public static partial void AbortFailed(ILogger logger, Exception exception, string requestId, string instanceId);
}
