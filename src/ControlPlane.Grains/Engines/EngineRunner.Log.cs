using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Engines;

public sealed partial class EngineRunner
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Engine step failed on instance {InstanceId}; its requests are failed and it takes no new work")]
        public static partial void StepFailed(ILogger logger, Exception exception, string instanceId);

        [LoggerMessage(2, LogLevel.Warning, "Token delivery from instance {InstanceId} failed")]
        public static partial void DeliveryFailed(ILogger logger, Exception exception, string instanceId);

        [LoggerMessage(3, LogLevel.Warning, "Aborted {Count} request(s) on instance {InstanceId}: their gateway {Gateway} left the cluster")]
        public static partial void OrphansAborted(ILogger logger, int count, string instanceId, string gateway);

        [LoggerMessage(4, LogLevel.Warning, "Instance {InstanceId} stops with {Count} request(s) unfinished; their gateways resume them elsewhere once this silo has left")]
        public static partial void StoppedWithWork(ILogger logger, string instanceId, int count);

        [LoggerMessage(5, LogLevel.Warning, "Migration of request {RequestId} from {Source} to {Destination} failed; it goes on at the source")]
        public static partial void MigrationFailed(ILogger logger, Exception exception, string requestId, string source, string destination);

        [LoggerMessage(7, LogLevel.Information, "Prefix fetch for request {RequestId} from {Source} failed or took too long; its prompt is computed instead")]
        public static partial void PrefixFetchFailed(ILogger logger, Exception exception, string requestId, string source);

        [LoggerMessage(6, LogLevel.Warning, "Incoming migration of request {RequestId} into {InstanceId} dropped: its source fell silent")]
        public static partial void IncomingDropped(ILogger logger, string requestId, string instanceId);

        [LoggerMessage(8, LogLevel.Warning, "Incoming migration of request {RequestId} into {InstanceId} dropped: its gateway resumed it here, having lost its source")]
        public static partial void IncomingSuperseded(ILogger logger, string requestId, string instanceId);

        [LoggerMessage(10, LogLevel.Information, "Handoff of request {RequestId}: decode instance {Refused} did not take it ({Reason}); asking {Next}")]
        public static partial void HandoffRedirected(ILogger logger, string requestId, string refused, string next, string reason);

        [LoggerMessage(9, LogLevel.Warning, "Request {RequestId} resumed on {InstanceId}, which runs it already (a migration here committed as its source was lost): it goes on")]
        public static partial void ResumedAlreadyHere(ILogger logger, string requestId, string instanceId);
    }
}
