using System.Text;
using ControlPlane.LoadGen.Prompts;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.LoadGen.Tests.Prompts;

public class PromptBuilderTests
{
    private readonly PromptBuilder _builder = new(SimulatedTokenizer.Instance);

    [Fact]
    public void Build_TraceLengths_AreWithinOneTokenOfTheTarget()
    {
        var trace = TraceFiles.Read(Bundled.AzureConversation).Take(300).ToArray();
        for (var i = 0; i < trace.Length; i++)
        {
            var count = _builder.Count(_builder.Build(trace[i], i));
            Assert.True(Math.Abs(count - trace[i].InputTokens) <= 1, $"request {i}: wanted {trace[i].InputTokens} tokens, got {count}");
        }
    }

    [Fact]
    public void Build_SharedHashIds_GiveByteIdenticalPrefixes()
    {
        var a = new TraceRequest(0, 3 * 512 + 100, 10, [0, 7, 8, 9]);
        var b = new TraceRequest(0, 2 * 512 + 300, 10, [0, 7, 11]);
        var c = new TraceRequest(0, 2 * 512 + 300, 10, [0, 12, 13]);
        var pa = Encoding.UTF8.GetBytes(_builder.Build(a, 1));
        var pb = Encoding.UTF8.GetBytes(_builder.Build(b, 2));
        var pc = Encoding.UTF8.GetBytes(_builder.Build(c, 3));
        var twoBlocks = Encoding.UTF8.GetByteCount(_builder.Build(new TraceRequest(0, 1024, 1, [0, 7]), 4));
        Assert.Equal(pa.AsSpan(0, twoBlocks).ToArray(), pb.AsSpan(0, twoBlocks).ToArray());
        var oneBlock = Encoding.UTF8.GetByteCount(_builder.Build(new TraceRequest(0, 512, 1, [0]), 5));
        Assert.Equal(pa.AsSpan(0, oneBlock).ToArray(), pc.AsSpan(0, oneBlock).ToArray());
        Assert.NotEqual(pa.AsSpan(oneBlock, 200).ToArray(), pc.AsSpan(oneBlock, 200).ToArray());
    }

    [Fact]
    public void Build_MooncakeSlice_LengthsExactAndBlockZeroShared()
    {
        var trace = TraceFiles.Read(Bundled.Mooncake).Take(40).ToArray();
        var prompts = trace.Select((r, i) => _builder.Build(r, i)).ToArray();
        for (var i = 0; i < trace.Length; i++)
            Assert.True(Math.Abs(_builder.Count(prompts[i]) - trace[i].InputTokens) <= 1, $"request {i}");
        var block0 = prompts[0][..Encoding.UTF8.GetByteCount(_builder.Build(new TraceRequest(0, 512, 1, [0]), 0))];
        Assert.All(prompts, p => Assert.StartsWith(block0, p, StringComparison.Ordinal));
    }
}
