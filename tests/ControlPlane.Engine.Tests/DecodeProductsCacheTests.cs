using System.Text.Json;
using ControlPlane.Engine.Cuda;

namespace ControlPlane.Engine.Tests;

/// <summary>The measured products' choices file: kept per device, merged between writers, never fatal when unreadable.</summary>
public sealed class DecodeProductsCacheTests : IDisposable
{
    private const string H100 = "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, cuBLASLt 120804, BFloat16";
    private const string H200 = "NVIDIA H200, sm_90, 132 SMs, cuBLASLt 120804, BFloat16";
    private readonly string _folder = Directory.CreateTempSubdirectory("decode-products-").FullName;

    private string File(string name = "decode-products.json") => Path.Combine(_folder, name);

    private static DecodeProductsCache.Entry Chosen(int rows, string algorithm = "AQIDBA==") =>
        new(rows, 4096, 14336, true, algorithm, 46.4, 43.2, "lt algo 66 tile 312", 334, 0);

    private static DecodeProductsCache.Entry Kept(int rows) =>
        new(rows, 6144, 4096, false, null, 22.6, double.NaN, "torch kept", 185, 0);

    [Fact]
    public void SaveThenOpen_SameDevice_ReturnsEachShapesChoice_AnotherDeviceSeesNone()
    {
        var cache = DecodeProductsCache.Open(File(), H100);
        cache.Add(Chosen(32));
        cache.Add(Kept(64));
        cache.Save();
        Assert.Null(cache.Error);

        var again = DecodeProductsCache.Open(File(), H100);
        Assert.Equal(2, again.Count);
        Assert.True(again.TryGet(32, 4096, 14336, true, out var chosen));
        Assert.Equal(Chosen(32), chosen);
        Assert.True(again.TryGet(64, 6144, 4096, false, out var kept));
        Assert.Null(kept.Algorithm);
        Assert.True(double.IsNaN(kept.ChosenMicroseconds));
        Assert.False(again.TryGet(64, 6144, 4096, true, out _)); // the residual's product is another shape
        Assert.Equal(0, DecodeProductsCache.Open(File(), H200).Count);
    }

    [Fact]
    public void Save_KeepsOtherDevicesEntries_AndWhatAnotherProcessWroteSinceThisOneRead()
    {
        var first = DecodeProductsCache.Open(File(), H100);
        var second = DecodeProductsCache.Open(File(), H100);
        var other = DecodeProductsCache.Open(File(), H200);
        first.Add(Chosen(8));
        first.Save();
        other.Add(Chosen(8, "BQYHCA=="));
        other.Save();
        second.Add(Chosen(8, "CQoLDA==")); // the same shape again: the later writer's choice
        second.Add(Chosen(16));
        second.Save();

        var h100 = DecodeProductsCache.Open(File(), H100);
        Assert.Equal(2, h100.Count);
        Assert.True(h100.TryGet(8, 4096, 14336, true, out var eight));
        Assert.Equal("CQoLDA==", eight.Algorithm);
        Assert.True(DecodeProductsCache.Open(File(), H200).TryGet(8, 4096, 14336, true, out var h200));
        Assert.Equal("BQYHCA==", h200.Algorithm);
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public void Open_CorruptOrOtherVersionFile_IsEmptyWithTheReason_AndTheNextSaveReplacesIt()
    {
        System.IO.File.WriteAllText(File(), "{ not json");
        var corrupt = DecodeProductsCache.Open(File(), H100);
        Assert.Equal(0, corrupt.Count);
        Assert.Contains("could not read", corrupt.Error);
        corrupt.Add(Chosen(32));
        corrupt.Save();
        Assert.Null(corrupt.Error);
        Assert.Equal(1, DecodeProductsCache.Open(File(), H100).Count);

        System.IO.File.WriteAllText(File("old.json"), """{ "version": 0, "devices": { "x": [] } }""");
        var old = DecodeProductsCache.Open(File("old.json"), "x");
        Assert.Equal(0, old.Count);
        Assert.Contains("not a version 1", old.Error);
    }

    [Fact]
    public void Save_ManyWritersAtOnce_TakeTurns_AndNoEntryIsLost()
    {
        // Sixteen writers (engines of one process, or processes sharing the file) each saving their own shape at the same
        // moment, three rounds: without the lock, read-merge-rename by two at once drops one's entry.
        const int Writers = 16;
        var caches = Enumerable.Range(1, Writers).Select(_ => DecodeProductsCache.Open(File(), H100)).ToArray();
        for (var round = 0; round < 3; round++)
        {
            using var start = new Barrier(Writers);
            var r = round;
            // Threads of their own (the pool would add its threads one by one while the barrier waits for all).
            var threads = Enumerable.Range(0, Writers).Select(i => new Thread(() =>
            {
                caches[i].Add(Chosen(100 * r + i + 1));
                start.SignalAndWait();
                caches[i].Save();
            })).ToArray();
            foreach (var thread in threads)
                thread.Start();
            foreach (var thread in threads)
                thread.Join();
            Assert.All(caches, c => Assert.Null(c.Error));
        }

        var all = DecodeProductsCache.Open(File(), H100);
        Assert.Equal(3 * Writers, all.Count);
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public async Task Save_WhileAnotherWriterHoldsTheLock_WaitsForIt_AndGivesUpWithTheReasonAfterLockWait()
    {
        var cache = DecodeProductsCache.Open(File(), H100);
        cache.Add(Chosen(32));
        var held = new FileStream(File() + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

        cache.LockWait = TimeSpan.FromMilliseconds(200);
        cache.Save();
        Assert.Contains("another writer held", cache.Error);
        Assert.False(System.IO.File.Exists(File()));

        // Released while the next save waits: that save goes through.
        cache.LockWait = TimeSpan.FromSeconds(30);
        var release = Task.Run(async () => { await Task.Delay(300); held.Dispose(); });
        cache.Save();
        await release;
        Assert.Null(cache.Error);
        Assert.Equal(1, DecodeProductsCache.Open(File(), H100).Count);
    }

    [Fact]
    public void Save_WhereTheFileCannotBeWritten_KeepsTheErrorAndTheEntries_WithoutThrowing()
    {
        var blocker = File("not-a-folder");
        System.IO.File.WriteAllText(blocker, "");
        var cache = DecodeProductsCache.Open(Path.Combine(blocker, "decode-products.json"), H100);
        cache.Add(Chosen(32));

        cache.Save();

        Assert.Contains("could not write", cache.Error);
        Assert.True(cache.TryGet(32, 4096, 14336, true, out _));
    }

    [Fact]
    public void Save_WritesAVersionedFileKeyedByDevice()
    {
        var cache = DecodeProductsCache.Open(File("sub/dir/products.json"), H100);
        cache.Add(Kept(1));
        cache.Save();

        using var json = JsonDocument.Parse(System.IO.File.ReadAllText(File("sub/dir/products.json")));
        Assert.Equal(DecodeProductsCache.FormatVersion, json.RootElement.GetProperty("version").GetInt32());
        var entry = Assert.Single(json.RootElement.GetProperty("devices").GetProperty(H100).EnumerateArray());
        Assert.Equal(1, entry.GetProperty("rows").GetInt32());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("algorithm").ValueKind);
    }

    [Fact]
    public void Algorithm_DecodedAndEncoded_IsTheSame64Bytes_AndOtherTextIsRefused()
    {
        var bytes = Enumerable.Range(1, 64).Select(i => (byte)(i * 37)).ToArray();
        var text = Convert.ToBase64String(bytes);

        Assert.True(DecodeProducts.TryDecode(text, out var algo));
        Assert.Equal(text, DecodeProducts.Encode(algo));
        Assert.False(DecodeProducts.TryDecode("AQIDBA==", out _)); // 4 bytes, not 64
        Assert.False(DecodeProducts.TryDecode(Convert.ToBase64String(new byte[65]), out _));
        Assert.False(DecodeProducts.TryDecode("not base64!", out _));
    }

    [Fact]
    public void DefaultPath_FollowsXdgCacheHome()
    {
        var before = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", _folder);
            Assert.Equal(Path.Combine(_folder, "controlplane", "decode-products.json"), DecodeProductsCache.DefaultPath());
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", before);
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
