using System.Diagnostics;
// DecodeGraphs.Stage's loop (the engine's, copied here with its scratch block fixed): bucket x (4 + blocks) integers from
// per-row block lists, once a "step", with a 7 ms sleep for the GPU's step between calls; per-call time by phase.
var bucket = 32; var blocks = 64;
var tables = Enumerable.Range(0, bucket).Select(i => Enumerable.Range(i * 40, 33).ToList()).ToList();
long[] tokens = new long[bucket], positions = new long[bucket], slots = new long[bucket], lengths = new long[bucket];
var host = new long[bucket * (4 + blocks)];
var step = 0;
foreach (var phase in new[] { 5, 30, 60, 200, 2000 })
{
    var best = double.MaxValue; var sum = 0.0;
    for (var i = 0; i < phase; i++, step++)
    {
        var t = Stopwatch.GetTimestamp();
        Stage(bucket, blocks, tokens, positions, slots, lengths, tables, host);
        var us = Stopwatch.GetElapsedTime(t).TotalMicroseconds;
        sum += us; best = Math.Min(best, us);
        Thread.Sleep(TimeSpan.FromMilliseconds(7)); // a GPU step
        if (i % 10 == 0) { var m = typeof(Program).GetMethods(); } // some other activity
    }
    Console.WriteLine($"calls {step - phase}..{step}: mean {sum / phase:F1} us, best {best:F1} us");
}
static void Stage(int bucket, int blocks, long[] tokens, long[] positions, long[] slots, long[] lengths, IReadOnlyList<List<int>> tables, Span<long> host)
{
    var scratchSlot = 7L * 16;
    for (var i = 0; i < bucket; i++)
    {
        var real = i < tokens.Length;
        host[i] = real ? tokens[i] : 0;
        host[bucket + i] = real ? positions[i] : 0;
        host[2 * bucket + i] = real ? slots[i] : scratchSlot;
        host[3 * bucket + i] = real ? lengths[i] : 1;
        var row = 4 * bucket + i * blocks;
        var table = real ? tables[i] : [];
        for (var j = 0; j < blocks; j++)
            host[row + j] = j < table.Count ? table[j] : 7;
    }
}
