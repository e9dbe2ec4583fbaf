using ControlPlane.Server.Hosting;
using Orleans.Storage;

namespace ControlPlane.Server.Tests.Hosting;

public class ExpiringMemoryGrainStorageTests
{
    private sealed class JsonSerializer : IGrainStorageSerializer
    {
        public BinaryData Serialize<T>(T? input) => BinaryData.FromObjectAsJson(input);
        public T Deserialize<T>(BinaryData input) => input.ToObjectFromJson<T>()!;
    }

    private sealed record State
    {
        public int Value { get; init; }
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
        public void Advance(TimeSpan by) => now += by;
    }

    [Fact]
    public async Task Records_ExpireAfterTheirLastWrite_AndTheOldestGoPastTheCap()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch);
        var storage = new ExpiringMemoryGrainStorage(new JsonSerializer(), time, TimeSpan.FromMinutes(10), maxEntries: 3);
        GrainState<State> Write(string key, int value)
        {
            var state = new GrainState<State>(new State { Value = value });
            storage.WriteStateAsync("s", GrainId.Create("request", key), state).GetAwaiter().GetResult();
            return state;
        }
        async Task<GrainState<State>> Read(string key)
        {
            var state = new GrainState<State>();
            await storage.ReadStateAsync("s", GrainId.Create("request", key), state);
            return state;
        }

        Write("a", 1);
        time.Advance(TimeSpan.FromMinutes(6));
        var b = Write("b", 2);
        Assert.Equal(1, (await Read("a")).State!.Value);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False((await Read("a")).RecordExists); // ten minutes after its write
        Assert.True((await Read("b")).RecordExists);
        // A write renews a record.
        b.State = new State { Value = 22 };
        await storage.WriteStateAsync("s", GrainId.Create("request", "b"), b);
        time.Advance(TimeSpan.FromMinutes(7));
        Assert.Equal(22, (await Read("b")).State!.Value);
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.False((await Read("b")).RecordExists);
        Write("a", 1);
        // A stale etag is refused, as Orleans' storages do.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", GrainId.Create("request", "a"), new GrainState<State>(new State { Value = 0 })));
        // Past the cap the records written longest ago go first.
        Write("c", 3);
        Write("d", 4);
        Write("e", 5);
        Assert.Equal(3, storage.Count);
        Assert.False((await Read("a")).RecordExists);
        Assert.True((await Read("e")).RecordExists);
    }
}
