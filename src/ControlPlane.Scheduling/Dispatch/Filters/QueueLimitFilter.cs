using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch.Filters;

/// <summary>
/// Keeps instances whose waiting queue is below a limit; when none is, the model is overloaded and the
/// gateway answers 429. Batch requests see a lower limit, so they are shed before interactive ones.
/// </summary>
public sealed class QueueLimitFilter(int maxWaiting) : IDispatchFilter
{
    public const string PluginName = "queue-limit";

    public string Name => PluginName;
    public DispatchRefusal RefusalWhenEmpty => DispatchRefusal.Overloaded;
    public int MaxWaiting { get; } = maxWaiting;

    public bool Admits(in DispatchRequest request, InstanceLoad instance)
    {
        var limit = request.ServiceClass == Requests.ServiceClass.Batch ? Math.Max(1, MaxWaiting / 2) : MaxWaiting;
        return instance.WaitingRequests < limit;
    }
}
