using System.Text.Json;

namespace ControlPlane.Engine.Core.Tests.Scheduling;

public sealed class StepLogTests
{
    [Fact]
    public void Write_DecodesAndChunks_OneJsonLineAStepWithContextsAndOffsets()
    {
        var h = new CoreHarness(maxBatchedTokens: 8);
        h.Engine.Add(CoreHarness.Request("a", promptTokens: 5, maxTokens: 6));
        h.Step(); // a's prompt, its first token
        h.Engine.Add(CoreHarness.Request("b", promptTokens: 13, maxTokens: 2, seed: 1)); // another prompt: nothing cached
        h.RunToEnd();
        var path = Path.Combine(Path.GetTempPath(), $"steplog-{Guid.NewGuid():N}.jsonl");
        try
        {
            var log = StepLog.Open(path)!;
            var start = new DateTimeOffset(2026, 12, 6, 21, 0, 0, TimeSpan.Zero).AddTicks(2_500); // a quarter of a millisecond past
            foreach (var (plan, i) in h.Runner.Plans.Select((p, i) => (p, i)))
                log.Write(plan.Chunks, graph: false, TimeSpan.FromMilliseconds(1.5), i == 0 ? null : start.AddMilliseconds(2 * i));
            var lines = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.Equal(h.Runner.Plans.Count, lines.Length);
            // Step 2: a decodes its second token (context 6) while b's first chunk (7 of 13 tokens from 0) fills the budget.
            var second = lines[1];
            Assert.Equal(1.5, second.GetProperty("ms").GetDouble());
            // A start time, when given, in Unix milliseconds to the microsecond (the host's time between steps shows).
            Assert.False(lines[0].TryGetProperty("t", out _));
            Assert.Equal((start - DateTimeOffset.UnixEpoch).TotalMilliseconds + 2, second.GetProperty("t").GetDouble(), 3);
            Assert.Equal(2.0, lines[2].GetProperty("t").GetDouble() - second.GetProperty("t").GetDouble(), 3);
            Assert.False(second.GetProperty("graph").GetBoolean());
            Assert.Equal([6], second.GetProperty("decodes").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal([[7, 0]], second.GetProperty("prefill").EnumerateArray().Select(c => c.EnumerateArray().Select(e => e.GetInt32()).ToArray()));
            // Step 3: b's second chunk continues at offset 7.
            Assert.Contains(lines[2].GetProperty("prefill").EnumerateArray(), c => c[0].GetInt32() == 6 && c[1].GetInt32() == 7);
            // Every chunk of every plan is in its line, as a decode or as a prefill chunk.
            foreach (var (plan, line) in h.Runner.Plans.Zip(lines))
                Assert.Equal(plan.Chunks.Count, line.GetProperty("decodes").GetArrayLength() + line.GetProperty("prefill").GetArrayLength());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Open_NoPathAndNoVariable_IsNull()
    {
        if (Environment.GetEnvironmentVariable(StepLog.Variable) is { Length: > 0 })
            return; // a run that logs steps on purpose
        Assert.Null(StepLog.Open());
    }
}
