using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Operator.Tests;

/// <summary>
/// An in-process Kubernetes API server over real HTTP, enough for the kinds the operator uses: get, list
/// (with label selectors), watch (ADDED for what exists, then every change), create, replace, status replace,
/// merge patch, delete with finalizers (a deletion timestamp until the last finalizer goes) and
/// owner-reference garbage collection. resourceVersion and generation move as on a real server.
/// </summary>
public sealed class FakeApiServer : IAsyncDisposable
{
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _version = 1;
    private WebApplication? _app;
    private readonly List<(string Prefix, System.Threading.Channels.Channel<JsonObject> Events)> _watchers = [];

    public Uri Address { get; private set; } = null!;
    public List<string> Requests { get; } = [];

    public static async Task<FakeApiServer> StartAsync()
    {
        var server = new FakeApiServer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server._app = app;
        server.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    /// <summary>Puts an object straight into the store (what the cluster's own controllers would do).</summary>
    public void Put(string group, string resource, string ns, JsonObject obj)
    {
        lock (_gate)
        {
            var meta = obj["metadata"]!.AsObject();
            meta["namespace"] = ns;
            meta["uid"] ??= Guid.NewGuid().ToString();
            meta["resourceVersion"] = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var key = Key(group, resource, ns, meta["name"]!.GetValue<string>());
            var type = _objects.ContainsKey(key) ? "MODIFIED" : "ADDED";
            _objects[key] = obj;
            Notify(key, type, obj);
        }
    }

    private void Notify(string key, string type, JsonObject obj)
    {
        foreach (var (prefix, events) in _watchers)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                events.Writer.TryWrite(new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() });
        }
    }

    public JsonObject? Get(string group, string resource, string ns, string name)
    {
        lock (_gate)
            return _objects.TryGetValue(Key(group, resource, ns, name), out var o) ? (JsonObject)o.DeepClone() : null;
    }

    public IReadOnlyList<JsonObject> List(string group, string resource, string ns)
    {
        lock (_gate)
            return [.. _objects.Where(p => p.Key.StartsWith($"{group}/{resource}/{ns}/", StringComparison.Ordinal)).Select(p => (JsonObject)p.Value.DeepClone())];
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }

    private static string Key(string group, string resource, string ns, string name) => $"{group}/{resource}/{ns}/{name}";

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!.Trim('/').Split('/');
        lock (_gate)
            Requests.Add($"{context.Request.Method} {context.Request.Path}");
        // /api/v1/... or /apis/{group}/{version}/...
        var (group, rest) = path[0] == "api" ? ("", path[2..]) : (path[1], path[3..]);
        string? ns = null;
        if (rest.Length >= 2 && rest[0] == "namespaces")
        {
            ns = rest[1];
            rest = rest[2..];
        }
        var resource = rest[0];
        var name = rest.Length > 1 ? rest[1] : null;
        var status = rest.Length > 2 && rest[2] == "status";
        var scale = rest.Length > 2 && rest[2] == "scale";
        JsonObject? body = null;
        if (context.Request.ContentLength is > 0 || context.Request.Method is "POST" or "PUT" or "PATCH")
            body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonObject;

        if (name is null && context.Request.Method == "GET" && context.Request.Query["watch"] == "true")
        {
            await WatchAsync(context, $"{group}/{resource}/{(ns is null ? "" : ns + "/")}");
            return;
        }
        var (code, response) = scale
            ? HandleScale(context.Request.Method, group, resource, ns!, name!, body)
            : Handle(context.Request.Method, group, resource, ns, name, status, body, context.Request.Query["labelSelector"].ToString());
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(response.ToJsonString());
    }

    /// <summary>A watch: the matching objects as ADDED, then every change, one JSON event a line, until the client leaves.</summary>
    private async Task WatchAsync(HttpContext context, string prefix)
    {
        var events = System.Threading.Channels.Channel.CreateUnbounded<JsonObject>();
        lock (_gate)
        {
            foreach (var (key, obj) in _objects.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)))
                events.Writer.TryWrite(new JsonObject { ["type"] = "ADDED", ["object"] = obj.DeepClone() });
            _watchers.Add((prefix, events));
        }
        context.Response.ContentType = "application/json";
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(e.ToJsonString() + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_gate)
                _watchers.RemoveAll(w => w.Events == events);
        }
    }

    /// <summary>
    /// The scale subresource (autoscaling/v1 Scale), for ModelServices as their CRD declares it: spec replicas at
    /// <c>.spec.pools.mixed.replicas</c>, status replicas at <c>.status.replicas</c>, selector at <c>.status.selector</c>.
    /// </summary>
    private (int, JsonNode) HandleScale(string method, string group, string resource, string ns, string name, JsonObject? body)
    {
        if (resource != "modelservices")
            return (404, Error(404, "NotFound", $"{resource} has no scale subresource here"));
        lock (_gate)
        {
            var key = Key(group, resource, ns, name);
            if (!_objects.TryGetValue(key, out var current))
                return (404, Error(404, "NotFound", $"{resource} \"{name}\" not found"));
            if (method is "PATCH" or "PUT")
            {
                if (body?["spec"]?["replicas"] is not { } replicas)
                    return (422, Error(422, "Invalid", "spec.replicas is required"));
                var next = (JsonObject)current.DeepClone();
                var spec = next["spec"] as JsonObject ?? new JsonObject();
                next["spec"] = spec;
                var pools = spec["pools"] as JsonObject ?? new JsonObject();
                spec["pools"] = pools;
                var mixed = pools["mixed"] as JsonObject ?? new JsonObject();
                pools["mixed"] = mixed;
                mixed["replicas"] = replicas.DeepClone();
                next["metadata"]!["generation"] = Number(current["metadata"]!["generation"]) + 1;
                current = Store(key, next);
            }
            else if (method != "GET")
            {
                return (405, Error(405, "MethodNotAllowed", method));
            }
            return (200, new JsonObject
            {
                ["kind"] = "Scale",
                ["apiVersion"] = "autoscaling/v1",
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone() },
                ["spec"] = new JsonObject { ["replicas"] = current["spec"]?["pools"]?["mixed"]?["replicas"]?.DeepClone() ?? 0 },
                ["status"] = new JsonObject { ["replicas"] = current["status"]?["replicas"]?.DeepClone() ?? 0, ["selector"] = current["status"]?["selector"]?.DeepClone() },
            });
        }
    }

    private (int, JsonNode) Handle(string method, string group, string resource, string? ns, string? name, bool status, JsonObject? body, string selector)
    {
        lock (_gate)
        {
            if (name is null && method == "GET")
                return (200, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["metadata"] = new JsonObject { ["resourceVersion"] = _version.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    ["items"] = new JsonArray([.. _objects.Where(p => p.Key.StartsWith($"{group}/{resource}/{(ns is null ? "" : ns + "/")}", StringComparison.Ordinal) || (ns is null && p.Key.StartsWith($"{group}/{resource}/", StringComparison.Ordinal)))
                        .Select(p => p.Value).Where(o => Matches(o, selector)).Select(o => o.DeepClone())]) });
            if (name is null && method == "POST")
            {
                var meta = body!["metadata"]!.AsObject();
                var newName = meta["name"]?.GetValue<string>() ?? meta["generateName"]!.GetValue<string>() + Guid.NewGuid().ToString("N")[..5];
                if (_objects.ContainsKey(Key(group, resource, ns!, newName)))
                    return (409, Error(409, "AlreadyExists", $"{resource} \"{newName}\" already exists"));
                meta["name"] = newName;
                meta["namespace"] = ns;
                meta["uid"] = Guid.NewGuid().ToString();
                meta["generation"] = 1;
                meta["creationTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
                meta["resourceVersion"] = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
                _objects[Key(group, resource, ns!, newName)] = body;
                Notify(Key(group, resource, ns!, newName), "ADDED", body);
                return (201, body.DeepClone());
            }
            var key = Key(group, resource, ns!, name!);
            if (!_objects.TryGetValue(key, out var current))
                return (404, Error(404, "NotFound", $"{resource} \"{name}\" not found"));
            switch (method)
            {
                case "GET":
                    return (200, current.DeepClone());
                case "PUT":
                    {
                        var sent = body!["metadata"]?["resourceVersion"]?.GetValue<string>();
                        if (sent is not null && sent != current["metadata"]!["resourceVersion"]!.GetValue<string>())
                            return (409, Error(409, "Conflict", "the object has been modified"));
                        var next = (JsonObject)current.DeepClone();
                        if (status)
                            next["status"] = body["status"]?.DeepClone();
                        else
                        {
                            if (!JsonNode.DeepEquals(current["spec"], body["spec"]))
                                next["metadata"]!["generation"] = Number(current["metadata"]!["generation"]) + 1;
                            // Everything but metadata and status comes from the body (spec, data, ...).
                            foreach (var (field, value) in body.Where(p => p.Key is not ("metadata" or "status")).ToArray())
                                next[field] = value?.DeepClone();
                            foreach (var field in new[] { "labels", "annotations", "ownerReferences", "finalizers" })
                                next["metadata"]![field] = body["metadata"]?[field]?.DeepClone();
                        }
                        return (200, Store(key, next));
                    }
                case "PATCH":
                    {
                        var next = (JsonObject)current.DeepClone();
                        MergePatch(next, body!);
                        if (!JsonNode.DeepEquals(current["spec"], next["spec"]))
                            next["metadata"]!["generation"] = Number(current["metadata"]!["generation"]) + 1;
                        if (next["metadata"]!["deletionTimestamp"] is not null && (next["metadata"]!["finalizers"] as JsonArray ?? []).Count == 0)
                        {
                            Remove(key, next);
                            return (200, next);
                        }
                        return (200, Store(key, next));
                    }
                case "DELETE":
                    if ((current["metadata"]!["finalizers"] as JsonArray ?? []).Count > 0)
                    {
                        current["metadata"]!["deletionTimestamp"] ??= DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
                        return (200, Store(key, current));
                    }
                    Remove(key, current);
                    // As the real API server documents it: a deleted Service comes back whole, most kinds answer a Status.
                    return (200, group == "" && resource == "services"
                        ? current.DeepClone()
                        : new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success" });
                default:
                    return (405, Error(405, "MethodNotAllowed", method));
            }
        }
    }

    private JsonObject Store(string key, JsonObject obj)
    {
        obj["metadata"]!["resourceVersion"] = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var type = _objects.ContainsKey(key) ? "MODIFIED" : "ADDED";
        _objects[key] = obj;
        Notify(key, type, obj);
        return (JsonObject)obj.DeepClone();
    }

    /// <summary>Removes an object and, as the garbage collector would, everything it owns.</summary>
    private void Remove(string key, JsonObject obj)
    {
        _objects.Remove(key);
        Notify(key, "DELETED", obj);
        var uid = obj["metadata"]!["uid"]!.GetValue<string>();
        foreach (var (k, o) in _objects.Where(p => (p.Value["metadata"]!["ownerReferences"] as JsonArray ?? []).Any(r => r!["uid"]?.GetValue<string>() == uid)).ToArray())
            Remove(k, o);
    }

    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (k, v) in patch)
        {
            if (v is null)
                target.Remove(k);
            else if (v is JsonObject po && target[k] is JsonObject to)
                MergePatch(to, po);
            else
                target[k] = v.DeepClone();
        }
    }

    private static bool Matches(JsonObject obj, string selector)
    {
        if (string.IsNullOrEmpty(selector))
            return true;
        var labels = obj["metadata"]?["labels"] as JsonObject;
        return selector.Split(',').All(term =>
        {
            var kv = term.Split('=', 2);
            return labels?[kv[0]]?.GetValue<string>() == kv[1];
        });
    }

    private static long Number(JsonNode? node) => node is null ? 0 : long.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static JsonObject Error(int code, string reason, string message) =>
        new() { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["reason"] = reason, ["message"] = message, ["code"] = code };
}
