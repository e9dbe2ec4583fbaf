namespace ControlPlane.Grains.Cluster;

/// <summary>
/// Turns Orleans' membership snapshots into departures: each silo that is declared dead is reported once.
/// Silos already dead in the first snapshot (earlier incarnations of pods) are not reported.
/// </summary>
public sealed class SiloDepartures
{
    private readonly HashSet<SiloAddress> _reported = [];
    private bool _primed;

    public IReadOnlyList<ClusterMember> Observe(ClusterMembershipSnapshot snapshot)
    {
        var departed = new List<ClusterMember>();
        foreach (var (silo, member) in snapshot.Members)
        {
            if (member.Status != SiloStatus.Dead || !_reported.Add(silo))
                continue;
            if (_primed)
                departed.Add(member);
        }
        _primed = true;
        return departed;
    }
}
