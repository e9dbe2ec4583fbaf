using ControlPlane.KvCache;

namespace ControlPlane.Grains.Engines;

/// <summary>An item of <see cref="EngineRunner.KvFeed"/>: a step's events, or (<see cref="Holdings"/>) everything the engine holds.</summary>
public sealed record KvFeedItem(bool Holdings, IReadOnlyList<KvEvent> Events);
