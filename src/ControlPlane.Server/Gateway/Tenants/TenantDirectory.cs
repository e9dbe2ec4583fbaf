using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ControlPlane.Requests;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Gateway.Tenants;

/// <summary>
/// The tenants this gateway knows, by the SHA-256 hash of their keys, and who a caller is: a key from
/// <c>Authorization: Bearer</c> (OpenAI's convention), or no key in Open mode (the anonymous tenant).
/// </summary>
public sealed class TenantDirectory
{
    private readonly Dictionary<string, Tenant> _byHash = new(StringComparer.Ordinal);
    private readonly HashSet<string> _adminHashes;
    private readonly Tenant? _anonymous;

    public TenantDirectory(AuthConfig config, TimeProvider time)
    {
        var tenants = config.Tenants.Concat(ReadFile(config.TenantsFile)).ToList();
        foreach (var tenant in tenants)
        {
            var t = new Tenant(tenant, ParseTier(tenant.MaxServiceTier) ?? ServiceClass.Standard, time);
            All.Add(t);
            foreach (var hash in tenant.KeyHashes)
                _byHash[NormalizeHash(hash)] = t;
        }
        _adminHashes = [.. config.AdminKeyHashes.Select(NormalizeHash)];
        if (string.Equals(config.Mode, AuthConfig.OpenMode, StringComparison.OrdinalIgnoreCase))
        {
            _anonymous = new Tenant(config.Anonymous, ParseTier(config.Anonymous.MaxServiceTier) ?? ServiceClass.Standard, time);
            All.Add(_anonymous);
        }
    }

    public List<Tenant> All { get; } = [];

    public bool Open => _anonymous is not null;

    public bool HasAdminKeys => _adminHashes.Count > 0;

    /// <summary>The caller's tenant; outside Open mode a missing or unknown key is a 401 (in Open mode it is the anonymous tenant).</summary>
    public Tenant Authenticate(HttpRequest request)
    {
        var key = BearerKey(request);
        if (key is null)
        {
            return _anonymous ?? throw new ApiErrorException(new ApiError(StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. Pass it in the Authorization header: 'Authorization: Bearer YOUR_KEY'.",
                "invalid_request_error", null, "missing_api_key"));
        }
        if (_byHash.TryGetValue(Hash(key), out var tenant))
            return tenant;
        // Open mode: an unknown key is no key (OpenAI clients always send one; "EMPTY" is the usual stand-in).
        return _anonymous ?? throw new ApiErrorException(new ApiError(StatusCodes.Status401Unauthorized,
                $"Incorrect API key provided: {Redact(key)}.", "invalid_request_error", null, "invalid_api_key"));
    }

    /// <summary>
    /// Whether a caller may use <c>/admin</c>, and who it is for the log: an admin key when any is configured; else only
    /// a loopback caller, and never a browser page of another origin (which could otherwise drive it from any site).
    /// </summary>
    public (bool Allowed, int Status, string Caller, string Reason) AuthorizeAdmin(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        var from = remote is null ? "unknown" : remote.ToString();
        if (_adminHashes.Count > 0)
        {
            var key = BearerKey(context.Request);
            if (key is null)
                return (false, StatusCodes.Status401Unauthorized, from, "an admin key is required: 'Authorization: Bearer ADMIN_KEY'");
            var hash = Hash(key);
            return _adminHashes.Contains(hash)
                ? (true, StatusCodes.Status200OK, $"admin key {hash[7..19]} from {from}", "")
                : (false, StatusCodes.Status403Forbidden, from, "this key may not use the admin endpoints");
        }
        if (remote is null || !IPAddress.IsLoopback(remote))
            return (false, StatusCodes.Status403Forbidden, from, "without a configured admin key (ControlPlane:Auth:AdminKeyHashes) admin calls are taken from loopback only");
        if (context.Request.Headers.Origin is { Count: > 0 } origin && !SameOrigin(origin.ToString(), context.Request))
            return (false, StatusCodes.Status403Forbidden, from, $"a cross-origin call (Origin {Fields.Quote(origin.ToString())}) may not use the admin endpoints");
        return (true, StatusCodes.Status200OK, $"loopback {from}", "");
    }

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static string? BearerKey(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
            return null;
        const string scheme = "Bearer ";
        var key = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
        return key.Length > 0 ? key : throw new ApiErrorException(new ApiError(StatusCodes.Status401Unauthorized,
            "The Authorization header must be 'Bearer YOUR_KEY'.", "invalid_request_error", null, "invalid_api_key"));
    }

    /// <summary>A key's stored form: <c>sha256:</c> and the hex digest of its UTF-8 bytes.</summary>
    public static string Hash(string key) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static string NormalizeHash(string hash)
    {
        var h = hash.Trim().ToLowerInvariant();
        return h.StartsWith("sha256:", StringComparison.Ordinal) ? h : "sha256:" + h;
    }

    /// <summary>A key as OpenAI quotes a wrong one: its start and end only.</summary>
    private static string Redact(string key) => key.Length <= 8 ? "****" : string.Concat(key.AsSpan(0, 3), "****", key.AsSpan(key.Length - 4));

    public static ServiceClass? ParseTier(string tier) => tier.ToLowerInvariant() switch
    {
        "priority" or "interactive" => ServiceClass.Interactive,
        "default" or "standard" or "auto" or "scale" => ServiceClass.Standard,
        "flex" or "batch" => ServiceClass.Batch,
        _ => null,
    };

    public static string TierName(ServiceClass c) => c switch
    {
        ServiceClass.Interactive => "priority",
        ServiceClass.Batch => "flex",
        _ => "default",
    };

    private static List<TenantConfig> ReadFile(string? path)
    {
        if (string.IsNullOrEmpty(path))
            return [];
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        return json.RootElement.GetProperty("Tenants").Deserialize<List<TenantConfig>>() ?? [];
    }
}
