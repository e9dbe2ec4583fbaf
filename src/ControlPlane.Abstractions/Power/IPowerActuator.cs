namespace ControlPlane.Power;

/// <summary>
/// A GPU's power on the worker that runs it: its measured draw and the cap in force. NVML (where the operator
/// grants the privilege) on a real GPU; the power model for a simulated one. Called from any thread.
/// </summary>
public interface IPowerActuator
{
    /// <summary>The board's limit, W.</summary>
    double MaxWatts { get; }

    /// <summary>The mean draw since the previous read, W.</summary>
    double ReadDrawWatts();

    double? CapWatts { get; }

    /// <summary>Sets a cap in watts, or lifts it (null).</summary>
    void SetCap(double? watts);
}
