namespace ControlPlane.Engine.Core.KvCache;

/// <summary>An entry of an array threaded by <see cref="LruOrder"/>: the indices of its neighbours in the order.</summary>
internal interface ILruLinked
{
    int Previous { get; set; }
    int Next { get; set; }
}

/// <summary>
/// A least-recently-used order threaded through an array of entries (no allocation per entry), as the block pool's
/// cache and the host tier keep theirs: the oldest entry, the newest, and the links stored in the entries themselves.
/// </summary>
internal struct LruOrder()
{
    public const int None = -1;

    public int Oldest { get; private set; } = None;
    public int Newest { get; private set; } = None;

    /// <summary>Makes entry <paramref name="i"/> the newest.</summary>
    public void Append<T>(T[] entries, int i) where T : struct, ILruLinked
    {
        entries[i].Previous = Newest;
        entries[i].Next = None;
        if (Newest != None)
            entries[Newest].Next = i;
        else
            Oldest = i;
        Newest = i;
    }

    /// <summary>Takes entry <paramref name="i"/> out of the order.</summary>
    public void Unlink<T>(T[] entries, int i) where T : struct, ILruLinked
    {
        var previous = entries[i].Previous;
        var next = entries[i].Next;
        if (previous != None)
            entries[previous].Next = next;
        else
            Oldest = next;
        if (next != None)
            entries[next].Previous = previous;
        else
            Newest = previous;
    }
}
