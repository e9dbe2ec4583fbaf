namespace ControlPlane.Simulation.Power;

/// <summary>
/// One GPU kind's draw as a function of a step's work, and what a power cap does to the step's time.
/// Prefill (compute-bound) draws more the more tokens a step computes, saturating at the board's limit;
/// decode (memory-bound) draws a near-constant share that rises slowly with the batch. A cap below a part's
/// draw stretches that part of the step by draw ÷ cap (performance falls no faster than power, so this is the
/// pessimistic side); a cap above it costs nothing, which is why capping decode-heavy work is nearly free
/// (Splitwise's capped H100: prefill 1.30× slower, decode unchanged). Fitted per GPU kind; see docs/benchmarks.md.
/// </summary>
public sealed record PowerModel
{
    /// <summary>The board's power limit, W: what an uncapped GPU may draw at most (the domain's peak counts this).</summary>
    public required double MaxWatts { get; init; }
    public required double IdleWatts { get; init; }

    /// <summary>Decode draw at batch 1, W, and its rise per doubling of the batch.</summary>
    public required double DecodeWatts { get; init; }
    public double DecodeWattsPerDoubling { get; init; }

    /// <summary>Prefill draw of a step computing few tokens, W, rising toward <see cref="MaxWatts"/> with scale <see cref="PrefillSaturationTokens"/>.</summary>
    public required double PrefillFloorWatts { get; init; }
    public required double PrefillSaturationTokens { get; init; }
    public string Provenance { get; init; } = "";

    public double Decode(int sequences) =>
        sequences <= 0 ? IdleWatts : Math.Min(MaxWatts, DecodeWatts + DecodeWattsPerDoubling * Math.Log2(sequences));

    public double Prefill(int tokens) =>
        tokens <= 0 ? IdleWatts : PrefillFloorWatts + (MaxWatts - PrefillFloorWatts) * (1 - Math.Exp(-tokens / PrefillSaturationTokens));

    /// <summary>
    /// A step of <paramref name="prefillMs"/> prefill time and <paramref name="decodeMs"/> decode time (as uncapped),
    /// under <paramref name="capWatts"/> (null: uncapped): its duration and its mean draw.
    /// </summary>
    public (double Ms, double Watts) Step(double prefillMs, int prefillTokens, double decodeMs, int decodeSequences, double? capWatts)
    {
        var prefill = Part(prefillMs, Prefill(prefillTokens), capWatts);
        var decode = Part(decodeMs, Decode(Math.Max(1, decodeSequences)), capWatts); // weights and KV reads run in every step
        var ms = prefill.Ms + decode.Ms;
        return ms <= 0 ? (0, IdleWatts) : (ms, (prefill.Ms * prefill.Watts + decode.Ms * decode.Watts) / ms);
    }

    private static (double Ms, double Watts) Part(double ms, double watts, double? cap) =>
        cap is { } c && watts > c ? (ms * watts / c, c) : (ms, watts);
}
