using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests;

public class PerformanceProfileTests
{
    [Fact]
    public void Load_Default_HasProvenanceAndPositiveCoefficients()
    {
        var profile = PerformanceProfile.Load(PerformanceProfile.Default);
        Assert.Contains("Roofline", profile.Provenance);
        Assert.True(profile.StepOverheadMs > 0 && profile.PrefillMsPerToken > 0 && profile.TotalKvBlocks > 0);
    }

    [Fact]
    public void StepTime_IsLinearInPrefillDecodeAndContext()
    {
        var p = new PerformanceProfile { Name = "t", Provenance = "test", StepOverheadMs = 1, PrefillMsPerToken = 0.5, DecodeMsPerSequence = 0.25, MsPerContextToken = 0.001 };
        Assert.Equal(1 + 50 + 1 + 2, p.StepTime(100, 4, 2000).TotalMilliseconds, 9);
    }

    [Fact]
    public void StepTime_PrefillStepOverhead_OnlyOnStepsWithPrefill()
    {
        var p = new PerformanceProfile { Name = "t", Provenance = "test", StepOverheadMs = 1, PrefillStepOverheadMs = 3, PrefillMsPerToken = 0.5, DecodeMsPerSequence = 0.25 };
        Assert.Equal(1 + 1, p.StepTime(0, 4, 0).TotalMilliseconds, 9);          // decode only: no extra
        Assert.Equal(1 + 3 + 5 + 1, p.StepTime(10, 4, 0).TotalMilliseconds, 9); // with prefill: the extra once
        var (prefill, other) = p.StepParts(10, 4, 0);
        Assert.Equal(p.StepTime(10, 4, 0).TotalMilliseconds, prefill + other, 9);
    }

    [Fact]
    public void Load_TorchSharpH100Measurement_IsBuiltInWithItsProvenance()
    {
        Assert.Contains("llama-3-8b-h100-torchsharp", PerformanceProfile.BuiltIn);
        var profile = PerformanceProfile.Load("llama-3-8b-h100-torchsharp");
        Assert.Contains("Measured with our TorchSharp engine", profile.Provenance);
        Assert.True(profile.StepTime(0, 64, 64 * 512) > profile.StepTime(0, 1, 512));
    }

    [Fact]
    public void TorchSharpH100Profile_ReproducesTheMeasuredDecodeSteps()
    {
        // The profile is fitted to this run; a profile or measurement changed alone fails here.
        var profile = PerformanceProfile.Load("llama-3-8b-h100-torchsharp");
        using var run = System.Text.Json.JsonDocument.Parse(File.ReadAllText(MeasuredRun()));
        var checkedSteps = 0;
        foreach (var row in run.RootElement.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("kind").GetString() == "decode"))
        {
            var batch = row.GetProperty("batch").GetInt32();
            var context = row.GetProperty("context").GetInt32() + 18; // the 32 timed steps' mean context
            var measured = row.GetProperty("msPerStep").GetDouble();
            var predicted = profile.StepTime(0, batch, (long)batch * context).TotalMilliseconds;
            Assert.InRange(predicted / measured, 0.95, 1.05);
            checkedSteps++;
        }
        Assert.Equal(8, checkedSteps);
    }

    [Fact]
    public void TorchSharpH100ServedProfile_ReproducesTheServedRunsSteps()
    {
        // Fitted to this served run's step log (the last 5,165 lines: the 400 replayed requests, after the warm-up); a
        // profile or log changed alone fails here. A step's time is its interval to the next step when the engine went on at once.
        var profile = PerformanceProfile.Load("llama-3-8b-h100-torchsharp-served");
        using var file = File.OpenRead(Path.Combine(Path.GetDirectoryName(MeasuredRun())!, "..", "2026-12-06c-serving", "steps.jsonl.gz"));
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress));
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
            lines.Add(line);
        var steps = lines.TakeLast(5165).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
        double decodeError = 0, prefillError = 0;
        int decodeSteps = 0, prefillSteps = 0;
        for (var i = 0; i + 1 < steps.Length; i++)
        {
            var s = steps[i];
            var ms = s.GetProperty("ms").GetDouble();
            var gap = steps[i + 1].GetProperty("t").GetDouble() - (s.GetProperty("t").GetDouble() + ms);
            var interval = ms + (gap is >= 0 and < 20 ? gap : 0);
            var decodes = s.GetProperty("decodes").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var chunks = s.GetProperty("prefill").EnumerateArray().Select(c => (N: c[0].GetInt64(), Offset: c[1].GetInt64())).ToArray();
            var predicted = profile.StepTime((int)chunks.Sum(c => c.N), decodes.Length, decodes.Sum() + chunks.Sum(c => c.N + c.Offset),
                chunks.Sum(c => c.N * (c.Offset + c.N / 2.0))).TotalMilliseconds;
            var error = Math.Abs(predicted - interval) / interval;
            if (chunks.Length == 0) { decodeError += error; decodeSteps++; }
            else { prefillError += error; prefillSteps++; }
        }
        Assert.True(decodeSteps > 4000 && prefillSteps > 300, $"{decodeSteps} decode-only and {prefillSteps} steps with prefill");
        Assert.InRange(decodeError / decodeSteps, 0, 0.03);   // fitted: 1.5 %
        Assert.InRange(prefillError / prefillSteps, 0, 0.08); // fitted: 5.5 %
    }

    private static string MeasuredRun([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "docs", "gpu-runs", "2026-11-24-final", "ours_bench.json");

    [Fact]
    public void Load_UnknownName_ListsBuiltInProfiles()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => PerformanceProfile.Load("no-such-profile"));
        Assert.Contains(PerformanceProfile.Default, ex.Message);
    }
}
