using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Simulation.Engine;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Tests.Engine;

/// <summary>Runs a simulated engine in virtual time and collects each request's tokens and text.</summary>
internal sealed class EngineDriver
{
    public static readonly PerformanceProfile Profile = PerformanceProfile.Load(PerformanceProfile.Default);

    public EngineDriver(int? blocks = null, PerformanceProfile? profile = null) =>
        Engine = new SimulatedEngine("m", profile ?? Profile, random: new Random(5), totalKvBlocks: blocks);

    public SimulatedEngine Engine { get; }
    public Dictionary<string, List<int>> Tokens { get; } = [];
    public Dictionary<string, string> Text { get; } = [];
    public Dictionary<string, FinishReason> Finish { get; } = [];
    public Dictionary<string, int> FirstTokenStep { get; } = [];
    public int Steps { get; private set; }

    public static RequestSpec Request(string id, int promptTokens, int maxTokens, float temperature = 0, long? seed = null, IReadOnlyList<string>? stop = null) => new()
    {
        RequestId = id,
        Model = "m",
        PromptTokenIds = Enumerable.Range(0, promptTokens).Select(i => 1 + (i * 7 + id.Length) % 50).ToArray(),
        Sampling = new SamplingParameters { MaxTokens = maxTokens, Temperature = temperature, Seed = seed, StopStrings = stop ?? [] },
    };

    public EngineStepResult Step()
    {
        var result = Engine.ComputeStep();
        Steps++;
        foreach (var output in result.Outputs)
            Record(output);
        return result;
    }

    public void RunToEnd(int maxSteps = 100_000)
    {
        while (Engine.HasWork)
        {
            Step();
            if (Steps > maxSteps)
                throw new InvalidOperationException($"the engine did not finish within {maxSteps} steps");
        }
    }

    private void Record(RequestOutput output)
    {
        if (!Tokens.TryGetValue(output.RequestId, out var tokens))
        {
            Tokens[output.RequestId] = tokens = [];
            FirstTokenStep[output.RequestId] = Steps;
        }
        tokens.AddRange(output.NewTokenIds);
        Text[output.RequestId] = Text.GetValueOrDefault(output.RequestId, "") + output.TextDelta;
        if (output.Finished)
            Finish[output.RequestId] = output.FinishReason;
    }
}
