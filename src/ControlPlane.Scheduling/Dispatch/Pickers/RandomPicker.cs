namespace ControlPlane.Scheduling.Dispatch.Pickers;

/// <summary>Ignores scores and picks a candidate uniformly at random.</summary>
public sealed class RandomPicker(Random random) : IDispatchPicker
{
    public const string PluginName = "random";

    public string Name => PluginName;

    public int Pick(ReadOnlySpan<double> scores) => random.Next(scores.Length);
}
