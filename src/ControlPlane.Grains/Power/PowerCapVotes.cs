namespace ControlPlane.Grains.Power;

/// <summary>
/// The caps the power domains that hold one GPU have set on it (a model's configured domain and its node's PowerBudget,
/// say): the GPU obeys the lowest, and each domain sets and lifts only its own, so two domains never undo each other's
/// cap in turn. Any thread.
/// </summary>
public sealed class PowerCapVotes
{
    private readonly Dictionary<string, double> _caps = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Records <paramref name="domain"/>'s cap (null: it lifts its own); returns the cap in force now, the lowest, null when none.</summary>
    public double? Set(string domain, double? watts)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        lock (_gate)
        {
            if (watts is { } cap)
                _caps[domain] = cap;
            else
                _caps.Remove(domain);
            return _caps.Count == 0 ? null : _caps.Values.Min();
        }
    }

    /// <summary>The domains with a cap set, and their caps.</summary>
    public IReadOnlyDictionary<string, double> Caps
    {
        get
        {
            lock (_gate)
                return new Dictionary<string, double>(_caps, StringComparer.Ordinal);
        }
    }
}
