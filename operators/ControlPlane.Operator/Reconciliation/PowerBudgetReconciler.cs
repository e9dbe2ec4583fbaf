using System.Globalization;
using ControlPlane.Operator.Resources;
using k8s;
using k8s.Models;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Level-based power domains: finds each PowerBudget's nodes by label, has the control plane run the budgets' domains
/// (the whole set each pass: <c>PUT /admin/power/domains</c>, which stops any domain whose budget is gone), counts their
/// GPUs and the draw they could reach uncapped, says whether the domain is oversubscribed (peak above budget, so the
/// control plane must cap), and writes the domain's live draw, level and brakes. Capping itself is the control plane's
/// power loop, not the operator's.
/// </summary>
public sealed class PowerBudgetReconciler(IKubernetes client, TimeProvider time, IPowerStatusClient? power = null)
{
    public const int DefaultGpuPeakWatts = 700;

    public async Task<int> PassAsync(CancellationToken cancellationToken)
    {
        var budgets = await client.CustomObjects.ListClusterCustomObjectAsync<CustomResourceList<PowerBudget>>(
            ModelService.Group, ModelService.Version, PowerBudget.Plural, cancellationToken: cancellationToken);
        var selected = new List<(PowerBudget Budget, string Selector, IList<V1Node> Nodes)>();
        foreach (var budget in budgets.Items)
        {
            var selector = string.Join(',', (budget.Spec.NodeSelector.MatchLabels ?? new Dictionary<string, string>()).Select(l => $"{l.Key}={l.Value}"));
            selected.Add((budget, selector, (await client.CoreV1.ListNodeAsync(labelSelector: selector, cancellationToken: cancellationToken)).Items));
        }
        // The whole set, each pass (level-based): the control plane runs these domains and stops any other it ran; a budget
        // that selects no node has no members to cap and is left out.
        // A node draws from one budget: a budget that selects a node an older one holds (by creation, then name) is left
        // out and says so, rather than two loops setting one GPU's cap in turn.
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        var overlaps = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (budget, _, nodes) in selected.OrderBy(b => b.Budget.Metadata.CreationTimestamp ?? DateTime.MaxValue).ThenBy(b => b.Budget.Metadata.Name, StringComparer.Ordinal))
        {
            var taken = nodes.Select(n => n.Metadata.Name).Where(owner.ContainsKey).ToList();
            if (taken.Count > 0)
            {
                overlaps[budget.Metadata.Name] = $"node {taken[0]} is in PowerBudget {owner[taken[0]]} already{(taken.Count > 1 ? $" ({taken.Count} nodes shared)" : "")}: a node draws from one budget";
                continue;
            }
            foreach (var node in nodes)
                owner[node.Metadata.Name] = budget.Metadata.Name;
        }
        string? applied = null;
        if (power is not null)
        {
            applied = await power.ApplyAsync([.. selected.Where(b => b.Nodes.Count > 0 && !overlaps.ContainsKey(b.Budget.Metadata.Name)).Select(b => new PowerDomainRequest(
                b.Budget.Metadata.Name, b.Budget.Spec.BudgetWatts, [.. b.Nodes.Select(n => n.Metadata.Name).Order(StringComparer.Ordinal)],
                (b.Budget.Spec.Capping ?? new()).MinimumGpuWatts, (b.Budget.Spec.Capping ?? new()).HeadroomPercent))], cancellationToken);
        }
        var live = power is null ? null : await power.ReadAsync(cancellationToken);
        var written = 0;
        foreach (var (budget, selector, nodes) in selected)
        {
            written += await ReconcileAsync(budget, selector, nodes, power is null ? null : applied ?? "", overlaps.GetValueOrDefault(budget.Metadata.Name), live,
                cancellationToken) ? 1 : 0;
        }
        return written;
    }

    // applied: "" when the control plane took the domains, why not otherwise; null when the operator runs without one.
    // overlap: why the budget was left out of the set (a node another budget holds); null when it was not.
    private async Task<bool> ReconcileAsync(PowerBudget budget, string selector, IList<V1Node> nodes, string? applied, string? overlap,
        IReadOnlyDictionary<string, LivePower>? live, CancellationToken cancellationToken)
    {
        var gpus = 0;
        long peak = 0;
        foreach (var node in nodes)
        {
            var count = node.Status?.Capacity?.TryGetValue("nvidia.com/gpu", out var q) == true ? (int)q.ToInt64() : 0;
            var perGpu = node.Metadata.Labels?.TryGetValue(PowerBudget.PeakWattsLabel, out var w) == true && int.TryParse(w, CultureInfo.InvariantCulture, out var watts) ? watts : DefaultGpuPeakWatts;
            gpus += count;
            peak += (long)count * perGpu;
        }
        var old = budget.Status?.Conditions ?? [];
        V1Condition Condition(string type, bool value, string reason, string message)
        {
            var status = value ? "True" : "False";
            var previous = old.FirstOrDefault(c => c.Type == type);
            return new V1Condition
            {
                Type = type, Status = status, Reason = reason, Message = message, ObservedGeneration = budget.Metadata.Generation,
                LastTransitionTime = previous?.Status == status ? previous.LastTransitionTime : time.GetUtcNow().UtcDateTime,
            };
        }
        var row = live is not null && live.TryGetValue(budget.Metadata.Name, out var found) ? found : null;
        var brakesBefore = budget.Status?.Brakes ?? 0;
        var newBrakes = row is not null && row.Brakes > brakesBefore ? row.Brakes - brakesBefore : 0;
        var next = new PowerBudgetStatus
        {
            ObservedGeneration = budget.Metadata.Generation,
            Nodes = nodes.Count,
            Gpus = gpus,
            PeakWatts = peak,
            // Unreachable control plane: keep the last live figures rather than erase them.
            DrawWatts = live is null ? budget.Status?.DrawWatts : row is null ? null : (long)Math.Round(row.DrawWatts),
            CappedInstances = live is null ? budget.Status?.CappedInstances : row?.CappedInstances,
            Instances = live is null ? budget.Status?.Instances : row?.Instances,
            Level = live is null ? budget.Status?.Level : row?.Level,
            Brakes = live is null ? budget.Status?.Brakes : row?.Brakes,
            LastBrakeTime = newBrakes > 0 ? time.GetUtcNow().UtcDateTime : budget.Status?.LastBrakeTime,
            Conditions =
            [
                Condition("Ready", nodes.Count > 0, nodes.Count > 0 ? "NodesSelected" : "NoNodes", $"{nodes.Count} nodes, {gpus} GPUs match {selector}"),
                Condition("Oversubscribed", peak > budget.Spec.BudgetWatts, peak > budget.Spec.BudgetWatts ? "PeakAboveBudget" : "PeakWithinBudget",
                    $"uncapped peak {peak} W against a budget of {budget.Spec.BudgetWatts} W"),
                CappingCondition(applied, overlap, budget.Spec.Capping?.Method ?? "power-limit", nodes.Count, row?.Instances, Condition),
                Condition("Braking", row?.Level == "Brake", row?.Level == "Brake" ? "EmergencyBrake" : "WithinBudget",
                    row is null ? "no live reading from the control plane" : $"draw {row.DrawWatts:0} W, level {row.Level}, {row.Brakes} brakes"),
            ],
        };
        if (budget.Status is { } current && current.ObservedGeneration == next.ObservedGeneration && current.Nodes == next.Nodes
            && current.Gpus == next.Gpus && current.PeakWatts == next.PeakWatts
            && current.DrawWatts == next.DrawWatts && current.CappedInstances == next.CappedInstances && current.Instances == next.Instances
            && current.Level == next.Level && current.Brakes == next.Brakes
            && current.Conditions.Select(c => (c.Type, c.Status)).SequenceEqual(next.Conditions.Select(c => (c.Type, c.Status))))
            return false;
        if (newBrakes > 0)
        {
            // A brake is an event worth an alert: the domain drew over its budget with every cap in force.
            var now = time.GetUtcNow().UtcDateTime;
            await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
            {
                Metadata = new V1ObjectMeta { GenerateName = budget.Metadata.Name + "-", NamespaceProperty = "default" },
                InvolvedObject = new V1ObjectReference { ApiVersion = budget.ApiVersion, Kind = budget.Kind, Name = budget.Metadata.Name, Uid = budget.Metadata.Uid },
                Reason = "EmergencyBrake",
                Message = $"power domain drew {row!.DrawWatts:0} W against a budget of {budget.Spec.BudgetWatts} W: {newBrakes} new emergency brake(s), {row.Brakes} in all",
                Type = "Warning",
                FirstTimestamp = now,
                LastTimestamp = now,
                Source = new V1EventSource { Component = "controlplane-operator" },
            }, "default", cancellationToken: cancellationToken);
        }
        budget.Status = next;
        await client.CustomObjects.ReplaceClusterCustomObjectStatusAsync(budget, ModelService.Group, ModelService.Version, PowerBudget.Plural,
            budget.Metadata.Name, cancellationToken: cancellationToken);
        return true;
    }

    /// <summary>
    /// <c>Capping</c>: whether the control plane runs the domain's loop: True when it took the domains and the budget selects
    /// nodes (a frequency-lock method is said to be carried out by power limits), False with why not otherwise.
    /// </summary>
    private static V1Condition CappingCondition(string? applied, string? overlap, string method, int nodes, int? instances,
        Func<string, bool, string, string, V1Condition> condition) => applied switch
    {
        not null when overlap is not null => condition("Capping", false, "NodesOverlap", overlap),
        "" when nodes > 0 && instances == 0 => condition("Capping", true, "NoInstances",
            "the control plane runs the domain's loop but finds no engine instance on its nodes: none scheduled there yet, or workers that do not set NODE_NAME"),
        null => condition("Capping", false, "NoControlPlane", "this operator runs without a control plane to apply the budget to"),
        "" when nodes == 0 => condition("Capping", false, "NoNodes", "no node matches the selector: nothing to cap"),
        "" when method == "frequency-lock" => condition("Capping", true, "PowerLimit",
            "the control plane runs the domain's loop; frequency-lock is not carried out, its GPUs are capped by power limit"),
        "" => condition("Capping", true, "Applied", "the control plane runs the domain's loop"),
        _ => condition("Capping", false, "NotApplied", applied),
    };
}
