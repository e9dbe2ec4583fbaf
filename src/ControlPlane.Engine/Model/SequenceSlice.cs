namespace ControlPlane.Engine.Model;

/// <summary>
/// One sequence's part of a forward batch: its new tokens are rows <see cref="QueryStart"/>.. of the batch,
/// at positions <c>ContextLength − QueryLength</c>..; <see cref="ContextSlots"/> are the cache slots of all
/// its tokens so far (the new ones included).
/// </summary>
public sealed record SequenceSlice(int QueryStart, int QueryLength, int ContextLength, long[] ContextSlots, bool WantLogits);
