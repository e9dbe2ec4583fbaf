using System.Globalization;
using System.Text.Json;

namespace ControlPlane.Testing.Cluster;

/// <summary>
/// A cluster as the chart deploys it, on loopback: a real redis-server, one control process
/// (<c>ControlPlane.Server</c>, role control) and worker processes (<c>ControlPlane.Worker</c>, role worker)
/// each running simulated engines, joined through Orleans' Redis clustering. Every process reads one
/// settings file, as pods read one ConfigMap.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public const string Model = "sim";
    private readonly string _directory;
    private readonly Dictionary<string, string> _settings;

    private LocalCluster(RedisServer redis, string directory, Dictionary<string, string> settings, ClusterOptions options)
    {
        Options = options;
        Redis = redis;
        _directory = directory;
        _settings = settings;
    }

    public RedisServer Redis { get; }
    public ClusterOptions Options { get; }
    public SiloProcess Control { get; private set; } = null!;
    public List<SiloProcess> Workers { get; } = [];
    public string SettingsFile => Path.Combine(_directory, "settings.json");

    /// <summary>Starts Redis, the control process and the workers, and waits until all are ready.</summary>
    public static async Task<LocalCluster> StartAsync(ClusterOptions? options = null)
    {
        options ??= new ClusterOptions();
        var directory = Directory.CreateTempSubdirectory("controlplane-cluster-").FullName;
        var redis = await RedisServer.StartAsync(dataDirectory: directory);
        var cluster = new LocalCluster(redis, directory, new Dictionary<string, string>(), options);
        await File.WriteAllTextAsync(cluster.SettingsFile, Settings(options, redis, Path.GetFileName(directory), Path.Combine(directory, "profile.json")));
        await File.WriteAllTextAsync(Path.Combine(directory, "profile.json"), Profile(options.StepMilliseconds, options.PrefillMsPerToken));
        try
        {
            cluster.Control = SiloProcess.Start("control-0", Binaries.Server, cluster.SettingsFile, new Dictionary<string, string> { ["ControlPlane:Cluster:Roles"] = "control" });
            for (var i = 0; i < options.Workers; i++)
                cluster.Workers.Add(cluster.StartWorker($"worker-{i}"));
            await Task.WhenAll([cluster.Control.WaitReadyAsync(options.StartTimeout), .. cluster.Workers.Select(w => w.WaitReadyAsync(options.StartTimeout))]);
            await cluster.WaitForInstancesAsync(options.Workers * options.InstancesPerWorker, options.StartTimeout);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts a worker process with the pod name given (a restart keeps its name, so its instance ids); <paramref name="extra"/>
    /// settings for it alone (another model, say, that the control process was not configured with).
    /// </summary>
    public SiloProcess StartWorker(string pod, int? siloPort = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string> { ["ControlPlane:Cluster:Roles"] = "worker" };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            settings[key] = value;
        var index = int.TryParse(pod.AsSpan(pod.LastIndexOf('-') + 1), CultureInfo.InvariantCulture, out var i) ? i : -1;
        if (index >= 0 && index < Options.WorkerRoles.Count)
            settings["ControlPlane:Models:0:Role"] = Options.WorkerRoles[index];
        return SiloProcess.Start(pod, Binaries.Worker, SettingsFile, settings, siloPort);
    }

    /// <summary>Waits until the control process's scheduler lists <paramref name="count"/> ready instances (from <c>/admin/instances</c>).</summary>
    public Task WaitForInstancesAsync(int count, TimeSpan timeout) => WaitForAsync(
        data => data.Count(i => i.GetProperty("health").GetString() == "ready") >= count, $"{count} ready instances", timeout);

    /// <summary>Waits until the scheduler reports <paramref name="instanceId"/> in <paramref name="role"/> (from its load reports).</summary>
    public Task WaitForRoleAsync(string instanceId, string role, TimeSpan timeout) => WaitForAsync(
        data => data.Any(i => i.GetProperty("id").GetString() == instanceId && i.GetProperty("role").GetString() == role), $"{instanceId} in role {role}", timeout);

    /// <summary>Moves an instance to another role by the admin endpoint, and waits until the scheduler sees it.</summary>
    public async Task SetRoleAsync(string instanceId, string role)
    {
        using var http = new HttpClient { BaseAddress = Control.BaseAddress };
        using var response = await http.PostAsync(new Uri($"admin/models/{Model}/roles?instance={Uri.EscapeDataString(instanceId)}&role={role}", UriKind.Relative), null);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"setting the role answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await WaitForRoleAsync(instanceId, role, TimeSpan.FromSeconds(10));
    }

    /// <summary>Waits until the scheduler lists exactly <paramref name="count"/> instances, all ready: a killed worker's are gone from dispatch.</summary>
    public Task WaitForExactlyAsync(int count, TimeSpan timeout) => WaitForAsync(
        data => data.Count == count && data.All(i => i.GetProperty("health").GetString() == "ready"), $"exactly {count} ready instances", timeout);

    /// <summary>
    /// Waits until the scheduler sees every instance idle: a burst sent right after another would otherwise be
    /// dispatched on loads that still show the last one (reports are up to a period old).
    /// </summary>
    public Task WaitForIdleAsync(TimeSpan timeout) => WaitForAsync(
        data => data.All(i => i.GetProperty("running").GetInt32() == 0 && i.GetProperty("waiting").GetInt32() == 0), "every instance idle", timeout);

    /// <summary>Waits until no instance holds a request or a KV block (nothing leaked anywhere).</summary>
    public Task WaitForNoKvAsync(TimeSpan timeout) => WaitForAsync(
        data => data.All(i => i.GetProperty("running").GetInt32() == 0 && i.GetProperty("waiting").GetInt32() == 0 && i.GetProperty("kv_blocks_used").GetInt32() == 0),
        "every instance idle with no KV block in use", timeout);

    /// <summary>The model's instances as the scheduler sees them: id, pod, running requests.</summary>
    public async Task<IReadOnlyList<(string Id, string Pod, int Running)>> InstancesAsync()
    {
        using var http = new HttpClient { BaseAddress = Control.BaseAddress };
        using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri($"admin/models/{Model}/instances", UriKind.Relative)));
        return [.. json.RootElement.GetProperty("data").EnumerateArray()
            .Select(i => (i.GetProperty("id").GetString()!, i.GetProperty("pod").GetString()!, i.GetProperty("running").GetInt32()))];
    }

    private async Task WaitForAsync(Func<IReadOnlyList<JsonElement>, bool> done, string what, TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = Control.BaseAddress };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var last = "";
        while (watch.Elapsed < timeout)
        {
            try
            {
                last = await http.GetStringAsync(new Uri($"admin/models/{Model}/instances", UriKind.Relative));
                using var json = JsonDocument.Parse(last);
                if (done([.. json.RootElement.GetProperty("data").EnumerateArray()]))
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"the scheduler did not show {what} within {timeout}; last: {last}\n{Control.RecentOutput}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Control is not null)
            await Control.DisposeAsync();
        foreach (var worker in Workers)
            await worker.DisposeAsync();
        await Redis.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Settings(ClusterOptions options, RedisServer redis, string clusterId, string profile) => JsonSerializer.Serialize(new
    {
        Logging = new { LogLevel = new Dictionary<string, string> { ["Default"] = "Warning", ["Orleans"] = "Error", ["ControlPlane"] = "Information" } },
        ControlPlane = new
        {
            Cluster = new
            {
                Mode = "Redis",
                Redis = redis.Configuration,
                ClusterId = clusterId,
                ServiceId = clusterId,
                ProbeTimeout = options.ProbeTimeout.ToString("c", CultureInfo.InvariantCulture),
                options.MissedProbesLimit,
            },
            Worker = new { DrainTimeout = options.DrainTimeout.ToString("c", CultureInfo.InvariantCulture) },
            Migration = new { Enabled = options.MigrationPlanner },
            Disaggregation = new { MinPromptTokens = options.SplitPromptTokens },
            Dispatch = new { Policy = options.DispatchPolicy ?? Scheduling.Dispatch.DispatchConfig.DefaultPolicy },
            KvCache = new { IndexShards = options.KvIndexShards ?? new Scheduling.KvCache.KvCacheConfig().IndexShards },
            Models = new object[]
            {
                options.TinyTorch
                    ? new { Name = Model, Engine = "torchsharp", Instances = options.InstancesPerWorker, Path = "builtin:tiny-random", MaxContextTokens = 1024, KvBlocks = 256,
                        options.MaxBatchedTokens }
                    : new { Name = Model, Engine = "simulated", Instances = options.InstancesPerWorker, Profile = profile, MaxContextTokens = 2048, KvBlocks = 1024 },
            },
        },
    });

    private static string Profile(double stepMilliseconds, double prefillMsPerToken) => $$"""
        {
          "name": "cluster-test", "provenance": "made up for tests: steps of {{stepMilliseconds}} ms so streams last seconds",
          "stepOverheadMs": {{stepMilliseconds.ToString(CultureInfo.InvariantCulture)}}, "prefillMsPerToken": {{prefillMsPerToken.ToString(CultureInfo.InvariantCulture)}}, "decodeMsPerSequence": 0.01, "msPerContextToken": 0,
          "kvBlockSize": 16, "totalKvBlocks": 1024, "maxContextTokens": 2048, "maxBatchedTokens": 2048, "maxRunningRequests": 128
        }
        """;
}
