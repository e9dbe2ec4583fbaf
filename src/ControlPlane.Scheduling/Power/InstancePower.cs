using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Power;

/// <summary>One instance of a power domain as the controller sees it: its measured draw, its most important class of work, its maximum.</summary>
public sealed record InstancePower(string InstanceId, double DrawWatts, double MaxWatts, ServiceClass MostImportantWork);
