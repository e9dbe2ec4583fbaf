using System.Net;
using ControlPlane.Grains.Requests;
using ControlPlane.Server.Configuration;
using Orleans.Configuration;
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
    public static void Configure(ISiloBuilder silo, ClusterConfig cluster)
    {
        var mode = Enum.Parse<ClusterMode>(cluster.Mode, ignoreCase: true);
        if (mode == ClusterMode.Embedded)
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            silo.AddMemoryGrainStorage(RequestGrain.StorageName);
            silo.Services.AddOptions<MemoryGrainStorageOptions>(RequestGrain.StorageName)
                .Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
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
            silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
        }
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
        silo.AddRedisGrainStorage(RequestGrain.StorageName, o => o.ConfigurationOptions = redis.Clone());
        silo.Services.AddOptions<RedisStorageOptions>(RequestGrain.StorageName)
            .Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
    }
}
