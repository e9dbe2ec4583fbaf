using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Engines;
using ControlPlane.Requests;

namespace ControlPlane.Engine.Core.Tests;

/// <summary>An engine core over a <see cref="FakeStepRunner"/>, and helpers to drive it to the end.</summary>
internal sealed class CoreHarness
{
    public CoreHarness(int blocks = 64, int blockSize = 4, int maxBatchedTokens = 32, int maxRunning = 256, string model = "m", double? fairnessMargin = null)
    {
        Runner = new FakeStepRunner(blocks, blockSize);
        var options = new SchedulerOptions { KvBlockSize = blockSize, MaxBatchedTokens = maxBatchedTokens, MaxRunningRequests = maxRunning, MaxContextTokens = 4096 };
        if (fairnessMargin is { } margin)
            options = options with { FairnessPreemptMargin = margin };
        Engine = new EngineCore(model, Runner, blocks, options,
            LetterTokenizer.Instance, random: new Random(1));
    }

    public FakeStepRunner Runner { get; }
    public EngineCore Engine { get; }
    public Dictionary<string, List<int>> Tokens { get; } = [];
    public Dictionary<string, string> Text { get; } = [];
    public Dictionary<string, RequestOutput> Last { get; } = [];

    public static RequestSpec Request(string id, int promptTokens, int maxTokens, int seed = 0, float temperature = 0, long? samplingSeed = null,
        IReadOnlyList<string>? stop = null, ServiceClass serviceClass = ServiceClass.Standard, int priority = 0) => new()
    {
        RequestId = id,
        Model = "m",
        PromptTokenIds = Prompt(promptTokens, seed),
        Sampling = new SamplingParameters { MaxTokens = maxTokens, Temperature = temperature, Seed = samplingSeed, StopStrings = stop ?? [], IgnoreEndOfSequence = true },
        ServiceClass = serviceClass,
        Priority = priority,
    };

    public static int[] Prompt(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => random.Next(0, FakeStepRunner.Vocabulary))];
    }

    /// <summary>A part as it comes out of a stream: written in the transfer format and read back.</summary>
    public static ControlPlane.Transfer.KvPart RoundTrip(ControlPlane.Transfer.KvPart part) =>
        ControlPlane.Engine.Core.Transfer.KvTransferFormat.Read(new MemoryStream(ControlPlane.Engine.Core.Transfer.KvTransferFormat.ToArray(part)));

    /// <summary>The request run alone to its end on a fresh engine: what a run that never moved produces.</summary>
    public static CoreHarness RunAlone(RequestSpec request)
    {
        var whole = new CoreHarness();
        whole.Engine.Add(request);
        whole.RunToEnd();
        return whole;
    }

    public EngineStepResult Step()
    {
        var result = Engine.ComputeStep();
        foreach (var output in result.Outputs)
        {
            if (!Tokens.TryGetValue(output.RequestId, out var list))
                Tokens[output.RequestId] = list = [];
            list.AddRange(output.NewTokenIds);
            Text[output.RequestId] = Text.GetValueOrDefault(output.RequestId, "") + output.TextDelta;
            Last[output.RequestId] = output;
        }
        return result;
    }

    public void RunToEnd(int maxSteps = 10_000)
    {
        for (var i = 0; Engine.HasWork; i++)
        {
            Assert.True(i < maxSteps, $"the engine did not finish within {maxSteps} steps");
            Step();
        }
    }
}
