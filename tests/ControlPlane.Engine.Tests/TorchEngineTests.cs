using ControlPlane.Engine.Model;
using ControlPlane.Engine.Core.Transfer;
using ControlPlane.Transfer;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

public sealed class TorchEngineTests : IClassFixture<EngineHarnessFixture>
{
    private readonly EngineHarness _h;

    public TorchEngineTests(EngineHarnessFixture fixture) => _h = fixture.Harness;

    [Fact]
    public void Forward_PagedInChunks_EqualsDenseAttention()
    {
        var prompt = EngineHarness.Prompt(37, seed: 1);
        using var engine = _h.NewEngine(maxBatchedTokens: 10); // prefill in chunks of 10 across block boundaries
        var captured = new List<float[]>();
        // Drive the paged forward directly, chunk by chunk, as the engine lays it out.
        using var cache = new KvCache.PagedKvCache(TinyModel.Layers, 32, 4, TinyModel.KvHeads, TinyModel.Hidden / TinyModel.Heads, ScalarType.Float32, CPU);
        var slots = Enumerable.Range(0, 37).Select(p => (long)(31 - p / 4) * 4 + p % 4).ToArray(); // blocks in reverse order: paging must not matter
        Tensor? last = null;
        for (var start = 0; start < prompt.Length; start += 10)
        {
            var n = Math.Min(10, prompt.Length - start);
            var batch = new ForwardBatch(
                [.. prompt.Skip(start).Take(n).Select(t => (long)t)],
                [.. Enumerable.Range(start, n).Select(p => (long)p)],
                slots[start..(start + n)],
                [new SequenceSlice(0, n, start + n, slots[..(start + n)], true)]);
            last?.Dispose();
            last = engine.Forward.Run(batch, cache);
        }
        using var dense = engine.Forward.RunDense([.. prompt.Select(t => (long)t)]);
        using var diff = (last! - dense[^1].unsqueeze(0)).abs().max();
        Assert.True(diff.item<float>() < 1e-4f, $"paged and dense logits differ by {diff.item<float>()}");
        last!.Dispose();
    }

    [Fact]
    public void Generate_Greedy_EqualsFullRecomputationEveryStep()
    {
        var prompt = EngineHarness.Prompt(12, seed: 2);
        using var engine = _h.NewEngine();
        engine.Add(EngineHarness.Request("r", prompt, 16));
        var tokens = EngineHarness.Run(engine).Tokens["r"];
        Assert.Equal(16, tokens.Count);
        var context = prompt.Select(t => (long)t).ToList();
        foreach (var token in tokens)
        {
            using var logits = engine.Forward.RunDense([.. context]);
            Assert.Equal(logits[^1].argmax().item<long>(), token);
            context.Add(token);
        }
    }

    [Fact]
    public void Generate_AloneOrBatchedWithOthers_GivesSameTokens()
    {
        var prompt = EngineHarness.Prompt(20, seed: 3);
        using var alone = _h.NewEngine();
        alone.Add(EngineHarness.Request("x", prompt, 12));
        var expected = EngineHarness.Run(alone).Tokens["x"];

        using var batched = _h.NewEngine(maxBatchedTokens: 24);
        for (var i = 0; i < 5; i++)
            batched.Add(EngineHarness.Request($"o{i}", EngineHarness.Prompt(8 + 5 * i, seed: 10 + i), 10 + i));
        batched.Add(EngineHarness.Request("x", prompt, 12));
        Assert.Equal(expected, EngineHarness.Run(batched).Tokens["x"]);
    }

    [Fact]
    public void SharedPrefix_ReusesBlocksAndChangesNoOutput()
    {
        var prefix = EngineHarness.Prompt(16, seed: 4);
        int[] a = [.. prefix, 5, 6, 7], b = [.. prefix, 9, 9];
        using var fresh = _h.NewEngine();
        fresh.Add(EngineHarness.Request("b", b, 8));
        var expected = EngineHarness.Run(fresh).Tokens["b"];

        using var engine = _h.NewEngine();
        engine.Add(EngineHarness.Request("a", a, 8));
        EngineHarness.Run(engine);
        engine.Add(EngineHarness.Request("b", b, 8));
        var (tokens, last) = EngineHarness.Run(engine);
        Assert.Equal(expected, tokens["b"]);
        Assert.Equal(16, last["b"].CachedPromptTokens); // four 4-token blocks of the shared prefix
        Assert.Equal(0, engine.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void HostTier_PrefixEvictedThenAskedAgain_ReloadsFromHostAndEqualsARecompute()
    {
        var prompt = EngineHarness.Prompt(40, seed: 8);
        using var fresh = _h.NewEngine(blocks: 16);
        fresh.Add(EngineHarness.Request("x", prompt, 6));
        var expected = EngineHarness.Run(fresh).Tokens["x"];

        // 16 blocks of 4 tokens: x leaves 11 named blocks cached; a 56-token filler needs 15 and pushes most of them out.
        using var engine = _h.NewEngine(blocks: 16);
        engine.AddHostTier(64);
        engine.Add(EngineHarness.Request("x", prompt, 6));
        EngineHarness.Run(engine);
        engine.Add(EngineHarness.Request("filler", EngineHarness.Prompt(56, seed: 9), 2));
        EngineHarness.Run(engine);
        Assert.True(engine.HostTier!.StoredBlocks > 0, "the filler should have pushed cached blocks to host memory");

        engine.Add(EngineHarness.Request("x-again", prompt, 6));
        var (tokens, last) = EngineHarness.Run(engine);

        Assert.Equal(expected, tokens["x-again"]);
        Assert.Equal(36, last["x-again"].CachedPromptTokens); // nine 4-token blocks: all but the block with the last token
        Assert.True(last["x-again"].HostCachedPromptTokens > 0, "some of the prefix should have come back from host memory");
        Assert.Equal(0, engine.Snapshot().UsedKvBlocks);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportPrefixImportPrefix_BetweenEngines_TheFetchedPrefixGivesTheRecomputedTokens(bool onDevice)
    {
        var prompt = EngineHarness.Prompt(40, seed: 10);
        using var fresh = _h.NewEngine();
        fresh.Add(EngineHarness.Request("p", prompt, 6));
        var expected = EngineHarness.Run(fresh).Tokens["p"];

        using var source = _h.NewEngine();
        source.Add(EngineHarness.Request("p", prompt, 1));
        EngineHarness.Run(source);
        using var target = _h.NewEngine();
        var part = source.ExportPrefix("f", prompt, 0, 9, onDevice);
        // On the device (a peer in this process): a gathered tensor and no bytes, freed by the import.
        Assert.Equal(onDevice, part.DeviceData is not null);
        Assert.Equal(onDevice, part.Payload.IsEmpty);
        Assert.Equal(9, target.ImportPrefix(part));
        target.Add(EngineHarness.Request("p", prompt, 6));
        var (tokens, last) = EngineHarness.Run(target);

        Assert.Equal(expected, tokens["p"]);
        Assert.Equal(36, last["p"].CachedPromptTokens);
    }

    [Fact]
    public void ExportImport_MidDecode_ContinuesWithTheUninterruptedTokens()
    {
        var prompt = EngineHarness.Prompt(15, seed: 5);
        using var whole = _h.NewEngine();
        whole.Add(EngineHarness.Request("m", prompt, 20));
        var expected = EngineHarness.Run(whole).Tokens["m"];

        using var source = _h.NewEngine();
        var request = EngineHarness.Request("m", prompt, 20);
        source.Add(request);
        var sent = new List<int>();
        for (var i = 0; i < 8; i++)
            sent.AddRange(source.ComputeStep().Outputs.SelectMany(o => o.NewTokenIds));
        // Staged: the first blocks while decoding goes on, then the rest; each part crosses a stream in the shared framing.
        var stage1 = RoundTrip(source.ExportKv("m", new KvBlockRange(0, 2)));
        var stage2 = RoundTrip(source.ExportKv("m", new KvBlockRange(2, -1)));
        Assert.True(source.Abort("m"));
        Assert.Equal(0, source.Snapshot().UsedKvBlocks);

        using var target = _h.NewEngine(blocks: 64);
        target.ImportKv(request, stage1);
        target.ImportKv(request, stage2);
        var rest = EngineHarness.Run(target).Tokens["m"];
        Assert.Equal(expected, sent.Concat(rest).ToList());
        Assert.Equal(0, target.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void ExportImport_SeededSamplingWithStopString_ContinuesExactly()
    {
        var prompt = EngineHarness.Prompt(11, seed: 8);
        using var probe = _h.NewEngine();
        probe.Add(EngineHarness.Request("s", prompt, 40, temperature: 1.2f, seed: 31));
        var text = _h.Tokenizer.Decode(EngineHarness.Run(probe).Tokens["s"]);
        var stop = text.Substring(text.Length * 2 / 3, 2);
        var request = EngineHarness.Request("s", prompt, 40, temperature: 1.2f, seed: 31) with
        {
            Sampling = EngineHarness.Request("s", prompt, 40, temperature: 1.2f, seed: 31).Sampling with { StopStrings = [stop] },
        };
        using var whole = _h.NewEngine();
        whole.Add(request);
        var (expected, expectedLast) = EngineHarness.Run(whole);

        using var source = _h.NewEngine();
        source.Add(request);
        var sent = new List<int>();
        for (var i = 0; i < 6; i++)
            sent.AddRange(source.ComputeStep().Outputs.SelectMany(o => o.NewTokenIds));
        var first = RoundTrip(source.ExportKv("s", new KvBlockRange(0, 2)));
        sent.AddRange(source.ComputeStep().Outputs.SelectMany(o => o.NewTokenIds));
        var rest = RoundTrip(source.ExportKv("s", new KvBlockRange(2, -1)));
        Assert.True(source.Abort("s"));
        using var target = _h.NewEngine();
        target.ImportKv(request, first);
        target.ImportKv(request, rest);
        var (tokens, last) = EngineHarness.Run(target);

        Assert.Equal(expected["s"], sent.Concat(tokens["s"]).ToList());
        Assert.Equal(expectedLast["s"].FinishReason, last["s"].FinishReason);
        Assert.Equal(Requests.FinishReason.Stop, last["s"].FinishReason);
        Assert.Equal(0, target.Snapshot().UsedKvBlocks);
    }

    private static KvPart RoundTrip(KvPart part) => KvTransferFormat.Read(new MemoryStream(KvTransferFormat.ToArray(part)));

    [Fact]
    public void Preemption_WhenBlocksRunOut_ResumesWithIdenticalTokens()
    {
        var prompts = Enumerable.Range(0, 4).Select(i => EngineHarness.Prompt(10 + i, seed: 20 + i)).ToArray();
        using var roomy = _h.NewEngine();
        using var tight = _h.NewEngine(blocks: 16);
        for (var i = 0; i < prompts.Length; i++)
        {
            roomy.Add(EngineHarness.Request($"p{i}", prompts[i], 24));
            tight.Add(EngineHarness.Request($"p{i}", prompts[i], 24));
        }
        var expected = EngineHarness.Run(roomy).Tokens;
        var actual = EngineHarness.Run(tight).Tokens;
        Assert.True(tight.Snapshot().PreemptionCount > 0, "16 blocks of 4 tokens for four ~36-token requests must preempt");
        for (var i = 0; i < prompts.Length; i++)
            Assert.Equal(expected[$"p{i}"], actual[$"p{i}"]);
        Assert.Equal(0, tight.Snapshot().UsedKvBlocks);
    }

    [Fact]
    public void Sampling_SameSeed_Reproduces()
    {
        var prompt = EngineHarness.Prompt(9, seed: 6);
        List<int> Run(long seed)
        {
            using var engine = _h.NewEngine();
            engine.Add(EngineHarness.Request("s", prompt, 15, temperature: 1.5f, seed: seed));
            return EngineHarness.Run(engine).Tokens["s"];
        }
        Assert.Equal(Run(11), Run(11));
        Assert.NotEqual(Run(11), Run(12));
    }

    [Fact]
    public void Abort_Running_FreesEveryBlock()
    {
        using var engine = _h.NewEngine();
        engine.Add(EngineHarness.Request("a", EngineHarness.Prompt(30, 7), 50));
        engine.ComputeStep();
        engine.ComputeStep();
        Assert.True(engine.Snapshot().UsedKvBlocks > 0);
        Assert.True(engine.Abort("a"));
        Assert.Equal(0, engine.Snapshot().UsedKvBlocks);
        Assert.False(engine.HasWork);
    }

    [Fact]
    public void OnTheCpu_KernelsDeclineWithTheReason_AndTheEngineRunsEager()
    {
        var kernels = ControlPlane.Engine.Cuda.CudaKernels.TryCreate(_h.Weights.Config, 4, TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU, out var reason);
        Assert.Null(kernels);
        Assert.Contains("not on a CUDA device", reason, StringComparison.Ordinal);
        using var engine = _h.NewEngine();
        Assert.Equal("eager (the model is not on a CUDA device)", engine.Acceleration);
        Assert.Equal(256, engine.Descriptor.TotalKvBlocks); // no scratch block is taken from the pool without graphs
    }

    [Fact]
    public void Tokenizer_RoundTripsText()
    {
        var ids = _h.Tokenizer.Encode("Hello, wörld!");
        Assert.Equal("Hello, wörld!", _h.Tokenizer.Decode(ids));
        Assert.Equal([TinyModel.EosId], _h.Tokenizer.EndOfSequenceTokenIds);
    }
}

public sealed class EngineHarnessFixture : IDisposable
{
    public EngineHarness Harness { get; } = new();

    public void Dispose() => Harness.Dispose();
}
