using ControlPlane.Operator.Reconciliation;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;

// The operator: in the cluster (service account) or from a kubeconfig; one active replica by leader election.
var config = KubernetesClientConfiguration.IsInCluster()
    ? KubernetesClientConfiguration.InClusterConfig()
    : KubernetesClientConfiguration.BuildConfigFromConfigFile();
using var client = new Kubernetes(config);
var gateway = Environment.GetEnvironmentVariable("ControlPlane__Gateway") ?? "http://localhost:8080";
using var http = new HttpClient { BaseAddress = new Uri(gateway.TrimEnd('/') + "/") };
// The gateway's /admin endpoints need the admin key the chart generates (its Secret's admin-key).
if (Environment.GetEnvironmentVariable("ControlPlane__AdminKey") is { Length: > 0 } adminKey)
    http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", adminKey);
using var reconciler = new ModelServiceReconciler(client, new HttpDrainClient(http), TimeProvider.System, WorkerCluster.FromEnvironment(), new HttpAutoscaleClient(http));
var loop = new OperatorLoop(reconciler, Environment.GetEnvironmentVariable("WATCH_NAMESPACE"), Console.Out,
    new PowerBudgetReconciler(client, TimeProvider.System, new HttpPowerStatusClient(http)));

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
var identity = Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName;
var lockNamespace = Environment.GetEnvironmentVariable("POD_NAMESPACE") ?? "default";
var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(client, lockNamespace, "controlplane-operator", identity))
{
    LeaseDuration = TimeSpan.FromSeconds(15),
    RenewDeadline = TimeSpan.FromSeconds(10),
    RetryPeriod = TimeSpan.FromSeconds(2),
});
using var leading = new CancellationTokenSource();
var watcher = new ModelServiceWatcher(client, reconciler, Console.Out);
elector.OnStartedLeading += () =>
{
    var token = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, leading.Token).Token;
    _ = loop.RunAsync(token);      // every resource, every period: the level-based backstop
    _ = watcher.RunAsync(token);   // the changed resource, at once
};
elector.OnStoppedLeading += () => leading.Cancel();
Console.WriteLine($"controlplane-operator {identity}: waiting for the lease in {lockNamespace}");
await elector.RunAndTryToHoldLeadershipForeverAsync(stop.Token);
return 0;
