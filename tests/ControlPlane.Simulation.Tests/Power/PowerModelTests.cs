using System.Globalization;
using ControlPlane.Simulation.Power;

namespace ControlPlane.Simulation.Tests.Power;

public class PowerModelTests
{
    /// <summary>
    /// The model's shape fitted to Splitwise's A100 profile (260 rows with power, normalized to the board's
    /// limit): prefill draw = floor + (1 − floor)(1 − e^(−tokens/n0)) with floor 0.32, n0 200 tokens. Decode draw
    /// depends on the weight bytes each GPU reads a step: 0.71 of the limit for Llama-2-70B over 2 GPUs, 0.58 over
    /// 4, 0.42 over 8 (8.75 B parameters a GPU, the nearest to one GPU serving an 8B model), 0.61 for BLOOM over 8.
    /// </summary>
    private static readonly PowerModel A100Normalized = new()
    {
        MaxWatts = 1, IdleWatts = 0.1, DecodeWatts = 0.42, PrefillFloorWatts = 0.32, PrefillSaturationTokens = 200,
    };

    private static IEnumerable<Dictionary<string, string>> Rows()
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Power", "splitwise", "perf_model.csv"));
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second));
    }

    private static double D(Dictionary<string, string> row, string column) => double.Parse(row[column], CultureInfo.InvariantCulture);

    [Fact]
    public void Prefill_AgainstSplitwiseA100_MeanErrorIsTheStatedSevenPercentOfTheLimit()
    {
        var rows = Rows().Where(r => r["hardware"] == "a100-80gb" && D(r, "peak_power") > 0).ToArray();
        Assert.Equal(260, rows.Length);
        var errors = rows.Select(r => Math.Abs(A100Normalized.Prefill((int)(D(r, "prompt_size") * D(r, "batch_size"))) - D(r, "peak_power"))).ToArray();
        Assert.InRange(errors.Average(), 0, 0.075);
    }

    [Fact]
    public void Decode_AgainstSplitwiseA100Llama70BOverEightGpus_MeanRunDrawWithinFivePercent()
    {
        // A run's mean draw = (prefill time × prefill draw + decode time × decode draw) ÷ total: the model's
        // decode draw must reproduce the measured means (65 runs; stated mean error 0.051 of the limit).
        var rows = Rows().Where(r => r["hardware"] == "a100-80gb" && r["model"] == "llama2-70b" && r["tensor_parallel"] == "8" && D(r, "average_power") > 0).ToArray();
        Assert.Equal(65, rows.Length);
        var errors = rows.Select(r =>
        {
            var prefill = D(r, "prompt_time");
            var decode = D(r, "token_time") * D(r, "token_size");
            var predicted = (prefill * D(r, "peak_power") + decode * A100Normalized.Decode((int)D(r, "batch_size"))) / (prefill + decode);
            return Math.Abs(predicted - D(r, "average_power"));
        }).ToArray();
        Assert.InRange(errors.Average(), 0, 0.055);
    }

    [Fact]
    public void Cap_BelowPrefillDraw_StretchesPrefillOnly_AsSplitwisesCappedH100()
    {
        // Splitwise's capped H100 against the uncapped one: prompt phases 1.30× longer, token phases unchanged.
        var rows = Rows().Where(r => r["model"] == "llama2-70b" && r["tensor_parallel"] == "8").ToArray();
        double Mean(string hardware, string column) => rows.Where(r => r["hardware"] == hardware).Average(r => D(r, column));
        var prefillStretch = Mean("h100-80gb-pcap", "prompt_time") / Mean("h100-80gb", "prompt_time");
        var decodeStretch = Mean("h100-80gb-pcap", "token_time") / Mean("h100-80gb", "token_time");
        Assert.InRange(prefillStretch, 1.25, 1.35);
        Assert.InRange(decodeStretch, 0.99, 1.01);

        // The model stretches a part by draw ÷ cap when the cap is below its draw: a cap at 1/1.30 of the
        // prefill draw reproduces both (the profile does not say the cap's level; this is the one it implies).
        var model = A100Normalized with { MaxWatts = 1 };
        var cap = model.Prefill(4096) / prefillStretch;
        var (prefillMs, _) = model.Step(100, 4096, 0, 0, cap);
        var (decodeMs, _) = model.Step(0, 0, 100, 8, cap);
        Assert.Equal(100 * prefillStretch, prefillMs, 6);
        Assert.Equal(100, decodeMs, 6);
    }
}
