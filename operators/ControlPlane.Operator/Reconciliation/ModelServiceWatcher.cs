using System.Text.Json;
using ControlPlane.Operator.Resources;
using k8s;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Watches ModelServices and reconciles the one that changed at once, instead of at the next periodic pass.
/// It only triggers: what the reconciler does never depends on the event's type. A broken watch restarts.
/// </summary>
public sealed class ModelServiceWatcher(IKubernetes client, ModelServiceReconciler reconciler, TextWriter log)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var (_, item) in client.CustomObjects.WatchListClusterCustomObjectAsync(
                    ModelService.Group, ModelService.Version, ModelService.Plural, cancellationToken: cancellationToken))
                {
                    var (ns, name) = Identity(item);
                    if (name is null)
                        continue;
                    try
                    {
                        await reconciler.ReconcileAsync(ns!, name, cancellationToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        await log.WriteLineAsync($"reconcile {ns}/{name} after a change failed, the periodic pass will retry: {ex.Message}");
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await log.WriteLineAsync($"watching ModelServices failed, restarting the watch: {ex.Message}");
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static (string? Namespace, string? Name) Identity(object item)
    {
        var json = item is JsonElement element ? element : JsonSerializer.SerializeToElement(item);
        return json.TryGetProperty("metadata", out var meta)
            ? (meta.TryGetProperty("namespace", out var ns) ? ns.GetString() : null, meta.TryGetProperty("name", out var n) ? n.GetString() : null)
            : (null, null);
    }
}
