namespace ControlPlane.Scheduling.Dispatch.Pickers;

/// <summary>Ignores scores and takes the candidates in turn.</summary>
public sealed class RoundRobinPicker : IDispatchPicker
{
    public const string PluginName = "round-robin";
    private uint _next;

    public string Name => PluginName;

    public int Pick(ReadOnlySpan<double> scores) => (int)(_next++ % (uint)scores.Length);
}
