using System.Text.Json;
using System.Text.Json.Serialization;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// What <see cref="DecodeProducts"/>' search chose for each product shape, kept in a JSON file across starts, so that only
/// the first start on a kind of GPU pays for the search (about 2.4 s a batch bucket on an H100). Entries are kept per device key (the
/// GPU's name, compute capability and multiprocessors, cuBLASLt's version, the data type): cuBLASLt documents its
/// algorithm structure as serializable for reuse with the same library version. A chosen algorithm read back is checked
/// again before use (<see cref="DecodeProducts"/>: cuBLASLt accepts it, its values equal libtorch's to bf16 rounding, the
/// same bits twice) and searched for afresh where it fails. Reading or writing the file never stops the engine: an error
/// is kept in <see cref="Error"/> and the search runs as without a cache.
/// </summary>
public sealed class DecodeProductsCache
{
    /// <summary>The file's format; a file of another version is read as empty and replaced on the next save.</summary>
    public const int FormatVersion = 1;

    /// <summary>
    /// One shape's choice: rows × outputs × inputs (with the residual added or not), the algorithm as the base64 of its 64
    /// bytes (null: libtorch's product kept), the times measured when it was chosen (µs a call) and how.
    /// </summary>
    public sealed record Entry(int Rows, int Outputs, int Inputs, bool Accumulate, string? Algorithm, double TorchMicroseconds,
        double ChosenMicroseconds, string Description, int Candidates, int Rejected);

    private sealed record FileModel(int Version, Dictionary<string, List<Entry>> Devices);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    private readonly Dictionary<(int Rows, int Outputs, int Inputs, bool Accumulate), Entry> _entries = [];

    private DecodeProductsCache(string path, string deviceKey)
    {
        Path = path;
        DeviceKey = deviceKey;
    }

    public string Path { get; }
    public string DeviceKey { get; }

    /// <summary>The last failure to read or write the file (the cache then holds what this process measured); null if none.</summary>
    public string? Error { get; private set; }

    /// <summary>Entries held for this device.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// The default file: <c>$XDG_CACHE_HOME/controlplane/decode-products.json</c>, else <c>~/.cache/controlplane/…</c>;
    /// null where neither is set.
    /// </summary>
    public static string? DefaultPath()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home))
                return null;
            root = System.IO.Path.Combine(home, ".cache");
        }
        return System.IO.Path.Combine(root, "controlplane", "decode-products.json");
    }

    /// <summary>The cache at <paramref name="path"/> with this device's entries loaded (none where the file is missing or unreadable).</summary>
    public static DecodeProductsCache Open(string path, string deviceKey)
    {
        var cache = new DecodeProductsCache(path, deviceKey);
        var (file, error) = Read(path);
        cache.Error = error;
        if (file?.Devices.GetValueOrDefault(deviceKey) is { } entries)
            foreach (var entry in entries)
                cache._entries[(entry.Rows, entry.Outputs, entry.Inputs, entry.Accumulate)] = entry;
        return cache;
    }

    public bool TryGet(int rows, int outputs, int inputs, bool accumulate, out Entry entry) =>
        _entries.TryGetValue((rows, outputs, inputs, accumulate), out entry!);

    /// <summary>Holds <paramref name="entry"/> for this device (in memory until <see cref="Save"/>), replacing one of the same shape.</summary>
    public void Add(Entry entry) => _entries[(entry.Rows, entry.Outputs, entry.Inputs, entry.Accumulate)] = entry;

    /// <summary>How long <see cref="Save"/> waits for another writer's lock before giving up (the save's error says so).</summary>
    public TimeSpan LockWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Writes this device's entries into the file, keeping other devices' and the entries another writer saved since this
    /// one read it (this one's win for the same shape); written to a temporary file and renamed over the old one. Writers
    /// (engines of one process, processes sharing the file) take turns through an exclusive lock on
    /// <c>&lt;file&gt;.lock</c> (flock on Linux: released when its holder exits, so a crashed writer leaves no stale lock).
    /// </summary>
    public void Save()
    {
        var temporary = $"{Path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) is { Length: > 0 } directory)
                Directory.CreateDirectory(directory);
            using var turn = Lock();
            var (file, _) = Read(Path);
            var devices = file?.Devices ?? [];
            var merged = new Dictionary<(int, int, int, bool), Entry>();
            foreach (var entry in devices.GetValueOrDefault(DeviceKey) ?? [])
                merged[(entry.Rows, entry.Outputs, entry.Inputs, entry.Accumulate)] = entry;
            foreach (var (key, entry) in _entries)
                merged[key] = entry;
            devices[DeviceKey] = [.. merged.Values.OrderBy(e => e.Rows).ThenBy(e => e.Outputs).ThenBy(e => e.Inputs).ThenBy(e => e.Accumulate)];
            File.WriteAllText(temporary, JsonSerializer.Serialize(new FileModel(FormatVersion, devices), Json));
            File.Move(temporary, Path, overwrite: true);
            Error = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            Error = $"could not write {Path}: {e.Message}";
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // Nothing more to do: the error above is what the caller needs to know.
            }
        }
    }

    /// <summary>The writers' lock: <c>&lt;file&gt;.lock</c> opened unshared, retried until <see cref="LockWait"/> has passed.</summary>
    private FileStream Lock()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return new FileStream($"{Path}.lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(started) >= LockWait)
                    throw new IOException($"another writer held {Path}.lock for {LockWait.TotalSeconds:0} s", e);
                Thread.Sleep(10);
            }
        }
    }

    private static (FileModel? File, string? Error) Read(string path)
    {
        try
        {
            if (!File.Exists(path))
                return (null, null);
            var file = JsonSerializer.Deserialize<FileModel>(File.ReadAllText(path), Json);
            if (file?.Devices is null || file.Version != FormatVersion)
                return (null, $"{path} is not a version {FormatVersion} decode products cache; it will be replaced");
            return (file, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return (null, $"could not read {path}: {e.Message}");
        }
    }
}
