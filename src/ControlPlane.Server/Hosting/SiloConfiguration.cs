using System.Net;
using ControlPlane.Grains.Requests;
using ControlPlane.Server.Configuration;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// Configures the Orleans silo for the cluster mode the configuration names. Grain state is stored with
/// Orleans' own version-tolerant binary serializer (the <c>[Id]</c>s of the state types), not JSON.
/// </summary>
public static class SiloConfiguration
{
    public const string RolesMetadataKey = "controlplane.roles";
    public const string PodMetadataKey = "controlplane.pod";

    public static void Configure(ISiloBuilder silo, ClusterConfig cluster)
    {
        var pod = cluster.ResolvePodName();
        silo.Configure<SiloOptions>(o => o.SiloName = pod);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = cluster.ProbeTimeout;
            o.NumMissedProbesLimit = cluster.MissedProbesLimit;
        });
        // What each silo is, for anyone who looks at the cluster (placement itself follows the grain classes a silo offers).
        silo.UseSiloMetadata(new Dictionary<string, string>
        {
            [RolesMetadataKey] = string.Join(',', cluster.RoleNames),
            [PodMetadataKey] = pod,
        });
        var mode = Enum.Parse<ClusterMode>(cluster.Mode, ignoreCase: true);
        if (mode == ClusterMode.Embedded)
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            // Bounded like Redis is by its TTL: Orleans' memory storage would keep every request's state forever.
            silo.Services.AddKeyedSingleton<IGrainStorage>(RequestGrain.StorageName, (sp, _) => new ExpiringMemoryGrainStorage(
                new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()), sp.GetRequiredService<TimeProvider>(),
                cluster.RequestStateTtl, cluster.RequestStateMaxEntries));
            return;
        }

        var redis = StackExchange.Redis.ConfigurationOptions.Parse(cluster.Redis!);
        if (cluster.KubernetesHosting)
        {
            // Cluster and service ids, pod address and ports come from the pod (ORLEANS_CLUSTER_ID, POD_IP, ...).
            silo.UseKubernetesHosting();
        }
        else
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
        }
        // Listen on the address other silos reach this one at (the pod's), not on every interface, unless told to.
        silo.Services.PostConfigure<EndpointOptions>(o =>
        {
            var listen = cluster.ListenAddress is { Length: > 0 } named ? IPAddress.Parse(named) : o.AdvertisedIPAddress;
            if (listen is null)
                return;
            o.SiloListeningEndpoint = new IPEndPoint(listen, o.SiloPort);
            o.GatewayListeningEndpoint = o.GatewayPort > 0 ? new IPEndPoint(listen, o.GatewayPort) : null;
        });
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
        silo.AddRedisGrainStorage(RequestGrain.StorageName, o =>
        {
            o.ConfigurationOptions = redis.Clone();
            // A request's state outlives its end by this much, then Redis drops it (each write renews it).
            o.EntryExpiry = cluster.RequestStateTtl;
        });
        silo.Services.AddOptions<RedisStorageOptions>(RequestGrain.StorageName)
            .Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
    }
}
