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
    public void Load_TorchSharpH100Measurement_IsBuiltInWithItsProvenance()
    {
        Assert.Contains("llama-3-8b-h100-torchsharp", PerformanceProfile.BuiltIn);
        var profile = PerformanceProfile.Load("llama-3-8b-h100-torchsharp");
        Assert.Contains("Measured with our TorchSharp engine", profile.Provenance);
        Assert.True(profile.StepTime(0, 64, 64 * 512) > profile.StepTime(0, 1, 512));
    }

    [Fact]
    public void Load_UnknownName_ListsBuiltInProfiles()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => PerformanceProfile.Load("no-such-profile"));
        Assert.Contains(PerformanceProfile.Default, ex.Message);
    }
}
