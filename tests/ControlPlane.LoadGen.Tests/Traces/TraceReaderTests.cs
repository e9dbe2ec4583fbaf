using ControlPlane.LoadGen.Traces;

namespace ControlPlane.LoadGen.Tests.Traces;

public class TraceReaderTests
{
    [Fact]
    public void Azure_ConversationTrace_HasEveryRowWithLengthsAndRelativeTimes()
    {
        var trace = TraceFiles.Read(Bundled.AzureConversation, TraceFormat.Azure);
        Assert.Equal(19_366, trace.Count);
        Assert.Equal(new TraceRequest(0, 374, 44), trace[0]);
        Assert.Equal(396, trace[1].InputTokens);
        Assert.Equal(4314.579, trace[1].ArrivalMs, 3); // 18:15:50.9951690 − 18:15:46.6805900
        var last = trace[^1];
        Assert.Equal((197, 183), (last.InputTokens, last.OutputTokens));
        Assert.Equal(new TimeSpan(0, 58, 21).TotalMilliseconds + 721.937, last.ArrivalMs, 3); // 19:14:08.4025270
        Assert.Equal(1155, trace.Average(r => r.InputTokens), 0);
    }

    [Fact]
    public void Azure_CodeTrace_Has8819Rows()
    {
        var trace = TraceFiles.Read(Bundled.AzureCode);
        Assert.Equal(8_819, trace.Count);
        Assert.Equal(0, trace[0].ArrivalMs);
        Assert.Equal(2048, trace.Average(r => r.InputTokens), 0);
    }

    [Fact]
    public void Mooncake_Slice_ReadsHashIdsAndSpreadsBuckets()
    {
        var raw = TraceFiles.Read(Bundled.Mooncake, TraceFormat.Mooncake, mooncakeBucketMs: 0);
        Assert.Equal(1000, raw.Count);
        Assert.Equal((0.0, 6758, 500), (raw[0].ArrivalMs, raw[0].InputTokens, raw[0].OutputTokens));
        Assert.Equal(Enumerable.Range(0, 14), raw[0].HashIds!);
        Assert.All(raw, r => Assert.Equal(0, r.HashIds![0])); // block 0 is shared by every request
        Assert.All(raw, r => Assert.InRange(r.HashIds!.Count, (r.InputTokens + 511) / 512, (r.InputTokens + 511) / 512));

        var spread = TraceFiles.Read(Bundled.Mooncake, TraceFormat.Mooncake, mooncakeBucketMs: 3000);
        var firstBucket = spread.Where((r, i) => raw[i].ArrivalMs == 0).Select(r => r.ArrivalMs).ToArray();
        Assert.True(firstBucket.Length > 1);
        Assert.Equal(firstBucket.Distinct().Count(), firstBucket.Length);
        Assert.All(firstBucket, t => Assert.InRange(t, 0, 3000));
    }

    [Fact]
    public void BurstGpt_Sample_ReadsSecondsAsMillisecondsAndKeepsFailedRows()
    {
        var trace = TraceFiles.Read(Bundled.BurstGpt);
        Assert.Equal(20, trace.Count);
        Assert.Equal(0, trace[0].ArrivalMs);
        Assert.Equal((637, 404), (trace[0].InputTokens, trace[0].OutputTokens));
        Assert.Equal(1, trace.Min(r => r.OutputTokens)); // a row with 0 response tokens replays as a 1-token answer
        Assert.True(trace.Zip(trace.Skip(1)).All(p => p.First.ArrivalMs <= p.Second.ArrivalMs));
    }

    [Fact]
    public void Azure_MalformedLine_NamesTheLine()
    {
        var ex = Assert.Throws<InvalidDataException>(() => AzureTraceReader.Read(new StringReader("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,2\nnot,a,row\n")));
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void Mixed_ConversationAndCode_HoldsEveryRequestOfBothInArrivalOrder()
    {
        var conversation = TraceFiles.Read(Bundled.AzureConversation);
        var code = TraceFiles.Read(Bundled.AzureCode);
        var mixed = TraceFiles.ReadMixed([Bundled.AzureConversation, Bundled.AzureCode]);
        Assert.Equal(conversation.Count + code.Count, mixed.Count);
        Assert.True(mixed.Zip(mixed.Skip(1)).All(p => p.First.ArrivalMs <= p.Second.ArrivalMs));
        Assert.Equal(conversation.Sum(r => (long)r.InputTokens) + code.Sum(r => (long)r.InputTokens), mixed.Sum(r => (long)r.InputTokens));
    }
}
