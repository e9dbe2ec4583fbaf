namespace ControlPlane.Instances;

/// <summary>An instance's answer to an admit order.</summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.AdmitResult")]
public sealed record AdmitResult(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] string? Reason)
{
    public static AdmitResult Admitted { get; } = new(true, null);

    /// <summary>The address of the silo that admitted the request: its loss is the request's loss.</summary>
    [Id(2)] public string Silo { get; init; } = "";

    public static AdmitResult Refused(string reason) => new(false, reason);
}
