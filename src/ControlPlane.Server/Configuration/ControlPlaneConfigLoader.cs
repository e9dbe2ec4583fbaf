using ControlPlane.Requests;
using ControlPlane.Models.Chat;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Server.Hosting;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Server.Configuration;

/// <summary>Binds the <c>ControlPlane</c> section and checks it whole, before anything starts.</summary>
public static class ControlPlaneConfigLoader
{
    public static readonly string[] Engines = ["simulated", "torchsharp"];

    /// <summary>Binds and validates; throws <see cref="ConfigurationException"/> listing every bad key.</summary>
    public static ControlPlaneConfig Load(IConfiguration configuration)
    {
        ControlPlaneConfig config;
        try
        {
            config = configuration.GetSection(ControlPlaneConfig.Section).Get<ControlPlaneConfig>(o => o.ErrorOnUnknownConfiguration = true)
                ?? new ControlPlaneConfig();
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}", ex);
        }
        var errors = Validate(config);
        return errors.Count == 0 ? config : throw new ConfigurationException(errors);
    }

    public static IReadOnlyList<string> Validate(ControlPlaneConfig config)
    {
        const string root = ControlPlaneConfig.Section;
        var errors = new List<string>();
        var cluster = config.Cluster;
        if (!Enum.TryParse<ClusterMode>(cluster.Mode, ignoreCase: true, out var mode))
            errors.Add($"{root}:Cluster:Mode '{cluster.Mode}' is not a cluster mode; known: {string.Join(", ", Enum.GetNames<ClusterMode>())}");
        if (mode == ClusterMode.Redis)
        {
            if (string.IsNullOrWhiteSpace(cluster.Redis))
                errors.Add($"{root}:Cluster:Redis is required when {root}:Cluster:Mode is Redis (e.g. 'localhost:6379')");
            else
            {
                try
                {
                    StackExchange.Redis.ConfigurationOptions.Parse(cluster.Redis);
                }
                catch (ArgumentException ex)
                {
                    errors.Add($"{root}:Cluster:Redis '{cluster.Redis}' is not a Redis configuration string: {ex.Message}");
                }
            }
        }
        if (cluster.KubernetesHosting && mode != ClusterMode.Redis)
            errors.Add($"{root}:Cluster:KubernetesHosting needs {root}:Cluster:Mode Redis (membership lives in Redis)");
        if (cluster.SiloPort is < 1 or > 65535)
            errors.Add($"{root}:Cluster:SiloPort must be between 1 and 65535 (got {cluster.SiloPort})");
        if (cluster.GatewayPort is < 0 or > 65535)
            errors.Add($"{root}:Cluster:GatewayPort must be between 0 (no client gateway) and 65535 (got {cluster.GatewayPort})");
        foreach (var role in cluster.RoleNames.Where(r => r is not ("control" or "worker")))
            errors.Add($"{root}:Cluster:Roles names '{role}', which is not a role; known: control, worker");
        if (cluster.RoleNames.Count == 0)
            errors.Add($"{root}:Cluster:Roles is empty: name control, worker or both");
        if (mode == ClusterMode.Embedded && cluster.RoleNames.Distinct().Count() < 2)
            errors.Add($"{root}:Cluster:Roles must be both control and worker in Embedded mode (one process is the whole cluster)");
        if (cluster.PodName is { } pod && (pod.Length == 0 || pod.Contains('/')))
            errors.Add($"{root}:Cluster:PodName '{pod}' must be non-empty and hold no '/' (instance ids are pod/model/index)");
        if (cluster.ProbeTimeout <= TimeSpan.Zero)
            errors.Add($"{root}:Cluster:ProbeTimeout must be positive (got {cluster.ProbeTimeout})");
        if (cluster.MissedProbesLimit < 1)
            errors.Add($"{root}:Cluster:MissedProbesLimit must be at least 1 (got {cluster.MissedProbesLimit})");
        if (config.Worker.DrainTimeout < TimeSpan.Zero)
            errors.Add($"{root}:Worker:DrainTimeout must not be negative (got {config.Worker.DrainTimeout})");
        if (!System.Net.IPAddress.TryParse(cluster.AdvertisedAddress, out _))
            errors.Add($"{root}:Cluster:AdvertisedAddress '{cluster.AdvertisedAddress}' is not an IP address");
        if (cluster.ListenAddress is { Length: > 0 } listen && !System.Net.IPAddress.TryParse(listen, out _))
            errors.Add($"{root}:Cluster:ListenAddress '{listen}' is not an IP address");
        if (cluster.RequestStateTtl <= TimeSpan.Zero)
            errors.Add($"{root}:Cluster:RequestStateTtl must be positive (got {cluster.RequestStateTtl})");

        ValidateAuth(config.Auth, errors);

        var gateway = config.Gateway;
        if (gateway.MaxInFlightRequests < 1)
            errors.Add($"{root}:Gateway:MaxInFlightRequests must be at least 1 (got {gateway.MaxInFlightRequests})");
        if (gateway.DefaultMaxTokens < 1)
            errors.Add($"{root}:Gateway:DefaultMaxTokens must be at least 1 (got {gateway.DefaultMaxTokens})");
        if (gateway.MaxRequestBodyBytes < 1024)
            errors.Add($"{root}:Gateway:MaxRequestBodyBytes must be at least 1024 (got {gateway.MaxRequestBodyBytes})");
        if (gateway.ShutdownGrace < TimeSpan.Zero)
            errors.Add($"{root}:Gateway:ShutdownGrace must not be negative (got {gateway.ShutdownGrace})");
        if (gateway.StallAfter < TimeSpan.Zero || (gateway.StallAfter > TimeSpan.Zero && gateway.StallAfter < TimeSpan.FromMilliseconds(100)))
            errors.Add($"{root}:Gateway:StallAfter must be zero (no check) or at least 00:00:00.1 (got {gateway.StallAfter})");
        if (gateway.MaxPromptChars < 1)
            errors.Add($"{root}:Gateway:MaxPromptChars must be at least 1 (got {gateway.MaxPromptChars})");
        if (gateway.MaxFieldChars < 64)
            errors.Add($"{root}:Gateway:MaxFieldChars must be at least 64 (got {gateway.MaxFieldChars})");
        if (gateway.DispatchAttempts < 1)
            errors.Add($"{root}:Gateway:DispatchAttempts must be at least 1 (got {gateway.DispatchAttempts})");
        if (gateway.RetryAfterSeconds < 1)
            errors.Add($"{root}:Gateway:RetryAfterSeconds must be at least 1 (got {gateway.RetryAfterSeconds})");

        errors.AddRange(DispatchPolicies.Validate(config.Dispatch, $"{root}:Dispatch"));
        errors.AddRange(config.Power.Validate($"{root}:Power"));
        errors.AddRange(config.Migration.Validate($"{root}:Migration"));
        errors.AddRange(config.Disaggregation.Validate($"{root}:Disaggregation"));
        errors.AddRange(config.Autoscale.Validate($"{root}:Autoscale"));
        errors.AddRange(config.KvCache.Validate($"{root}:KvCache"));
        if (config.Worker.KvPort is < -1 or > 65535)
            errors.Add($"{root}:Worker:KvPort must be -1 (none), 0 (any free port) or a port number (got {config.Worker.KvPort})");
        foreach (var (domain, i) in config.Power.Domains.Select((d, i) => (d, i)))
        {
            foreach (var model in domain.Models.Where(m => config.Models.All(c => c.Name != m)))
                errors.Add($"{root}:Power:Domains:{i}:Models names '{model}', which is not a served model");
        }
        if (config.Models.Count == 0)
            errors.Add($"{root}:Models is empty: name at least one model to serve");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Models.Count; i++)
            ValidateModel(config.Models[i], $"{root}:Models:{i}", names, errors);
        return errors;
    }

    private static void ValidatePriorityClasses(IReadOnlyList<PriorityClassConfig> classes, string key, List<string> errors)
    {
        if (classes.Count > PriorityClass.MaxPerModel)
            errors.Add($"{key} holds {classes.Count} classes; at most {PriorityClass.MaxPerModel}");
        if (classes.Count(c => c.Default) > 1)
            errors.Add($"{key} marks {classes.Count(c => c.Default)} classes Default; at most one");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < classes.Count; i++)
        {
            var c = classes[i];
            if (string.IsNullOrWhiteSpace(c.Name))
                errors.Add($"{key}:{i}:Name is required");
            else if (!names.Add(c.Name))
                errors.Add($"{key}:{i}:Name '{c.Name}' is defined twice");
            if (PriorityClass.ParseServiceClass(c.ServiceClass) is null)
                errors.Add($"{key}:{i}:ServiceClass '{c.ServiceClass}' is not a service class; known: interactive, standard, batch");
            if (c.Priority is < PriorityClass.MinPriority or > PriorityClass.MaxPriority)
                errors.Add($"{key}:{i}:Priority must be from {PriorityClass.MinPriority} to {PriorityClass.MaxPriority} (got {c.Priority})");
        }
    }

    private static void ValidateModel(ModelConfig model, string key, HashSet<string> names, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(model.Name))
            errors.Add($"{key}:Name is required");
        else if (!names.Add(model.Name))
            errors.Add($"{key}:Name '{model.Name}' is served twice");
        if (!Engines.Contains(model.Engine))
            errors.Add($"{key}:Engine '{model.Engine}' is not an engine of this build; known: {string.Join(", ", Engines)}");
        if (model.Instances < 0)
            errors.Add($"{key}:Instances must be 0 or more (got {model.Instances})");
        if (ModelConfig.ParseRole(model.Role) is null)
            errors.Add($"{key}:Role '{model.Role}' is not a role; known: mixed, prefill, decode");
        for (var r = 0; r < model.Roles.Count; r++)
        {
            if (ModelConfig.ParseRole(model.Roles[r]) is null)
                errors.Add($"{key}:Roles:{r} '{model.Roles[r]}' is not a role; known: mixed, prefill, decode");
        }
        if (model.DispatchPolicy is { } policy && !DispatchPolicies.Presets.ContainsKey(policy))
            errors.Add($"{key}:DispatchPolicy '{policy}' is not a dispatch policy; known: {string.Join(", ", DispatchPolicies.Presets.Keys)}");
        if (model.DispatchQueueLimit is < 1)
            errors.Add($"{key}:DispatchQueueLimit must be at least 1 (got {model.DispatchQueueLimit})");
        ValidatePriorityClasses(model.PriorityClasses, $"{key}:PriorityClasses", errors);
        if (!ChatTemplates.Known.Contains(model.ChatTemplate))
            errors.Add($"{key}:ChatTemplate '{model.ChatTemplate}' is not a chat template; known: {string.Join(", ", ChatTemplates.Known)}");
        if (model.MaxContextTokens is < 16)
            errors.Add($"{key}:MaxContextTokens must be at least 16 (got {model.MaxContextTokens})");
        if (model.MaxBatchedTokens is < 16)
            errors.Add($"{key}:MaxBatchedTokens must be at least 16 (got {model.MaxBatchedTokens})");
        if (model.KvBlocks is < 1)
            errors.Add($"{key}:KvBlocks must be at least 1 (got {model.KvBlocks})");
        if (model.Engine == "torchsharp")
        {
            if (string.IsNullOrWhiteSpace(model.Path))
                errors.Add($"{key}:Path is required for the torchsharp engine (a Hugging Face model folder, or builtin:tiny-random)");
            else if (model.Path != ModelFolders.TinyRandom && !Directory.Exists(model.Path))
                errors.Add($"{key}:Path '{model.Path}' is not a folder");
            if (model.Device is not ("cpu" or "cuda"))
                errors.Add($"{key}:Device '{model.Device}' is not cpu or cuda");
            if (model.HostKvCacheMiB < 0)
                errors.Add($"{key}:HostKvCacheMiB must not be negative (got {model.HostKvCacheMiB})");
            if (model.KvCacheMiB < 1)
                errors.Add($"{key}:KvCacheMiB must be at least 1 (got {model.KvCacheMiB})");
        }
        if (model.PowerActuator is not ("none" or "nvml"))
            errors.Add($"{key}:PowerActuator '{model.PowerActuator}' is not none or nvml");
        else if (model.PowerActuator == "nvml" && !(model.Engine == "torchsharp" && model.Device == "cuda" && model.Instances == 1))
            errors.Add($"{key}:PowerActuator 'nvml' needs the torchsharp engine on cuda with one instance (the cap is the whole GPU's)");
        try
        {
            PerformanceProfile.Load(model.Profile);
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            errors.Add($"{key}:Profile: {ex.Message}");
        }
    }

    private static void ValidateAuth(AuthConfig auth, List<string> errors)
    {
        const string at = ControlPlaneConfig.Section + ":Auth";
        if (!string.Equals(auth.Mode, AuthConfig.OpenMode, StringComparison.OrdinalIgnoreCase) && !string.Equals(auth.Mode, AuthConfig.KeysMode, StringComparison.OrdinalIgnoreCase))
            errors.Add($"{at}:Mode '{auth.Mode}' is not a mode; known: {AuthConfig.OpenMode}, {AuthConfig.KeysMode}");
        var tenants = auth.Tenants.ToList();
        if (auth.TenantsFile is { Length: > 0 } file)
        {
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
                tenants.AddRange(System.Text.Json.JsonSerializer.Deserialize<List<TenantConfig>>(json.RootElement.GetProperty("Tenants")) ?? []);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
            {
                errors.Add($"{at}:TenantsFile '{file}' is not a readable JSON file with a Tenants array: {ex.Message}");
            }
        }
        if (string.Equals(auth.Mode, AuthConfig.KeysMode, StringComparison.OrdinalIgnoreCase) && tenants.Count == 0)
            errors.Add($"{at}:Mode is Keys but no tenant is configured ({at}:Tenants or {at}:TenantsFile): nobody could call the gateway");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (tenant, i) in tenants.Select((t, i) => (t, i)).Append((auth.Anonymous, -1)))
        {
            var where = i < 0 ? $"{at}:Anonymous" : $"{at}:Tenants:{i} ('{tenant.Name}')";
            if (string.IsNullOrWhiteSpace(tenant.Name))
                errors.Add($"{where}:Name is required");
            else if (i >= 0 && !names.Add(tenant.Name))
                errors.Add($"{where}:Name is used by another tenant");
            if (Gateway.Tenants.TenantDirectory.ParseTier(tenant.MaxServiceTier) is null)
                errors.Add($"{where}:MaxServiceTier '{tenant.MaxServiceTier}' is not a tier; known: flex, default, priority");
            if (tenant.RequestsPerMinute < 0 || tenant.TokensPerMinute < 0 || tenant.MaxConcurrentRequests < 0)
                errors.Add($"{where}: RequestsPerMinute, TokensPerMinute and MaxConcurrentRequests must not be negative (0 is no limit)");
            if (!(tenant.Weight > 0))
                errors.Add($"{where}:Weight must be positive (got {tenant.Weight})");
            foreach (var hash in tenant.KeyHashes)
            {
                if (!IsKeyHash(hash))
                    errors.Add($"{where}:KeyHashes holds '{Gateway.Fields.Quote(hash, 16)}', which is not 'sha256:' and 64 hex digits (printf %s \"$KEY\" | sha256sum)");
                else if (!hashes.Add(hash.Trim()[^64..]))
                    errors.Add($"{where}:KeyHashes holds a key another tenant also has");
            }
        }
        foreach (var hash in auth.AdminKeyHashes.Where(h => !IsKeyHash(h)))
            errors.Add($"{at}:AdminKeyHashes holds '{Gateway.Fields.Quote(hash, 16)}', which is not 'sha256:' and 64 hex digits");
    }

    private static bool IsKeyHash(string hash)
    {
        var h = hash.Trim();
        if (h.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
            h = h[7..];
        return h.Length == 64 && h.All(char.IsAsciiHexDigit);
    }
}
