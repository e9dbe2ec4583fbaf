namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// Dispatch configuration (<c>ControlPlane:Dispatch</c>): a named policy, or a custom <see cref="Profile"/>
/// that overrides it, and the per-instance queue limit beyond which requests are refused with 429.
/// </summary>
public sealed record DispatchConfig
{
    public const string DefaultPolicy = "prefix-aware";

    public string Policy { get; init; } = DefaultPolicy;
    public DispatchProfileConfig? Profile { get; init; }
    public int QueueLimit { get; init; } = 256;

    /// <summary>The predicted time to first token each class is admitted with (<c>slo-admission</c> filter).</summary>
    public Filters.SloAdmissionConfig SloAdmission { get; init; } = new();
}
