using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>A token-length distribution for synthetic traces: a fixed number (<c>512</c>) or a uniform range (<c>100-900</c>).</summary>
public sealed record LengthSpec(int Min, int Max)
{
    public static LengthSpec Parse(string text, string option)
    {
        var parts = text.Split('-', 2);
        if (parts.Length == 1 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1)
            return new LengthSpec(n, n);
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var b) && a >= 1 && b >= a)
            return new LengthSpec(a, b);
        throw new ArgumentException($"{option} '{text}' is not a length: give a number (512) or a range (100-900)");
    }

    public int Sample(Random random) => Min == Max ? Min : random.Next(Min, Max + 1);
}
