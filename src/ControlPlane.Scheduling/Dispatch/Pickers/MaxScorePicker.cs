namespace ControlPlane.Scheduling.Dispatch.Pickers;

/// <summary>Picks the highest score; ties are broken at random so equal instances share the load.</summary>
public sealed class MaxScorePicker(Random random) : IDispatchPicker
{
    public const string PluginName = "max-score";

    public string Name => PluginName;

    public int Pick(ReadOnlySpan<double> scores)
    {
        var best = 0;
        var ties = 1;
        for (var i = 1; i < scores.Length; i++)
        {
            if (scores[i] > scores[best] + 1e-12)
            {
                best = i;
                ties = 1;
            }
            else if (Math.Abs(scores[i] - scores[best]) <= 1e-12 && random.Next(++ties) == 0)
            {
                best = i; // reservoir sampling keeps each tied candidate with equal probability
            }
        }
        return best;
    }
}
