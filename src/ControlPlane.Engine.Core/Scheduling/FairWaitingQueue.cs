using System.Collections;
using ControlPlane.Engine.Core.Requests;

namespace ControlPlane.Engine.Core.Scheduling;

/// <summary>
/// An instance's waiting requests, admitted by service class, then priority, then fairly between tenants: the
/// Virtual Token Counter of "Fairness in Serving Large Language Models" (Sheng et al., OSDI'24). Each tenant's
/// counter grows with the service its requests get (input tokens computed at <see cref="InputWeight"/>, output
/// tokens at <see cref="OutputWeight"/>, divided by the tenant's weight), and the next request admitted is the one of
/// the tenant served least. A tenant that comes back after its queue emptied starts at most
/// <paramref name="returnCredit"/> below the least-served waiting tenant (the counter lift), so idle time banks no
/// more credit than that. One tenant alone gets exactly the plain order.
/// </summary>
public sealed class FairWaitingQueue(double returnCredit = 0) : IEnumerable<EngineRequest>
{
    /// <summary>The paper's weights: an output token costs twice an input token.</summary>
    public const double InputWeight = 1;
    public const double OutputWeight = 2;

    private readonly Dictionary<string, SortedSet<EngineRequest>> _byTenant = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _counters = new(StringComparer.Ordinal);

    public int Count { get; private set; }

    /// <summary>A tenant's counter: the weighted service its requests have had here.</summary>
    public double CounterOf(string tenant) => _counters.GetValueOrDefault(tenant);

    public void Add(EngineRequest request)
    {
        var tenant = request.Spec.Tenant;
        if (!_byTenant.TryGetValue(tenant, out var queue))
            _byTenant[tenant] = queue = new SortedSet<EngineRequest>(WaitingOrder.Instance);
        if (queue.Count == 0)
            Lift(tenant);
        if (queue.Add(request))
            Count++;
    }

    public bool Remove(EngineRequest request)
    {
        if (!_byTenant.TryGetValue(request.Spec.Tenant, out var queue) || !queue.Remove(request))
            return false;
        Count--;
        return true;
    }

    public bool Contains(EngineRequest request) =>
        _byTenant.TryGetValue(request.Spec.Tenant, out var queue) && queue.Contains(request);

    /// <summary>
    /// The request to admit next: the best class and priority among the tenants' heads, and among those heads the
    /// tenant with the smallest counter (arrival breaks a tie). Null when none waits.
    /// </summary>
    public EngineRequest? Next()
    {
        EngineRequest? best = null;
        var bestCounter = 0.0;
        foreach (var (tenant, queue) in _byTenant)
        {
            if (queue.Count == 0)
                continue;
            var head = queue.Min!;
            var counter = _counters.GetValueOrDefault(tenant);
            if (best is null)
            {
                (best, bestCounter) = (head, counter);
                continue;
            }
            var c = head.Spec.ServiceClass.CompareTo(best.Spec.ServiceClass);
            if (c == 0)
                c = best.Spec.Priority.CompareTo(head.Spec.Priority);
            if (c == 0)
                c = counter.CompareTo(bestCounter);
            if (c == 0)
                c = head.ArrivalOrder.CompareTo(best.ArrivalOrder);
            if (c < 0)
                (best, bestCounter) = (head, counter);
        }
        return best;
    }

    /// <summary>Counts service given to a request's tenant: prompt tokens computed and tokens generated.</summary>
    public void Charge(EngineRequest request, int inputTokens, int outputTokens)
    {
        var weight = request.Spec.TenantWeight > 0 ? request.Spec.TenantWeight : 1;
        var tenant = request.Spec.Tenant;
        _counters[tenant] = _counters.GetValueOrDefault(tenant) + (InputWeight * inputTokens + OutputWeight * outputTokens) / weight;
    }

    /// <summary>
    /// The tenant most served beyond <paramref name="than"/>'s tenant, by <paramref name="margin"/> or more: whose
    /// running request may give way to a waiting one of a tenant served less. Null when no tenant is that far ahead.
    /// </summary>
    public string? MostServedAbove(string than, double margin, IEnumerable<string> candidates)
    {
        var floor = _counters.GetValueOrDefault(than) + margin;
        string? most = null;
        var mostCounter = 0.0;
        foreach (var tenant in candidates)
        {
            var counter = _counters.GetValueOrDefault(tenant);
            if (!string.Equals(tenant, than, StringComparison.Ordinal) && counter >= floor && (most is null || counter > mostCounter))
                (most, mostCounter) = (tenant, counter);
        }
        return most;
    }

    /// <summary>The counter lift: a tenant joining the queue starts no lower than the least-served tenant waiting, less the return credit.</summary>
    private void Lift(string tenant)
    {
        double? least = null;
        foreach (var (other, queue) in _byTenant)
        {
            if (queue.Count > 0 && !string.Equals(other, tenant, StringComparison.Ordinal))
            {
                var c = _counters.GetValueOrDefault(other);
                least = least is null ? c : Math.Min(least.Value, c);
            }
        }
        if (least is { } floor && _counters.GetValueOrDefault(tenant) < floor - returnCredit)
            _counters[tenant] = floor - returnCredit;
    }

    public IEnumerator<EngineRequest> GetEnumerator() => _byTenant.Values.SelectMany(q => q).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
