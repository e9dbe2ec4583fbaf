using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Tests.Dispatch;

/// <summary>Hand-made instance loads for policy tests.</summary>
internal static class Loads
{
    public static InstanceLoad Of(string id, int running = 0, int waiting = 0, int used = 0, int total = 100,
        InstanceHealth health = InstanceHealth.Ready, InstanceRole role = InstanceRole.Mixed, int waitingBlocks = 0) =>
        new()
        {
            InstanceId = id,
            RunningRequests = running,
            WaitingRequests = waiting,
            UsedKvBlocks = used,
            TotalKvBlocks = total,
            Health = health,
            Role = role,
            WaitingKvBlocks = waitingBlocks,
            KvBlockSize = 16,
        };
}
