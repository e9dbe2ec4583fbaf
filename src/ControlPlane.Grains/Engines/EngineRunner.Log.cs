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
    }
}
